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
Crash-safe checkpoints: `trainer_state.json` is written last and atomically, so that a job killed at any moment, even
while it writes `checkpoint-N`, resumes with `resume_from_checkpoint=True` from its newest complete checkpoint.

The kill tests SIGKILL a job run in a child process at a named point of a save (`KillSwitch`), then resume it in
another. Children fork from a server that has imported transformers once: none pays the import time.
Upstream, `CheckpointFolderTest` would join tests/trainer/test_trainer_checkpointing.py, next to
`TrainerCheckpointRotationTest`; `TrainerSaveResumeTest` and `KilledJobTest`, tests/trainer/test_trainer_resume.py.
"""

import errno
import json
import multiprocessing
import os
import shutil
import signal
import unittest
from unittest import mock

from parameterized import parameterized

from transformers import Trainer, TrainerCallback, TrainingArguments, is_torch_available
from transformers.testing_utils import CaptureLogger, TestCasePlus, require_torch
from transformers.trainer_callback import TrainerState
from transformers.trainer_utils import get_last_checkpoint, rotate_checkpoints
from transformers.utils import logging


if is_torch_available():
    import torch

    import transformers.modeling_utils
    from transformers import LlamaConfig, LlamaForCausalLM

JIT_MARKER = "checkpoint-is-incomplete.txt"  # in a checkpoint while `enable_jit_checkpoint` saves it
PLACEHOLDERS = ["model.safetensors", "optimizer.pt", "rng_state.pth", "scheduler.pt"]


def tiny_model():
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2
    )
    return LlamaForCausalLM(config)


class RandomTokens(torch.utils.data.Dataset if is_torch_available() else object):
    def __init__(self, length=64, seed=0):
        self.input_ids = torch.randint(0, 32, (length, 8), generator=torch.Generator().manual_seed(seed))

    def __len__(self):
        return len(self.input_ids)

    def __getitem__(self, i):
        return {"input_ids": self.input_ids[i], "labels": self.input_ids[i]}


class RecordSteps(TrainerCallback):
    """Writes the step training starts from and the one it ends at to `result.json` in `output_dir`."""

    def on_train_begin(self, args, state, control, **kwargs):
        self.start_step = state.global_step

    def on_train_end(self, args, state, control, **kwargs):
        if args.should_save:
            with open(os.path.join(args.output_dir, "result.json"), "w", encoding="utf-8") as f:
                json.dump({"start_step": self.start_step, "end_step": state.global_step}, f)


def tiny_trainer(output_dir, **kwargs):
    kwargs = {"save_steps": 2, "report_to": [], "disable_tqdm": True, "use_cpu": True, **kwargs}
    args = TrainingArguments(output_dir, per_device_train_batch_size=2, **kwargs)
    return Trainer(model=tiny_model(), args=args, train_dataset=RandomTokens(), callbacks=[RecordSteps()])


def train_tiny_model(output_dir, max_steps=6, resume_from_checkpoint=None, **kwargs):
    """A tiny Llama saving every 2 steps; writes `result.json` (its first and last step) in `output_dir`."""
    tiny_trainer(output_dir, max_steps=max_steps, **kwargs).train(resume_from_checkpoint=resume_from_checkpoint)


def read_result(output_dir):
    with open(os.path.join(output_dir, "result.json"), encoding="utf-8") as f:
        return json.load(f)


class KillSwitch:
    """
    Makes this process SIGKILL itself at `point` of save number `on_save` (from 1) of `Trainer`: "after_model",
    "before_trainer_state" (all else written), "while_trainer_state" (half of it written), "in_rotation" (half of a
    checkpoint deleted by `save_total_limit`), or "write-K", before the K-th file of the save is written.
    """

    def __init__(self, point=None, on_save=2):
        self.point, self.on_save, self.saves, self.writes = point, on_save, 0, 0

    def armed(self):
        return self.saves == self.on_save

    def reached(self, point):
        if self.armed() and point == self.point:
            os.kill(os.getpid(), signal.SIGKILL)

    def write(self):
        self.writes += 1
        self.reached(f"write-{self.writes}")

    def install(self):
        def hook(owner, name, before=lambda *args: None, after=lambda *args: None):
            method = getattr(owner, name)

            def hooked(*args, **kwargs):
                before(*args)
                result = method(*args, **kwargs)
                after(*args)
                return result

            setattr(owner, name, hooked)

        def begin_save(*args):
            self.saves, self.writes = self.saves + 1, 0

        def write_state(state, path):  # `Trainer` writes trainer_state.json with `save_to_json`
            self.reached("before_trainer_state")
            self.write()

        def half_delete(path, *args):
            if self.armed() and self.point == "in_rotation":
                for name in sorted(os.listdir(path))[::2]:
                    os.remove(os.path.join(path, name))
                self.reached("in_rotation")

        def half_written(state, path):  # what a kill while the file is written leaves
            if self.armed() and self.point == "while_trainer_state":
                os.truncate(path, os.path.getsize(path) // 2)
                self.reached("while_trainer_state")

        hook(Trainer, "_save_checkpoint", before=begin_save)
        hook(Trainer, "save_model", after=lambda *args: self.reached("after_model"))
        hook(TrainerState, "save_to_json", before=write_state, after=half_written)
        hook(shutil, "rmtree", before=half_delete)
        hook(torch, "save", before=lambda *args: self.write())
        hook(transformers.modeling_utils, "safe_save_file", before=lambda *args: self.write())


def train_with_kill_switch(output_dir, kill_at=None, kill_on_save=2, **kwargs):
    """`train_tiny_model`, killed at `kill_at` of save number `kill_on_save`. Only in a child process: it patches."""
    torch.set_num_threads(1)
    KillSwitch(kill_at, kill_on_save).install()
    train_tiny_model(output_dir, **kwargs)


_forkserver = None


def run_in_fresh_process(target, timeout=120, **kwargs):
    """Runs `target(**kwargs)` in a process forked from a server that has imported this module: its exit code."""
    global _forkserver
    if _forkserver is None:
        _forkserver = multiprocessing.get_context("forkserver")
        _forkserver.set_forkserver_preload([__name__])
    process = _forkserver.Process(target=target, kwargs=kwargs)
    process.start()
    process.join(timeout)  # a hang must fail the test, not CI
    if process.is_alive():
        process.kill()
        process.join()
        raise AssertionError(f"{target.__name__}({kwargs}) did not finish in {timeout}s")
    return process.exitcode


def make_checkpoint(output_dir, step, complete=True, jit_marker=False):
    """A checkpoint folder with placeholder files; a complete one ends with `trainer_state.json`, as Trainer writes."""
    folder = os.path.join(output_dir, f"checkpoint-{step}")
    os.makedirs(folder)
    for name in PLACEHOLDERS + ([JIT_MARKER] if jit_marker else []):
        with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
            f.write("placeholder")
    if complete:
        TrainerState(global_step=step).save_to_json(os.path.join(folder, "trainer_state.json"))
    return folder


def checkpoint_folders(output_dir):
    names = [name for name in os.listdir(output_dir) if name.startswith("checkpoint-")]
    return sorted(names, key=lambda name: int(name.split("-")[-1]))


def read_error_on(path):
    """Every `os.stat` of `path` fails with EIO, as on a flaky network filesystem."""
    stat = os.stat

    def failing_stat(target, *args, **kwargs):
        if os.fspath(target) == path:
            raise OSError(errno.EIO, os.strerror(errno.EIO), path)
        return stat(target, *args, **kwargs)

    return mock.patch("os.stat", failing_stat)


class CheckpointFolderTest(TestCasePlus):
    def test_newest_complete(self):
        output_dir = self.get_auto_remove_tmp_dir()
        make_checkpoint(output_dir, 2, complete=False)
        make_checkpoint(output_dir, 4)
        make_checkpoint(output_dir, 6, complete=False)
        make_checkpoint(output_dir, 8, jit_marker=True)  # a just-in-time save that did not finish
        with CaptureLogger(logging.get_logger("transformers.trainer_utils")) as captured:
            self.assertEqual(get_last_checkpoint(output_dir), os.path.join(output_dir, "checkpoint-4"))
        self.assertIn(f"checkpoint-8 (holds {JIT_MARKER}), checkpoint-6 (no trainer_state.json)", captured.out)

    def test_without_a_complete_one_the_newest_as_before(self):
        # A node that never writes `trainer_state.json` (node-local folders without `save_on_each_node`)
        output_dir = self.get_auto_remove_tmp_dir()
        self.assertIsNone(get_last_checkpoint(output_dir))
        make_checkpoint(output_dir, 2, complete=False)
        make_checkpoint(output_dir, 4, complete=False)
        with CaptureLogger(logging.get_logger("transformers.trainer_utils")) as captured:
            self.assertEqual(get_last_checkpoint(output_dir), os.path.join(output_dir, "checkpoint-4"))
        self.assertEqual(captured.out, "")
        from transformers.trainer import get_last_checkpoint as imported_from_trainer  # as in 5.24.0

        self.assertIs(imported_from_trainer, get_last_checkpoint)

    def test_skipped_named_once_by_the_main_process(self):
        output_dir = self.get_auto_remove_tmp_dir()
        make_checkpoint(output_dir, 2)
        make_checkpoint(output_dir, 4, complete=False)
        for rank, count in [("1", 0), ("0", 1)]:
            with mock.patch.dict(os.environ, {"RANK": rank}):
                with CaptureLogger(logging.get_logger("transformers.trainer_utils")) as captured:
                    get_last_checkpoint(output_dir)
                    get_last_checkpoint(output_dir)
            self.assertEqual(captured.out.count("checkpoint-4"), count)

    def test_read_error_is_not_incomplete(self):
        # EIO proves nothing: the checkpoint is not skipped (resuming from it shows the error, if it lasts)
        output_dir = self.get_auto_remove_tmp_dir()
        make_checkpoint(output_dir, 2)
        newest = make_checkpoint(output_dir, 4)
        with read_error_on(os.path.join(newest, "trainer_state.json")):
            self.assertEqual(get_last_checkpoint(output_dir), newest)

    def test_rotation_keeps_newest_complete(self):
        # Stock keeps the most recent folder: an interrupted save must not push out the one to resume from
        output_dir = self.get_auto_remove_tmp_dir()
        for step, complete in [(2, True), (4, True), (6, False)]:
            make_checkpoint(output_dir, step, complete=complete)
        rotate_checkpoints(output_dir, save_total_limit=1)
        self.assertEqual(checkpoint_folders(output_dir), ["checkpoint-4", "checkpoint-6"])

    def test_rotation_incomplete_older_than_newest_complete_goes_first(self):
        # A job killed while saving 20 resumed from 14 and saved 25: 20 can never be resumed from, and goes first
        output_dir = self.get_auto_remove_tmp_dir()
        for step, complete in [(8, True), (14, True), (20, False), (25, True)]:
            make_checkpoint(output_dir, step, complete=complete)
        rotate_checkpoints(output_dir, save_total_limit=2)
        self.assertEqual(checkpoint_folders(output_dir), ["checkpoint-14", "checkpoint-25"])

    def test_rotation_without_incomplete_folders_as_before(self):
        # A second run in the same folder saved checkpoint-2 after the first run's checkpoint-6: by save time (as
        # `Trainer` rotates), checkpoint-2 is the newest, and checkpoint-6 goes
        output_dir = self.get_auto_remove_tmp_dir()
        for age, step in enumerate((6, 2)):
            folder = make_checkpoint(output_dir, step)
            os.utime(folder, (1_000_000 + age, 1_000_000 + age))
        rotate_checkpoints(output_dir, save_total_limit=1, use_mtime=True)
        self.assertEqual(checkpoint_folders(output_dir), ["checkpoint-2"])

    def test_rotation_read_error_does_not_go_first(self):
        output_dir = self.get_auto_remove_tmp_dir()
        for step in (2, 4, 6):
            make_checkpoint(output_dir, step)
        with read_error_on(os.path.join(output_dir, "checkpoint-4", "trainer_state.json")):
            rotate_checkpoints(output_dir, save_total_limit=2)
        self.assertEqual(checkpoint_folders(output_dir), ["checkpoint-4", "checkpoint-6"])


@require_torch
class TrainerSaveResumeTest(TestCasePlus):
    def test_state_written_atomically(self):
        # A write of trainer_state.json that fails halfway leaves none, and no temporary file (a kill: `KilledJobTest`)
        folder = make_checkpoint(self.get_auto_remove_tmp_dir(), 4, complete=False)

        def write_half(state, path):
            with open(path, "w", encoding="utf-8") as f:
                f.write("{")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        with mock.patch.object(TrainerState, "save_to_json", write_half), self.assertRaises(OSError):
            tiny_trainer(folder)._save_trainer_state(folder)
        self.assertEqual(sorted(os.listdir(folder)), PLACEHOLDERS)

    def test_state_completes_jit_checkpoint(self):
        output_dir = self.get_auto_remove_tmp_dir()
        folder = make_checkpoint(output_dir, 4, complete=False, jit_marker=True)
        tiny_trainer(output_dir)._save_trainer_state(folder)
        self.assertEqual(get_last_checkpoint(output_dir), folder)

    def test_save_waits_for_every_process(self):
        # A checkpoint saved again loses its trainer_state.json before anyone writes into it; trainer_state.json is
        # written once every process has written its part, and older checkpoints deleted once it is written everywhere
        output_dir = self.get_auto_remove_tmp_dir()
        trainer = tiny_trainer(output_dir, save_total_limit=1)
        trainer.state.global_step = 4
        state_file = os.path.join(make_checkpoint(output_dir, 4), "trainer_state.json")
        events = []

        def record(event):
            return lambda *args, **kwargs: events.append(event)

        writes = {"save_model": "model", "_save_optimizer_and_scheduler": "optimizer", "_save_rng_state": "rng"}
        with (
            mock.patch.object(trainer.accelerator, "wait_for_everyone", record("wait")),
            mock.patch.multiple(
                Trainer, _save_trainer_state=record("state"), **{k: record(v) for k, v in writes.items()}
            ),
            mock.patch("transformers.trainer.rotate_checkpoints", record("rotate")),
        ):
            trainer._save_checkpoint(trainer.model, trial=None)
        self.assertFalse(os.path.exists(state_file))
        self.assertEqual(events, ["wait", "model", "optimizer", "rng", "wait", "state", "wait", "rotate"])

    def test_refuses_checkpoint_without_state(self):
        output_dir = self.get_auto_remove_tmp_dir()
        make_checkpoint(output_dir, 2)
        checkpoint = make_checkpoint(output_dir, 4, complete=False)
        with self.assertRaises(ValueError) as refused:  # before anything is loaded: placeholders would not load
            train_tiny_model(output_dir, resume_from_checkpoint=checkpoint)
        message = str(refused.exception)
        self.assertTrue(message.startswith(f"Can't find a valid checkpoint at {checkpoint}: it has no trainer_state"))
        self.assertIn(f"the newest in {output_dir} is {output_dir}/checkpoint-2", message)

    def test_refuses_missing_folder(self):
        # `--resume_from_checkpoint True` reaches `train()` as the string "True": stock's words, then what works
        with self.assertRaises(ValueError) as refused:
            train_tiny_model(self.get_auto_remove_tmp_dir(), resume_from_checkpoint="True")
        self.assertIn("Can't find a valid checkpoint at True: there is no such folder", str(refused.exception))
        self.assertIn("give the checkpoint's path", str(refused.exception))

    def test_accepts_checkpoint_without_optimizer(self):
        # What `save_model()` and `save_state()` write: resumed with a fresh optimizer and scheduler, as in stock
        folder = make_checkpoint(self.get_auto_remove_tmp_dir(), 4)
        for name in ("optimizer.pt", "scheduler.pt", "rng_state.pth"):
            os.remove(os.path.join(folder, name))
        Trainer._check_checkpoint_finished(folder)


@require_torch
class KilledJobTest(TestCasePlus):
    """A job SIGKILLed in a save resumes with `resume_from_checkpoint=True` from its newest complete checkpoint."""

    def kill_and_resume(self, output_dir, point, newest_complete, state_files, on_save=2, **killed_job):
        job = {"output_dir": output_dir, "save_total_limit": 1}
        killed = {"kill_at": point, "kill_on_save": on_save, **job, **killed_job}
        self.assertEqual(run_in_fresh_process(train_with_kill_switch, **killed), -signal.SIGKILL, "not killed")
        left = [name for name in os.listdir(f"{output_dir}/checkpoint-4") if name.startswith("trainer_state")]
        self.assertRegex(" ".join(left), f"^{state_files}$")
        self.assertEqual(get_last_checkpoint(output_dir), f"{output_dir}/checkpoint-{newest_complete}")

        self.assertEqual(run_in_fresh_process(train_tiny_model, resume_from_checkpoint=True, **job), 0)
        self.assertEqual(read_result(output_dir), {"start_step": newest_complete, "end_step": 6})
        # Leftovers were overwritten or rotated out: only the final checkpoint stays
        self.assertEqual(checkpoint_folders(output_dir), ["checkpoint-6"])

    @parameterized.expand(
        [
            ("before_trainer_state", 2, ""),  # all of checkpoint-4 but trainer_state.json
            ("while_trainer_state", 2, r"trainer_state\.json\.\w+\.tmp"),  # half of it, under a temporary name
            ("in_rotation", 4, r"trainer_state\.json"),  # checkpoint-4 complete, checkpoint-2 half deleted
        ]
    )
    def test_killed_in_save(self, point, newest_complete, state_files):
        self.kill_and_resume(self.get_auto_remove_tmp_dir(), point, newest_complete, state_files)

    def test_killed_in_save_again(self):
        # After a resume from checkpoint-2, checkpoint-4 is saved again: half new, half old, it is not complete
        output_dir = self.get_auto_remove_tmp_dir()
        self.assertEqual(run_in_fresh_process(train_tiny_model, output_dir=output_dir, max_steps=4), 0)
        resumed = {"resume_from_checkpoint": f"{output_dir}/checkpoint-2", "on_save": 1}
        self.kill_and_resume(output_dir, "after_model", 2, "", **resumed)


if __name__ == "__main__":
    unittest.main()
