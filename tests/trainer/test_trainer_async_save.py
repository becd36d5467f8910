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
only once every file is written, and only complete ones seen by callbacks, rotation and the end of `train()`.

The background writer is held at a point with events (`HeldWriter`), never with sleeps; the kill tests run a job in a
child process that SIGKILLs itself at a named point of an asynchronous save, then resume it in a fresh one.
"""

import errno
import gc
import json
import os
import signal
import threading
import unittest
import weakref
from concurrent import futures
from unittest import mock

from parameterized import parameterized

from transformers import HfArgumentParser, Trainer, TrainerCallback, TrainingArguments, is_torch_available
from transformers.testing_utils import CaptureLogger, TestCasePlus, require_torch
from transformers.trainer_callback import ProgressCallback, TrainerState, _TimeSchedule
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
from .test_trainer_jit_checkpoint_agreed import ImmediateTimer, SigtermAt
from .time_strategy_testing import FakeClock, patch_clock


if is_torch_available():
    import safetensors.torch
    import torch

    import transformers.modeling_utils
    import transformers.trainer
    import transformers.trainer_async_save


def train_async(output_dir, max_steps=6, callbacks=(), **kwargs):
    """A tiny Llama saving every 2 steps in the background; returns its `Trainer`."""
    kwargs = {"save_steps": 2, "report_to": [], "disable_tqdm": True, "use_cpu": True, "save_async": True, **kwargs}
    args = TrainingArguments(output_dir, max_steps=max_steps, per_device_train_batch_size=2, **kwargs)
    trainer = Trainer(model=tiny_model(), args=args, train_dataset=RandomTokens(), callbacks=list(callbacks))
    trainer.train()
    return trainer


def is_complete(output_dir, step):
    return os.path.exists(os.path.join(output_dir, f"checkpoint-{step}", "trainer_state.json"))


class HeldWriter:
    """
    Holds the background write of `checkpoint-{step}` (of every checkpoint if `step` is None) until `release()`, or
    until the training thread waits for it (`wait_releases`): then the wait is certain to be needed.
    """

    def __init__(self, step, wait_releases=False):
        self.folder = f"checkpoint-{step}" if step is not None else None
        self.wait_releases = wait_releases
        self.released, self.waited = threading.Event(), False

    def release(self):
        self.released.set()

    def __enter__(self):
        write, real_wait, held = Trainer._write_checkpoint, transformers.trainer.futures.wait, self

        def held_write(trainer, output_dir, *args):
            if held.folder in (None, os.path.basename(output_dir)):
                held.released.wait(timeout=60)
            return write(trainer, output_dir, *args)

        def wait(fs, *args, **kwargs):
            held.waited = True
            if held.wait_releases:
                held.release()
            return real_wait(fs, *args, **kwargs)

        self.patches = [
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
    """Calls `action(state)` at the end of update step `step`, and records the states `on_save` gets."""

    def __init__(self, step=None, action=None):
        self.step, self.action, self.saved = step, action, []

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            self.action(state)

    def on_save(self, args, state, control, **kwargs):
        folder = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        self.saved.append((state.global_step, sorted(os.listdir(folder))))


class AsyncSaveArgumentsTest(TestCasePlus):
    @parameterized.expand(
        [
            ("deepspeed", {"deepspeed": {"train_batch_size": "auto"}}, "DeepSpeed"),
            ("fsdp", {"fsdp": "full_shard"}, "FSDP"),
        ]
    )
    def test_refused_with_own_engine(self, _, engine, name):
        with self.assertRaisesRegex(ValueError, f"`save_async=True` is not supported with {name}"):
            TrainingArguments(self.get_auto_remove_tmp_dir(), save_async=True, **engine)

    def test_refused_on_tpu(self):
        with mock.patch("transformers.training_args.is_torch_xla_available", return_value=True):
            with self.assertRaisesRegex(ValueError, "`save_async=True` is not supported with TPU/XLA"):
                TrainingArguments(self.get_auto_remove_tmp_dir(), save_async=True)

    @require_torch
    def test_refused_where_a_save_would_not_write_the_copy(self):
        args = TrainingArguments(self.get_auto_remove_tmp_dir(), save_async=True, report_to=[], use_cpu=True)

        class SavesItsOwnWay(Trainer):
            def _save(self, output_dir=None, state_dict=None):
                self.model.save_pretrained(output_dir)

        with self.assertRaisesRegex(ValueError, r"`save_async=True` is not supported with `SavesItsOwnWay._save`"):
            SavesItsOwnWay(model=tiny_model(), args=args)
        quantized = tiny_model()
        quantized.hf_quantizer = mock.Mock()
        with self.assertRaisesRegex(ValueError, "`save_async=True` is not supported with a quantized model"):
            Trainer(model=quantized, args=args)
        offloaded = tiny_model()
        offloaded.hf_device_map = {"model": "cpu", "lm_head": "disk"}
        with self.assertRaisesRegex(ValueError, "`save_async=True` is not supported with a model offloaded"):
            Trainer(model=offloaded, args=args)

    def test_command_line(self):
        (args,) = HfArgumentParser(TrainingArguments).parse_args_into_dataclasses(
            ["--output_dir", self.get_auto_remove_tmp_dir(), "--save_async", "--report_to", "none"]
        )
        self.assertTrue(args.save_async)


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
        args = TrainingArguments(self.get_auto_remove_tmp_dir(), save_async=True, report_to=[], use_cpu=True)
        trainer = Trainer(model=tiny_model(), args=args)
        with mock.patch.object(transformers.trainer, "_fsync_folder") as fsync_folder:
            trainer._write_checkpoint(args.output_dir, None, {})
        fsync_folder.assert_not_called()


@require_torch
class AsyncSaveTest(TestCasePlus):
    def test_same_checkpoints_as_sync(self):
        sync_dir, async_dir = self.get_auto_remove_tmp_dir(), self.get_auto_remove_tmp_dir()
        train_tiny_model(sync_dir, max_steps=4)
        train_async(async_dir, max_steps=4)
        self.assertEqual(checkpoint_folders(async_dir), checkpoint_folders(sync_dir))
        for folder in checkpoint_folders(sync_dir):
            sync_folder, async_folder = os.path.join(sync_dir, folder), os.path.join(async_dir, folder)
            self.assertEqual(sorted(os.listdir(async_folder)), sorted(os.listdir(sync_folder)))
            sync_weights = safetensors.torch.load_file(os.path.join(sync_folder, "model.safetensors"))
            async_weights = safetensors.torch.load_file(os.path.join(async_folder, "model.safetensors"))
            self.assertEqual(async_weights.keys(), sync_weights.keys())  # tied weights saved once, as in sync
            for name, tensor in sync_weights.items():
                torch.testing.assert_close(async_weights[name], tensor, rtol=0, atol=0)
            sync_optimizer = torch.load(os.path.join(sync_folder, "optimizer.pt"), weights_only=True)
            async_optimizer = torch.load(os.path.join(async_folder, "optimizer.pt"), weights_only=True)
            torch.testing.assert_close(async_optimizer, sync_optimizer, rtol=0, atol=0)
            sync_state = TrainerState.load_from_json(os.path.join(sync_folder, "trainer_state.json"))
            async_state = TrainerState.load_from_json(os.path.join(async_folder, "trainer_state.json"))
            self.assertEqual(async_state.global_step, int(folder.split("-")[-1]))  # the state of its step
            self.assertEqual(async_state.log_history, sync_state.log_history)

    def test_host_buffers_allocated_in_background_before_first_save(self):
        # Allocating a checkpoint's size of host memory takes seconds: not while training waits at the first save
        output_dir, allocated = self.get_auto_remove_tmp_dir(), []
        buffer = transformers.trainer_async_save._AsyncCheckpointWriter._buffer

        def recording_buffer(writer, key, tensor):
            if key not in writer._buffers:
                allocated.append(threading.current_thread().name)
            return buffer(writer, key, tensor)

        with mock.patch.object(transformers.trainer_async_save._AsyncCheckpointWriter, "_buffer", recording_buffer):
            train_async(output_dir, max_steps=4)
        self.assertGreater(len(allocated), 0)
        self.assertEqual({name.split("_")[0] for name in allocated}, {"checkpoint-writer"})

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

    def test_host_buffers_freed_when_train_returns(self):
        # A checkpoint's size of host memory (pinned on an accelerator) is not held once training is over
        output_dir, buffers = self.get_auto_remove_tmp_dir(), []
        buffer = transformers.trainer_async_save._AsyncCheckpointWriter._buffer

        def recording_buffer(writer, key, tensor):
            allocated = buffer(writer, key, tensor)
            buffers.append(weakref.ref(allocated))
            return allocated

        with mock.patch.object(transformers.trainer_async_save._AsyncCheckpointWriter, "_buffer", recording_buffer):
            trainer = train_async(output_dir, max_steps=4)
        gc.collect()
        self.assertGreater(len(buffers), 0)
        self.assertEqual(sum(ref() is not None for ref in buffers), 0)
        recorder = AtStep()
        trainer.add_callback(recorder)
        trainer.train()  # and a new `train()` call saves as before
        self.assertEqual([step for step, _ in recorder.saved], [2, 4])

    def test_write_left_by_a_failed_train_is_not_finished_by_the_next(self):
        # checkpoint-2 is still written when training fails at step 3: it stays incomplete, and the next `train()`
        # call (a new trial of a hyperparameter search, a retry) neither completes it nor reports it to its callbacks
        output_dir = self.get_auto_remove_tmp_dir()

        def fail(state):
            raise RuntimeError("failed at step 3")

        with HeldWriter(step=2) as held:
            trainer = Trainer(
                model=tiny_model(),
                args=TrainingArguments(
                    output_dir, max_steps=4, save_steps=2, per_device_train_batch_size=2, report_to=[],
                    disable_tqdm=True, use_cpu=True, save_async=True,
                ),
                train_dataset=RandomTokens(),
                callbacks=[AtStep(3, fail)],
            )  # fmt: skip
            with self.assertRaisesRegex(RuntimeError, "failed at step 3"):
                trainer.train()
            held.release()
        self.assertFalse(is_complete(output_dir, 2))
        trainer.callback_handler.pop_callback(AtStep)
        recorder = AtStep()
        trainer.add_callback(recorder)
        trainer.train()
        self.assertEqual([step for step, _ in recorder.saved], [2, 4])

    def test_callbacks_see_complete_checkpoints(self):
        output_dir = self.get_auto_remove_tmp_dir()
        files = ["config.json", "generation_config.json", "model.safetensors", "optimizer.pt", "rng_state.pth"]
        files += ["scheduler.pt", "trainer_state.json", "training_args.bin"]
        with HeldWriter(step=2) as held:
            # checkpoint-2 is still written at step 3: not complete, not seen; then it is let go
            recorder = AtStep(3, lambda state: (self.assertFalse(is_complete(output_dir, 2)), held.release()))
            train_async(output_dir, callbacks=[recorder])
        self.assertEqual([step for step, _ in recorder.saved], [2, 4, 6])
        for step, listed in recorder.saved:
            self.assertEqual(listed, files, f"checkpoint-{step}")

    def test_rotation_keeps_newest_complete_while_writing(self):
        output_dir = self.get_auto_remove_tmp_dir()
        seen = []
        with HeldWriter(step=4) as held:

            def look(state):
                seen.append(checkpoint_folders(output_dir))
                self.assertTrue(is_complete(output_dir, 2))
                held.release()

            train_async(output_dir, save_total_limit=1, callbacks=[AtStep(5, look)])
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
                train_async(output_dir)
        self.assertFalse(is_complete(output_dir, 2))
        self.assertIsNone(get_last_checkpoint(output_dir))

    def test_save_due_while_writing_waits(self):
        output_dir = self.get_auto_remove_tmp_dir()
        logger = logging.get_logger("transformers.trainer")
        with HeldWriter(step=2, wait_releases=True) as held, CaptureLogger(logger) as captured:
            train_async(output_dir, save_steps=1, max_steps=4)
        self.assertTrue(held.waited)
        self.assertEqual(captured.out.count("waited"), 1, captured.out)  # said once
        self.assertIn("Consider a larger `save_time` or `save_steps`", captured.out)
        self.assertEqual([step for step in (1, 2, 3, 4) if is_complete(output_dir, step)], [1, 2, 3, 4])

    @parameterized.expand(
        [
            ("max_steps", {"max_steps": 6}, 6),
            ("max_time", {"max_steps": 100, "max_time": 100}, None),
            ("sigterm", {"max_steps": 100, "enable_jit_checkpoint": True}, 4),  # SIGTERM at step 3: stops at 4
        ]
    )
    def test_last_checkpoint_complete_when_train_returns(self, _, stop, last_step):
        # The final save, the only one, is held until `train()` waits for it; each step takes 10s of a fake clock
        output_dir = self.get_auto_remove_tmp_dir()
        clock = FakeClock()
        ticking = AtStep()
        ticking.on_step_begin = lambda *args, **kwargs: clock.advance(10)
        callbacks = [ticking, SigtermAt(step=3)] if "enable_jit_checkpoint" in stop else [ticking]
        self.addCleanup(signal.signal, signal.SIGTERM, signal.getsignal(signal.SIGTERM))
        timer = mock.patch("transformers.trainer_jit_checkpoint.threading.Timer", ImmediateTimer)
        with patch_clock(clock), timer, HeldWriter(step=None, wait_releases=True) as held:
            trainer = train_async(output_dir, save_steps=1000, callbacks=callbacks, **stop)
        self.assertTrue(held.waited)
        if last_step is not None:
            self.assertEqual(trainer.state.global_step, last_step)
        else:  # stops before max_time: steps of 10s, 100s
            self.assertLess(trainer.state.global_step, 10)
        self.assertEqual(checkpoint_folders(output_dir), [f"checkpoint-{trainer.state.global_step}"])
        self.assertTrue(is_complete(output_dir, trainer.state.global_step))

    def test_progress_bar_says_why_training_stopped_early(self):
        # The final save of a `max_time` stop reaches `on_save` once written, with its checkpoint's state: the bar
        # still ends there and says why
        output_dir = self.get_auto_remove_tmp_dir()
        clock, postfixes = FakeClock(), []
        ticking = AtStep()
        ticking.on_step_begin = lambda *args, **kwargs: clock.advance(10)
        on_save = ProgressCallback.on_save

        def recording_on_save(bar, args, state, control, **kwargs):
            on_save(bar, args, state, control, **kwargs)
            postfixes.append((state.global_step, bar.training_bar.postfix))

        with patch_clock(clock), mock.patch.object(ProgressCallback, "on_save", recording_on_save):
            trainer = train_async(
                output_dir, max_steps=100, max_time=100, save_steps=1000, disable_tqdm=False, callbacks=[ticking]
            )
        self.assertEqual(postfixes, [(trainer.state.global_step, "stopped early: time budget")])

    def test_hub_commit_names_the_checkpoint_pushed(self):
        # checkpoint-2 is written until step 3 at least: its commit still says step 2
        output_dir = self.get_auto_remove_tmp_dir()
        api, pushed = mock.Mock(), futures.Future()
        pushed.set_result(None)
        api.upload_folder.return_value = pushed
        hub = {"push_to_hub": True, "hub_model_id": "user/model", "hub_strategy": "checkpoint"}
        repo = {"hub_model_id": "user/model", "push_in_progress": None}  # what `init_hf_repo` sets, without the Hub
        with (
            HeldWriter(step=2) as held,
            mock.patch.object(Trainer, "init_hf_repo", lambda trainer: vars(trainer).update(repo)),
            mock.patch.object(transformers.trainer, "hf_api", return_value=api),
        ):
            train_async(output_dir, callbacks=[AtStep(3, lambda state: held.release())], **hub)
        messages = [call.kwargs["commit_message"] for call in api.upload_folder.call_args_list]
        expected = [f"Training in progress, step {step}{end}" for step in (2, 4, 6) for end in ("", ", checkpoint")]
        self.assertEqual(messages, expected)

    def test_budget_counts_background_write(self):
        # A write of 30s on a fake clock: `max_time` keeps time in hand for the whole write, not the pause
        output_dir = self.get_auto_remove_tmp_dir()
        clock = FakeClock()
        write = Trainer._write_checkpoint

        def slow_write(trainer, *args):
            clock.advance(30)
            return write(trainer, *args)

        with patch_clock(clock), mock.patch.object(Trainer, "_write_checkpoint", slow_write):
            trainer = train_async(output_dir, max_steps=4, max_time=3600)
        self.assertGreaterEqual(_TimeSchedule.of(trainer.state).slowest["save"], 30)


def train_killed_at(output_dir, point, step=4, **kwargs):
    """
    `train_async`, SIGKILLed at `point` of the asynchronous save of `checkpoint-{step}`: "staging", "before:NAME" or
    "after:NAME" for each file the background writer writes, "before_marker" or "after_marker" (`trainer_state.json`).
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
    stage = Trainer._stage_checkpoint

    def staging(trainer, output_dir):
        if os.path.basename(output_dir) == folder:
            kill_at("staging")
        return stage(trainer, output_dir)

    Trainer._stage_checkpoint = staging
    save_to_json = TrainerState.save_to_json
    TrainerState.save_to_json = around(
        save_to_json, lambda state, path: "marker" if in_folder(path) == "trainer_state.json" else None
    )
    kill_at_marker = {"before_marker": "before:marker", "after_marker": "after:marker"}
    point = kill_at_marker.get(point, point)
    train_tiny_model(output_dir, save_async=True, **kwargs)


# Where a child kills itself, in the order an asynchronous save gets there; the model's files come first
KILL_POINTS = ["staging"]
KILL_POINTS += [
    f"{when}:{name}" for name in ("model.safetensors", "training_args.bin") for when in ("before", "after")
]
KILL_POINTS += [f"{when}:{name}" for name in ("optimizer.pt", "scheduler.pt") for when in ("before", "after")]
KILL_POINTS += ["before_marker", "after_marker"]


@require_torch
class KilledAsyncSaveTest(TestCasePlus):
    @parameterized.expand([(point,) for point in KILL_POINTS])
    def test_resumes_from_newest_complete(self, point):
        output_dir = self.get_auto_remove_tmp_dir()
        job = {"output_dir": output_dir, "save_total_limit": 1}
        exitcode = run_in_fresh_process(train_killed_at, point=point, **job)
        self.assertEqual(exitcode, -signal.SIGKILL, f"the job was not killed at {point}")
        newest = 4 if point == "after_marker" else 2
        self.assertEqual(get_last_checkpoint(output_dir), os.path.join(output_dir, f"checkpoint-{newest}"))

        exitcode = run_in_fresh_process(train_tiny_model, resume_from_checkpoint=True, save_async=True, **job)
        self.assertEqual(exitcode, 0, f"the job killed at {point} did not resume")
        self.assertEqual(read_result(output_dir), {"start_step": newest, "end_step": 6})
        self.assertEqual(checkpoint_folders(output_dir), ["checkpoint-6"])
        with open(os.path.join(output_dir, "checkpoint-6", "trainer_state.json"), encoding="utf-8") as f:
            self.assertEqual(json.load(f)["global_step"], 6)


if __name__ == "__main__":
    unittest.main()
