# Copyright 2026 The HuggingFace Team. All rights reserved.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""
Asynchronous saves (`save_async`): the same checkpoints as a synchronous save, complete (with `trainer_state.json`)
once every file is written; `on_save` then, with the checkpoint's state, or at the saved step for callbacks from
outside transformers.

The background writer is held with events (`HeldWriter`) and time is a fake clock, never sleeps; the kill tests run a
job in a child process that SIGKILLs itself at a named point of an asynchronous save, then resume it in a fresh one.
"""

import errno
import gc
import json
import os
import signal
import threading
import time
import unittest
import weakref
from concurrent import futures
from unittest import mock

from parameterized import parameterized

from transformers import (
    DefaultFlowCallback,
    HfArgumentParser,
    Trainer,
    TrainerCallback,
    TrainerControl,
    TrainingArguments,
    is_torch_available,
)
from transformers.testing_utils import CaptureLogger, LoggingLevel, TestCasePlus, require_peft, require_torch
from transformers.trainer_callback import TrainerState
from transformers.trainer_jit_checkpoint import CheckpointManager, JITCheckpointCallback
from transformers.trainer_time_budget import TimeBudgetCallback
from transformers.trainer_utils import get_last_checkpoint
from transformers.utils import logging

from .test_trainer_checkpoint_resume import (
    RandomTokens,
    checkpoint_folders,
    read_result,
    run_in_fresh_process,
    tiny_model,
    train_tiny_model,
)
from .time_strategy_testing import FakeClock, patch_clock


if is_torch_available():
    import safetensors.torch
    import torch

    import transformers.modeling_utils
    import transformers.trainer
    import transformers.trainer_async_save
    from transformers import LlamaForCausalLM

CHECKPOINT_FILES = ["config.json", "generation_config.json", "model.safetensors", "optimizer.pt", "rng_state.pth"]
CHECKPOINT_FILES += ["scheduler.pt", "trainer_state.json", "training_args.bin"]


def make_trainer(output_dir, max_steps=4, callbacks=(), model=None, trainer_class=Trainer, **kwargs):
    """A tiny Llama saving every 2 steps in the background."""
    kwargs = {"save_steps": 2, "report_to": [], "disable_tqdm": True, "use_cpu": True, "save_async": True, **kwargs}
    args = TrainingArguments(output_dir, max_steps=max_steps, per_device_train_batch_size=2, **kwargs)
    model = tiny_model() if model is None else model
    return trainer_class(model=model, args=args, train_dataset=RandomTokens(), callbacks=list(callbacks))


def is_complete(output_dir, step):
    return os.path.exists(os.path.join(output_dir, f"checkpoint-{step}", "trainer_state.json"))


def folder_of(args, state):
    return os.path.join(args.output_dir, f"checkpoint-{state.global_step}")


class HeldWriter:
    """
    Holds the background write of `checkpoint-{step}` until `release()`, or until the training thread waits for it;
    with `step=None`, each write until the training thread waits for it. Each wait lasts `wait_seconds` of `clock`.
    """

    def __init__(self, step, clock=None, wait_seconds=0.0):
        self.folder = f"checkpoint-{step}" if step is not None else None
        self.clock, self.wait_seconds = clock, wait_seconds
        self.released, self.staged, self.waited = threading.Event(), False, False

    def release(self):
        self.released.set()

    def __enter__(self):
        stage, write, real_wait, held = Trainer._stage_checkpoint, Trainer._write_checkpoint, futures.wait, self

        def staging(trainer, output_dir):
            held.staged |= held.folder in (None, os.path.basename(output_dir))
            return stage(trainer, output_dir)

        def held_write(trainer, output_dir, *args):
            if held.folder in (None, os.path.basename(output_dir)):
                held.released.wait(timeout=60)
                if held.folder is None:
                    held.released.clear()  # the next write is held again
            return write(trainer, output_dir, *args)

        def wait(fs, *args, **kwargs):
            held.waited = True
            if held.staged:  # the write waited for is the one held, or a later one
                held.release()
            if held.clock is not None:
                held.clock.advance(held.wait_seconds)
            return real_wait(fs, *args, **kwargs)

        self.patches = [
            mock.patch.object(Trainer, "_stage_checkpoint", staging),
            mock.patch.object(Trainer, "_write_checkpoint", held_write),
            mock.patch.object(transformers.trainer.futures, "wait", wait),
        ]
        for patch in self.patches:
            patch.start()
        return self

    def __exit__(self, *exc):
        self.release()
        for patch in self.patches:
            patch.stop()


class AtStep(TrainerCallback):
    """Calls `action(state)` at the end of update step `step`. Without `on_save`: it leaves saves in the background."""

    def __init__(self, step, action):
        self.step, self.action = step, action

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            self.action(state)


class Reader(TrainerCallback):
    """Reads the checkpoint in `on_save`, as the integrations do (W&B, MLflow)."""

    def __init__(self):
        self.trainer, self.saved = None, []

    def on_save(self, args, state, control, **kwargs):
        # The checkpoint's step, the step training is at, the checkpoint's files
        self.saved.append(
            (state.global_step, self.trainer.state.global_step, sorted(os.listdir(folder_of(args, state))))
        )

    on_save.__module__ = "transformers.integrations.testing"  # an `on_save` of transformers: saves do not wait for it


class InheritedOnSave(DefaultFlowCallback):
    """A user's callback whose `on_save` is transformers' own: saves do not wait for it."""


class Writer(TrainerCallback):
    """Writes the model's weights into the checkpoint in `on_save`: a user's callback."""

    def __init__(self):
        self.complete = []

    def on_save(self, args, state, control, model=None, **kwargs):
        self.complete.append(os.path.exists(os.path.join(folder_of(args, state), "trainer_state.json")))
        torch.save(model.state_dict(), os.path.join(folder_of(args, state), "extra.pt"))


class FakeTime:
    """The `time` module, with `monotonic` read from `clock`."""

    def __init__(self, clock):
        self.monotonic = clock

    def __getattr__(self, name):
        return getattr(time, name)


def tied_model():
    config = tiny_model().config
    config.tie_word_embeddings = True
    torch.manual_seed(0)
    return LlamaForCausalLM(config)


class AsyncSaveArgumentsTest(TestCasePlus):
    def test_command_line(self):
        (args,) = HfArgumentParser(TrainingArguments).parse_args_into_dataclasses(
            ["--output_dir", self.get_auto_remove_tmp_dir(), "--save_async", "--report_to", "none"]
        )
        self.assertTrue(args.save_async)

    @require_torch
    def test_engine_named_by_environment_alone_is_not_refused(self):
        # `ACCELERATE_USE_FSDP` without an accelerator: Accelerate does not shard, and the save is Trainer's own
        with mock.patch.dict(os.environ, {"ACCELERATE_USE_FSDP": "true"}):
            trainer = make_trainer(self.get_auto_remove_tmp_dir())
            self.assertFalse(trainer.is_fsdp_enabled)
            trainer._check_save_async()


class SavesItsOwnWay(Trainer):
    def _save(self, output_dir=None, state_dict=None):
        self.model.save_pretrained(output_dir)


@require_torch
class AsyncSaveRefusedTest(TestCasePlus):
    @parameterized.expand(
        [
            ("deepspeed", "DeepSpeed"),
            ("fsdp", "FSDP"),
            ("quantized", "a quantized model"),
            ("offloaded", "a model offloaded by `device_map`"),
            ("own_save", "`SavesItsOwnWay._save` overridden"),
            ("prompt_learning", "a PEFT prompt-learning adapter"),
        ]
    )
    def test_refused_when_train_starts(self, case, reason):
        # Where the engine is really enabled (not where an environment variable names it); before the first step
        model = tiny_model()
        if case == "prompt_learning":
            from peft import PromptTuningConfig, get_peft_model

            model = get_peft_model(model, PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4))
        if case == "quantized":
            model.hf_quantizer = mock.Mock()
        if case == "offloaded":
            model.hf_device_map = {"model": "cpu", "lm_head": "disk"}
        trainer_class = SavesItsOwnWay if case == "own_save" else Trainer
        trainer = make_trainer(self.get_auto_remove_tmp_dir(), model=model, trainer_class=trainer_class)
        trainer.is_deepspeed_enabled, trainer.is_fsdp_enabled = case == "deepspeed", case == "fsdp"
        with self.assertRaisesRegex(ValueError, f"`save_async=True` is not supported with {reason}"):
            trainer.train()
        self.assertEqual(trainer.state.global_step, 0)


@require_torch
class FsyncTest(TestCasePlus):
    def folder_fsync_fails(self, code):
        folder = self.get_auto_remove_tmp_dir()
        with open(os.path.join(folder, "model.safetensors"), "w", encoding="utf-8") as f:
            f.write("weights")
        flushed, fsync = [], os.fsync

        def failing_fsync(fd):
            if os.path.isdir(f"/proc/self/fd/{fd}"):
                raise OSError(code, os.strerror(code))
            flushed.append(fd)
            return fsync(fd)

        with mock.patch.object(transformers.trainer_async_save.os, "fsync", failing_fsync):
            transformers.trainer_async_save._fsync_folder(folder)
        return flushed

    @unittest.skipUnless(os.path.isdir("/proc/self/fd"), "needs /proc/self/fd")
    def test_filesystem_that_cannot_flush_a_folder_still_flushes_its_files(self):
        # Some network and FUSE filesystems answer EINVAL or ENOTSUP to a folder's fsync: not a failed save
        for code in (errno.EINVAL, errno.ENOTSUP):
            self.assertEqual(len(self.folder_fsync_fails(code)), 1)

    @unittest.skipUnless(os.path.isdir("/proc/self/fd"), "needs /proc/self/fd")
    def test_folder_flush_error_still_fails_the_save(self):
        with self.assertRaises(OSError):
            self.folder_fsync_fails(errno.EIO)

    def test_process_that_wrote_nothing_flushes_nothing(self):
        # The processes that do not save would flush the main process's files on a shared filesystem, once each
        trainer = make_trainer(self.get_auto_remove_tmp_dir())
        with mock.patch.object(transformers.trainer, "_fsync_folder") as fsync_folder:
            trainer._write_checkpoint(trainer.args.output_dir, None, {})
        fsync_folder.assert_not_called()


@require_torch
class HostBuffersTest(TestCasePlus):
    def record_buffers(self):
        """Records the host buffers allocated (weak references) and the threads allocating them."""
        allocated, buffer = [], transformers.trainer_async_save._AsyncCheckpointWriter._buffer

        def recording_buffer(writer, key, tensor):
            new = key not in writer._buffers
            result = buffer(writer, key, tensor)
            if new:
                allocated.append((threading.current_thread().name, weakref.ref(result)))
            return result

        return allocated, mock.patch.object(
            transformers.trainer_async_save._AsyncCheckpointWriter, "_buffer", recording_buffer
        )

    def test_allocated_in_background_and_freed_when_train_returns(self):
        # A checkpoint's size of host memory: allocated while training goes on, not at the first save, and not held
        # once training is over
        allocated, recording = self.record_buffers()
        with recording:
            trainer = make_trainer(self.get_auto_remove_tmp_dir())
            trainer.train()
        gc.collect()
        self.assertGreater(len(allocated), 0)
        self.assertEqual({name.split("_")[0] for name, _ in allocated}, {"checkpoint-writer"})
        self.assertEqual([name for name, ref in allocated if ref() is not None], [])
        self.assertIsNone(trainer._async_writer)

    def test_freed_when_a_write_failed(self):
        # The error raised on the training thread keeps no staged state alive (a notebook holds the last error)
        allocated, recording = self.record_buffers()
        torch_save = torch.save

        def disk_full(obj, path, *args, **kwargs):
            if os.path.basename(path) == "optimizer.pt" and "checkpoint-2" in str(path):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            return torch_save(obj, path, *args, **kwargs)

        with recording, mock.patch.object(torch, "save", disk_full):
            with self.assertRaises(RuntimeError) as failed:
                make_trainer(self.get_auto_remove_tmp_dir()).train()
        gc.collect()
        self.assertIsNotNone(failed.exception)
        self.assertEqual([name for name, ref in allocated if ref() is not None], [])

    def test_none_without_saves(self):
        allocated, recording = self.record_buffers()
        with recording:
            make_trainer(self.get_auto_remove_tmp_dir(), save_strategy="no").train()
        self.assertEqual(allocated, [])

    def test_writer_thread_uses_the_training_threads_accelerator(self):
        # Else pinned buffers allocated in the writer thread would create a context on device 0 in every process
        accelerator = transformers.trainer_async_save.torch.accelerator
        set_in = []
        with (
            mock.patch.object(accelerator, "is_available", return_value=True),
            mock.patch.object(accelerator, "current_device_index", return_value=1),
            mock.patch.object(
                accelerator, "set_device_index", lambda i: set_in.append((i, threading.current_thread()))
            ),
        ):
            writer = transformers.trainer_async_save._AsyncCheckpointWriter({})
            writer.stage({})
            writer.executor.shutdown()
        self.assertEqual([index for index, _ in set_in], [1])
        self.assertNotEqual(set_in[0][1], threading.current_thread())


@require_torch
class AsyncCheckpointTest(TestCasePlus):
    def assert_same_checkpoints(self, sync_dir, async_dir, weights="model.safetensors"):
        self.assertEqual(checkpoint_folders(async_dir), checkpoint_folders(sync_dir))
        for folder in checkpoint_folders(sync_dir):
            sync_folder, async_folder = os.path.join(sync_dir, folder), os.path.join(async_dir, folder)
            self.assertEqual(sorted(os.listdir(async_folder)), sorted(os.listdir(sync_folder)))
            sync_weights = safetensors.torch.load_file(os.path.join(sync_folder, weights))
            async_weights = safetensors.torch.load_file(os.path.join(async_folder, weights))
            self.assertEqual(async_weights.keys(), sync_weights.keys())
            for name, tensor in sync_weights.items():
                torch.testing.assert_close(async_weights[name], tensor, rtol=0, atol=0)
            sync_optimizer = torch.load(os.path.join(sync_folder, "optimizer.pt"), weights_only=True)
            async_optimizer = torch.load(os.path.join(async_folder, "optimizer.pt"), weights_only=True)
            torch.testing.assert_close(async_optimizer, sync_optimizer, rtol=0, atol=0)
            sync_state = TrainerState.load_from_json(os.path.join(sync_folder, "trainer_state.json"))
            async_state = TrainerState.load_from_json(os.path.join(async_folder, "trainer_state.json"))
            self.assertEqual(async_state.global_step, int(folder.split("-")[-1]))  # the state of its step
            self.assertEqual(async_state.log_history, sync_state.log_history)

    def test_same_checkpoints_as_sync(self):
        # Tied weights saved once, and update steps of two micro-batches, as in a synchronous save
        sync_dir, async_dir = self.get_auto_remove_tmp_dir(), self.get_auto_remove_tmp_dir()
        make_trainer(sync_dir, model=tied_model(), gradient_accumulation_steps=2, save_async=False).train()
        make_trainer(async_dir, model=tied_model(), gradient_accumulation_steps=2).train()
        self.assert_same_checkpoints(sync_dir, async_dir)
        weights = safetensors.torch.load_file(os.path.join(async_dir, "checkpoint-2", "model.safetensors"))
        self.assertNotIn("lm_head.weight", weights)

    @require_peft
    def test_lora_stages_the_adapter_only(self):
        from peft import LoraConfig, get_peft_model

        def lora_model():
            return get_peft_model(tiny_model(), LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))

        sync_dir, async_dir = self.get_auto_remove_tmp_dir(), self.get_auto_remove_tmp_dir()
        make_trainer(sync_dir, max_steps=2, model=lora_model(), save_async=False).train()
        trainer = make_trainer(async_dir, max_steps=2, model=lora_model())
        trainer.train()
        adapter = safetensors.torch.load_file(os.path.join(async_dir, "checkpoint-2", "adapter_model.safetensors"))
        staged = trainer._host_states()["model"]
        self.assertEqual(len(staged), len(adapter))
        self.assertEqual(sum(t.nbytes for t in staged.values()), sum(t.nbytes for t in adapter.values()))
        self.assert_same_checkpoints(sync_dir, async_dir, weights="adapter_model.safetensors")

    def test_completion_logged(self):
        output_dir = self.get_auto_remove_tmp_dir()
        logger = logging.get_logger("transformers.trainer")
        with LoggingLevel(logging.INFO), CaptureLogger(logger) as captured:
            make_trainer(output_dir, max_steps=2).train()
        self.assertIn(f"Checkpoint {os.path.join(output_dir, 'checkpoint-2')} complete", captured.out)

    def test_last_checkpoint_complete_when_train_returns(self):
        output_dir = self.get_auto_remove_tmp_dir()
        with HeldWriter(step=None) as held:
            make_trainer(output_dir, save_steps=1000).train()
        self.assertTrue(held.waited)
        self.assertEqual(checkpoint_folders(output_dir), ["checkpoint-4"])
        self.assertTrue(is_complete(output_dir, 4))

    def test_rotation_keeps_newest_complete_while_writing(self):
        output_dir, seen = self.get_auto_remove_tmp_dir(), []
        with HeldWriter(step=4) as held:

            def look(state):
                seen.append(checkpoint_folders(output_dir))
                self.assertTrue(is_complete(output_dir, 2))
                held.release()

            make_trainer(output_dir, max_steps=6, save_total_limit=1, callbacks=[AtStep(5, look)]).train()
        self.assertEqual(seen, [["checkpoint-2", "checkpoint-4"]])
        self.assertEqual(checkpoint_folders(output_dir), ["checkpoint-6"])

    def test_error_reaches_training_thread(self):
        output_dir = self.get_auto_remove_tmp_dir()
        torch_save = torch.save

        def disk_full(obj, path, *args, **kwargs):
            if os.path.basename(path) == "optimizer.pt" and "checkpoint-2" in str(path):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            return torch_save(obj, path, *args, **kwargs)

        with mock.patch.object(torch, "save", disk_full):
            with self.assertRaisesRegex(RuntimeError, "checkpoint-2 in the background failed .*No space left"):
                make_trainer(output_dir).train()
        self.assertFalse(is_complete(output_dir, 2))

    def test_exception_completes_the_written_checkpoint(self):
        # checkpoint-4 is written when training raises at step 5: complete and resumable, as after a synchronous
        # save, and the writer and its host buffers are gone
        output_dir = self.get_auto_remove_tmp_dir()

        def fail(state):
            held.release()
            raise RuntimeError("failed at step 5")

        with HeldWriter(step=4) as held:
            trainer = make_trainer(output_dir, max_steps=6, save_steps=4, callbacks=[AtStep(5, fail)])
            with self.assertRaisesRegex(RuntimeError, "failed at step 5"):
                trainer.train()
        self.assertIsNone(trainer._async_writer)
        self.assertTrue(is_complete(output_dir, 4))
        trainer.callback_handler.pop_callback(AtStep)
        trainer.train(resume_from_checkpoint=True)
        self.assertEqual(trainer.state.global_step, 6)
        self.assertEqual(get_last_checkpoint(output_dir), os.path.join(output_dir, "checkpoint-6"))

    def test_state_of_a_save_that_waited(self):
        # The saved `TrainerControl` says a save was due, as in a synchronous save, even if it waited for checkpoint-2
        output_dir = self.get_auto_remove_tmp_dir()
        with HeldWriter(step=2) as held:
            make_trainer(output_dir).train()
        self.assertTrue(held.waited)
        with open(os.path.join(output_dir, "checkpoint-4", "trainer_state.json"), encoding="utf-8") as f:
            self.assertTrue(json.load(f)["stateful_callbacks"]["TrainerControl"]["args"]["should_save"])

    @parameterized.expand(
        [("shorter_than_the_pause", 10, 1, 0), ("longer_than_the_pause", 10, 20, 1), ("under_a_second", 0.1, 0.5, 0)]
    )
    def test_warned_of_waits_longer_than_the_pause(self, _, pause_seconds, wait_seconds, warnings):
        # Each save pauses training `pause_seconds`; each wait lasts `wait_seconds` (on a fake clock)
        output_dir, clock = self.get_auto_remove_tmp_dir(), FakeClock()
        stage = Trainer._stage_checkpoint

        def slow_stage(trainer, *args):
            clock.advance(pause_seconds)
            return stage(trainer, *args)

        logger = logging.get_logger("transformers.trainer")
        with (
            mock.patch.object(transformers.trainer, "time", FakeTime(clock)),
            mock.patch.object(Trainer, "_stage_checkpoint", slow_stage),
            HeldWriter(step=2, clock=clock, wait_seconds=wait_seconds) as held,
            CaptureLogger(logger) as captured,
        ):
            make_trainer(output_dir, save_steps=1).train()
        self.assertTrue(held.waited)
        self.assertEqual(captured.out.count("for the previous checkpoint"), warnings, captured.out)
        self.assertEqual(captured.out.count("Consider a larger `save_time` or `save_steps`"), warnings)
        self.assertEqual([step for step in (1, 2, 3, 4) if is_complete(output_dir, step)], [1, 2, 3, 4])

    @parameterized.expand([("sync", False), ("async", True)])
    def test_push_names_the_checkpoint_step(self, _, save_async):
        # A subclass overriding `_push_from_checkpoint` with its stock signature; with `save_async`, checkpoint-2 is
        # written until step 3 at least, and its commit still says step 2
        output_dir = self.get_auto_remove_tmp_dir()
        api, pushed = mock.Mock(), futures.Future()
        pushed.set_result(None)
        api.upload_folder.return_value = pushed
        hub = {"push_to_hub": True, "hub_model_id": "user/model", "hub_strategy": "checkpoint"}
        repo = {"hub_model_id": "user/model", "push_in_progress": None}  # what `init_hf_repo` sets, without the Hub
        pushed_folders = []

        class PushRecorder(Trainer):
            def _push_from_checkpoint(self, checkpoint_folder):
                pushed_folders.append(os.path.basename(checkpoint_folder))
                super()._push_from_checkpoint(checkpoint_folder)

        with (
            HeldWriter(step=2) as held,
            mock.patch.object(Trainer, "init_hf_repo", lambda trainer: vars(trainer).update(repo)),
            mock.patch.object(transformers.trainer, "hf_api", return_value=api),
        ):
            callbacks = [AtStep(3, lambda state: held.release())]
            make_trainer(
                output_dir, callbacks=callbacks, trainer_class=PushRecorder, save_async=save_async, **hub
            ).train()
        self.assertEqual(pushed_folders, ["checkpoint-2", "checkpoint-4"])
        messages = [call.kwargs["commit_message"] for call in api.upload_folder.call_args_list]
        expected = [f"Training in progress, step {step}{end}" for step in (2, 4) for end in ("", ", checkpoint")]
        self.assertEqual(messages, expected)

    def test_jit_checkpoint_complete_before_it_returns(self):
        # A SIGTERM's save is written before the job is killed; without other saves, host buffers come with it
        output_dir = self.get_auto_remove_tmp_dir()
        self.addCleanup(signal.signal, signal.SIGTERM, signal.getsignal(signal.SIGTERM))
        execute, complete = CheckpointManager.execute_jit_checkpoint, []

        def checked_execute(manager):
            execute(manager)
            complete.append(is_complete(output_dir, manager.trainer.state.global_step))

        def request(state):
            jit = next(cb for cb in trainer.callback_handler.callbacks if isinstance(cb, JITCheckpointCallback))
            jit.jit_manager.is_checkpoint_requested = True

        with HeldWriter(step=None), mock.patch.object(CheckpointManager, "execute_jit_checkpoint", checked_execute):
            trainer = make_trainer(
                output_dir, save_strategy="no", enable_jit_checkpoint=True, callbacks=[AtStep(2, request)]
            )
            trainer.train()
        self.assertEqual(complete, [True])
        self.assertEqual(checkpoint_folders(output_dir), ["checkpoint-2"])


@require_torch
class OnSaveTest(TestCasePlus):
    class Ticking(TrainerCallback):
        """Each update step lasts 1s of `clock`."""

        def __init__(self, clock):
            self.clock = clock

        def on_step_begin(self, args, state, control, **kwargs):
            self.clock.advance(1)

    def test_transformers_callbacks_get_complete_checkpoints_later(self):
        # checkpoint-2 is still written at step 3: the save did not wait; on_save comes once it is complete
        output_dir, reader = self.get_auto_remove_tmp_dir(), Reader()
        with HeldWriter(step=2) as held:
            callbacks = [reader, InheritedOnSave(), AtStep(3, lambda state: held.release())]
            trainer = make_trainer(output_dir, callbacks=callbacks)
            reader.trainer = trainer
            trainer.train()
        self.assertEqual([saved for saved, _, _ in reader.saved], [2, 4])
        self.assertGreater(reader.saved[0][1], 2)
        for step, _, files in reader.saved:
            self.assertEqual(files, CHECKPOINT_FILES, f"checkpoint-{step}")

    def test_user_callbacks_get_the_saved_step(self):
        # A user's `on_save` writing the model into the checkpoint writes that of the checkpoint's step: the save
        # waits for its write, as a synchronous save does (checkpoint-2 is held until step 3, or until waited for)
        output_dir, writer = self.get_auto_remove_tmp_dir(), Writer()
        logger = logging.get_logger("transformers.trainer")
        with CaptureLogger(logger) as captured, HeldWriter(step=2) as held:
            make_trainer(output_dir, callbacks=[writer, AtStep(3, lambda state: held.release())]).train()
        for step in (2, 4):
            folder = os.path.join(output_dir, f"checkpoint-{step}")
            extra = torch.load(os.path.join(folder, "extra.pt"), weights_only=True)
            for name, tensor in safetensors.torch.load_file(os.path.join(folder, "model.safetensors")).items():
                torch.testing.assert_close(extra[name], tensor, rtol=0, atol=0, msg=f"checkpoint-{step} {name}")
        self.assertEqual(writer.complete, [True, True])
        self.assertIn("`save_async=True`: Writer override `on_save`", captured.out)

    def test_time_based_saves_spaced_as_sync(self):
        # Update steps of 1s; saves every 2s, each with an evaluation of 2.5s (`load_best_model_at_end`). As in a
        # synchronous save, the interval restarts once the save is over: at 3 (t=3, over at 5.5), 5 (7.5), 7, 9, 11;
        # each write is done only when the next save waits for it
        output_dir, clock = self.get_auto_remove_tmp_dir(), FakeClock()

        class SlowEvaluation(Trainer):
            def evaluate(self, *args, **kwargs):
                clock.advance(2.5)
                return super().evaluate(*args, **kwargs)

        args = TrainingArguments(
            output_dir, max_steps=11, per_device_train_batch_size=2, eval_strategy="time", eval_time=2,
            save_strategy="time", save_time=2, load_best_model_at_end=True, save_async=True, use_cpu=True,
            report_to=[], disable_tqdm=True,
        )  # fmt: skip
        trainer = SlowEvaluation(
            model=tiny_model(),
            args=args,
            train_dataset=RandomTokens(),
            eval_dataset=RandomTokens(length=2, seed=1),
            callbacks=[self.Ticking(clock)],
        )
        with patch_clock(clock), HeldWriter(step=None):
            trainer.train()
        self.assertEqual(checkpoint_folders(output_dir), [f"checkpoint-{step}" for step in (3, 5, 7, 9, 11)])

    def test_late_on_save_does_not_restart_the_interval(self):
        # 1s steps; each write done during the step after its save: saves come every 2s, as synchronous ones do
        class WriteDuringNextStep(self.Ticking):
            def on_step_begin(self, args, state, control, **kwargs):
                super().on_step_begin(args, state, control, **kwargs)
                if trainer._async_writer is not None and trainer._async_writer.pending is not None:
                    trainer._async_writer.pending.future.result()

        saved = {}
        for save_async in (False, True):
            output_dir, clock = self.get_auto_remove_tmp_dir(), FakeClock()
            trainer = make_trainer(output_dir, 11, [WriteDuringNextStep(clock)], save_strategy="time", save_time=2)
            trainer.args.save_async = save_async
            with patch_clock(clock):
                trainer.train()
            saved[save_async] = checkpoint_folders(output_dir)
        self.assertEqual(saved[True], saved[False])

    def test_time_budget_counts_the_whole_write(self):
        # checkpoint-2 takes 30s to write (on a fake clock), done before step 3 ends: the budget keeps 30s for a save
        output_dir, clock = self.get_auto_remove_tmp_dir(), FakeClock()
        write = Trainer._write_checkpoint

        def slow_write(trainer, output_dir, *args):
            clock.advance(30 if output_dir.endswith("checkpoint-2") else 0)
            return write(trainer, output_dir, *args)

        class WaitForTheWrite(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                if state.global_step == 2:
                    held.release()
                    trainer._async_writer.pending.future.result()

        budget_clock = mock.patch.object(TimeBudgetCallback, "clock", clock)
        with budget_clock, mock.patch.object(Trainer, "_write_checkpoint", slow_write), HeldWriter(step=2) as held:
            trainer = make_trainer(output_dir, max_train_time=3600, callbacks=[WaitForTheWrite()])
            trainer.train()
        budget = next(cb for cb in trainer.callback_handler.callbacks if isinstance(cb, TimeBudgetCallback))
        self.assertEqual(budget.slowest["save"], 30)

    def test_time_budget_stops_at_the_step_of_a_first_save(self):
        # Its `on_save` comes once the write is complete, steps later: too late to decide the stop there. 4s steps, a
        # save of 1s not timed yet: at step 2, 8 + 1 + 2 * 4 + 1 > 10
        args = TrainingArguments(self.get_auto_remove_tmp_dir(), max_train_time=10, save_async=True, use_cpu=True)
        callback, state, clock = TimeBudgetCallback(), TrainerState(max_steps=100), FakeClock()
        callback.set_trainer(mock.Mock(eval_dataset=None))
        with mock.patch.object(TimeBudgetCallback, "clock", clock):
            callback.on_train_begin(args, state, TrainerControl())
            for step in (1, 2):
                clock.advance(4)
                state.global_step, control = step, TrainerControl(should_save=step == 2)
                callback.on_step_end(args, state, control)
        self.assertTrue(control.should_training_stop)


def train_killed_at(output_dir, point, step=4, **kwargs):
    """
    `train_tiny_model` saving in the background, SIGKILLed at `point` of the save of `checkpoint-{step}`: "staging",
    "before:NAME" or "after:NAME" for each file the background writer writes, "before:marker" or "after:marker"
    (`trainer_state.json`).
    """
    torch.set_num_threads(1)
    folder = f"checkpoint-{step}"

    def kill_at(name):
        if point == name:
            os.kill(os.getpid(), signal.SIGKILL)

    def around(function, name_of):
        def wrapper(*args, **kwargs):
            name = name_of(*args, **kwargs)
            if name is None:
                return function(*args, **kwargs)
            kill_at(f"before:{name}")
            result = function(*args, **kwargs)
            kill_at(f"after:{name}")
            return result

        return wrapper

    def in_folder(path):
        path = str(path)
        return os.path.basename(path) if os.path.basename(os.path.dirname(path)) == folder else None

    torch.save = around(torch.save, lambda obj, path, *a, **k: in_folder(path))
    transformers.modeling_utils.safe_save_file = around(
        transformers.modeling_utils.safe_save_file, lambda tensors, path, *a, **k: in_folder(path)
    )
    Trainer._save_trainer_state = around(
        Trainer._save_trainer_state,
        lambda trainer, output_dir, *a: "marker" if os.path.basename(output_dir) == folder else None,
    )
    stage = Trainer._stage_checkpoint

    def staging(trainer, output_dir):
        if os.path.basename(output_dir) == folder:
            kill_at("staging")
        return stage(trainer, output_dir)

    Trainer._stage_checkpoint = staging
    train_tiny_model(output_dir, save_async=True, **kwargs)


# Where a child kills itself, in the order an asynchronous save gets there
KILL_POINTS = ["staging", "after:model.safetensors", "before:scheduler.pt", "before:marker", "after:marker"]


@require_torch
class KilledAsyncSaveTest(TestCasePlus):
    @parameterized.expand([(point,) for point in KILL_POINTS])
    def test_resumes_from_newest_complete(self, point):
        output_dir = self.get_auto_remove_tmp_dir()
        job = {"output_dir": output_dir, "save_total_limit": 1}
        exitcode = run_in_fresh_process(train_killed_at, point=point, **job)
        self.assertEqual(exitcode, -signal.SIGKILL, f"the job was not killed at {point}")
        newest = 4 if point == "after:marker" else 2
        self.assertEqual(get_last_checkpoint(output_dir), os.path.join(output_dir, f"checkpoint-{newest}"))

        exitcode = run_in_fresh_process(train_tiny_model, resume_from_checkpoint=True, save_async=True, **job)
        self.assertEqual(exitcode, 0, f"the job killed at {point} did not resume")
        self.assertEqual(read_result(output_dir), {"start_step": newest, "end_step": 6})
        self.assertEqual(checkpoint_folders(output_dir), ["checkpoint-6"])


if __name__ == "__main__":
    unittest.main()
