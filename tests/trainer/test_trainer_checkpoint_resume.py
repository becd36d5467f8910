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
Crash-safe resume: a job killed at any moment, even while it writes `checkpoint-N`, resumes with
`resume_from_checkpoint=True` from its newest complete checkpoint.

The kill tests run a training job in a child process that SIGKILLs itself when it reaches a named point of
`Trainer._save_checkpoint` (see `KILL_POINTS`), then resume it in a fresh child process. Children are forked from a
forkserver that has imported transformers once, so that a case takes about a second rather than the import time.
"""

import contextlib
import errno
import json
import multiprocessing
import os
import re
import shutil
import signal
import sys
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
    import transformers.trainer_callback
    from transformers import LlamaConfig, LlamaForCausalLM


JIT_MARKER = "checkpoint-is-incomplete.txt"  # written by `enable_jit_checkpoint` while it saves
VOCAB_SIZE = 32
SEQUENCE_LENGTH = 8
CHILD_TIMEOUT_SECONDS = 120  # a hang must fail the test, not CI

# Where a child kills itself, in the order `_save_checkpoint` gets there.
KILL_POINTS = (
    "before_save",  # a save is due, nothing written yet
    "after_model",  # weights and config written
    "after_optimizer",  # optimizer and scheduler written
    "after_rng",  # RNG states written
    "before_trainer_state",  # everything but trainer_state.json written
    "while_trainer_state",  # half of trainer_state.json written
    "in_rotation",  # checkpoint complete, the previous one half deleted by `save_total_limit`
)


def tiny_model():
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=VOCAB_SIZE,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
    )
    return LlamaForCausalLM(config)


class RandomTokens(torch.utils.data.Dataset if is_torch_available() else object):
    def __init__(self, length=64, seed=0):
        generator = torch.Generator().manual_seed(seed)
        self.input_ids = torch.randint(0, VOCAB_SIZE, (length, SEQUENCE_LENGTH), generator=generator)

    def __len__(self):
        return len(self.input_ids)

    def __getitem__(self, i):
        return {"input_ids": self.input_ids[i], "labels": self.input_ids[i]}


class RecordResume(TrainerCallback):
    """Writes down the step training starts from and the step it ends at."""

    def __init__(self, path):
        self.path, self.result = path, {}

    def on_train_begin(self, args, state, control, **kwargs):
        self.result["start_step"] = state.global_step

    def on_train_end(self, args, state, control, **kwargs):
        self.result["end_step"] = state.global_step
        if args.process_index == 0:
            with open(self.path, "w", encoding="utf-8") as f:
                json.dump(self.result, f)


class KillSwitch:
    """
    Patches the save path of `Trainer` so that this process SIGKILLs itself when it reaches `point` during save number
    `on_save` (1-based), and writes to `journal` the step of every checkpoint whose `trainer_state.json` was written.

    `point` is one of `KILL_POINTS`, or `"write-K"`: just before the K-th file write of that save (model weights,
    `torch.save` and `trainer_state.json` writes count).
    """

    def __init__(self, point=None, on_save=2, journal=None):
        self.point, self.on_save, self.journal = point, on_save, journal
        self.saves, self.in_save, self.writes, self.writing_state = 0, False, 0, False

    def armed(self):
        return self.in_save and self.saves == self.on_save

    def reached(self, point):
        if self.armed() and point == self.point:
            os.kill(os.getpid(), signal.SIGKILL)

    def write(self):
        if self.armed():
            self.writes += 1
            self.reached(f"write-{self.writes}")

    def install(self):
        switch = self

        def after(method, point):
            def wrapper(*args, **kwargs):
                result = method(*args, **kwargs)
                switch.reached(point)
                return result

            return wrapper

        save_checkpoint = Trainer._save_checkpoint

        def _save_checkpoint(trainer, *args, **kwargs):
            switch.saves, switch.in_save, switch.writes = switch.saves + 1, True, 0
            switch.reached("before_save")
            save_checkpoint(trainer, *args, **kwargs)
            switch.in_save = False

        Trainer._save_checkpoint = _save_checkpoint
        Trainer.save_model = after(Trainer.save_model, "after_model")
        Trainer._save_optimizer_and_scheduler = after(Trainer._save_optimizer_and_scheduler, "after_optimizer")
        Trainer._save_rng_state = after(Trainer._save_rng_state, "after_rng")

        save_to_json = TrainerState.save_to_json

        def state_save_to_json(state, json_path):
            switch.reached("before_trainer_state")
            switch.write()
            switch.writing_state = True
            try:
                save_to_json(state, json_path)
            finally:
                switch.writing_state = False
            folder = os.path.dirname(json_path)
            if switch.journal and re.fullmatch(r"checkpoint-\d+", os.path.basename(folder)):
                with open(switch.journal, "a", encoding="utf-8") as f:
                    f.write(f"{os.path.basename(folder)}\n")

        TrainerState.save_to_json = state_save_to_json

        class HalfWrite:
            """A text file that dies once half of what it is given is on disk."""

            def __init__(self, file):
                self.file = file

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.file.close()

            def write(self, text):
                self.file.write(text[: len(text) // 2])
                self.file.flush()
                switch.reached("while_trainer_state")
                return self.file.write(text[len(text) // 2 :])

            def __getattr__(self, name):
                return getattr(self.file, name)

        def open_in_trainer_callback(file, mode="r", *args, **kwargs):
            opened = open(file, mode, *args, **kwargs)
            return HalfWrite(opened) if switch.writing_state and "w" in mode else opened

        transformers.trainer_callback.open = open_in_trainer_callback

        torch_save = torch.save

        def counted_torch_save(*args, **kwargs):
            switch.write()
            return torch_save(*args, **kwargs)

        torch.save = counted_torch_save
        safe_save_file = transformers.modeling_utils.safe_save_file

        def counted_safe_save_file(*args, **kwargs):
            switch.write()
            return safe_save_file(*args, **kwargs)

        transformers.modeling_utils.safe_save_file = counted_safe_save_file

        rmtree = shutil.rmtree

        def rmtree_killed_halfway(path, *args, **kwargs):
            if switch.armed() and switch.point == "in_rotation":
                files = sorted(os.listdir(path))
                for name in files[: len(files) // 2]:
                    target = os.path.join(path, name)
                    os.remove(target) if os.path.isfile(target) else rmtree(target)
                switch.reached("in_rotation")
            return rmtree(path, *args, **kwargs)

        shutil.rmtree = rmtree_killed_halfway


def train_tiny_model(output_dir, max_steps=6, resume_from_checkpoint=None, **kwargs):
    """One training job: a tiny Llama saving every 2 steps. Writes `result.json` (first and last step) in `output_dir`."""
    kwargs = {"save_steps": 2, "report_to": [], "disable_tqdm": True, "use_cpu": True, **kwargs}
    args = TrainingArguments(output_dir, max_steps=max_steps, per_device_train_batch_size=2, **kwargs)
    model = tiny_model()
    recorder = RecordResume(os.path.join(output_dir, "result.json"))
    trainer = Trainer(model=model, args=args, train_dataset=RandomTokens(), callbacks=[recorder])
    trainer.train(resume_from_checkpoint=resume_from_checkpoint)


def train_with_kill_switch(output_dir, kill_at=None, kill_on_save=2, **kwargs):
    """
    `train_tiny_model`, killed at `kill_at` during save number `kill_on_save`, if given; the checkpoints whose
    `trainer_state.json` was written are listed in `journal.txt`. Only in a child process: it patches `Trainer`.
    """
    torch.set_num_threads(1)
    KillSwitch(kill_at, kill_on_save, journal=os.path.join(output_dir, "journal.txt")).install()
    train_tiny_model(output_dir, **kwargs)


def _run_and_exit(target, kwargs):
    try:
        target(**kwargs)
    except BaseException as error:
        print(f"{type(error).__name__}: {error}", file=sys.stderr, flush=True)
        os._exit(1)
    os._exit(0)


_forkserver = None


def run_in_fresh_process(target, timeout=CHILD_TIMEOUT_SECONDS, **kwargs):
    """Runs `target(**kwargs)` in a new process forked from a server that has this module imported: its exit code."""
    global _forkserver
    if _forkserver is None:
        _forkserver = multiprocessing.get_context("forkserver")
        _forkserver.set_forkserver_preload([__name__])
    process = _forkserver.Process(target=_run_and_exit, args=(target, kwargs))
    process.start()
    process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join()
        raise AssertionError(f"{target.__name__}({kwargs}) did not finish in {timeout}s")
    return process.exitcode


def newest_journaled_step(output_dir):
    """The step of the last checkpoint whose `trainer_state.json` was fully written, 0 if none."""
    path = os.path.join(output_dir, "journal.txt")
    if not os.path.exists(path):
        return 0
    with open(path, encoding="utf-8") as f:
        return int(f.read().split()[-1].split("-")[-1])


def read_result(output_dir):
    with open(os.path.join(output_dir, "result.json"), encoding="utf-8") as f:
        return json.load(f)


def make_checkpoint(output_dir, step, complete=True, jit_marker=False):
    """A checkpoint folder with placeholder files; complete ones end with `trainer_state.json`, as Trainer writes."""
    folder = os.path.join(output_dir, f"checkpoint-{step}")
    os.makedirs(folder)
    for name in ("model.safetensors", "optimizer.pt", "scheduler.pt", "rng_state.pth"):
        with open(os.path.join(folder, name), "wb") as f:
            f.write(b"placeholder")
    if complete:
        TrainerState(global_step=step).save_to_json(os.path.join(folder, "trainer_state.json"))
    if jit_marker:
        with open(os.path.join(folder, JIT_MARKER), "w", encoding="utf-8") as f:
            f.write("in progress")
    return folder


def checkpoint_folders(output_dir):
    return sorted(
        (name for name in os.listdir(output_dir) if name.startswith("checkpoint-")),
        key=lambda name: int(name.split("-")[-1]),
    )


@contextlib.contextmanager
def read_error_on(path, error=errno.EIO):
    """`path` exists but every `os.stat` or `open` of it fails with `error`, as on a flaky network filesystem."""
    stat, builtin_open = os.stat, open

    def failing_stat(target, *args, **kwargs):
        if os.fspath(target) == path:
            raise OSError(error, os.strerror(error), path)
        return stat(target, *args, **kwargs)

    def failing_open(target, *args, **kwargs):
        if os.fspath(target) == path:
            raise OSError(error, os.strerror(error), path)
        return builtin_open(target, *args, **kwargs)

    with mock.patch("os.stat", failing_stat), mock.patch("builtins.open", failing_open):
        yield


class CheckpointCompletenessTest(TestCasePlus):
    def test_newest_complete(self):
        output_dir = self.get_auto_remove_tmp_dir()
        make_checkpoint(output_dir, 2)
        make_checkpoint(output_dir, 4)
        make_checkpoint(output_dir, 6, complete=False)
        make_checkpoint(output_dir, 8, jit_marker=True)  # a just-in-time save that did not finish
        with CaptureLogger(logging.get_logger("transformers.trainer_utils")) as captured:
            self.assertEqual(get_last_checkpoint(output_dir), os.path.join(output_dir, "checkpoint-4"))
        self.assertIn("checkpoint-8", captured.out)
        self.assertIn("checkpoint-6", captured.out)

    def test_skipped_named_once_by_the_main_process(self):
        output_dir = self.get_auto_remove_tmp_dir()
        make_checkpoint(output_dir, 2)
        make_checkpoint(output_dir, 4, complete=False)
        for rank, lines in [("1", 0), ("0", 1)]:
            with mock.patch.dict(os.environ, {"RANK": rank}):
                with CaptureLogger(logging.get_logger("transformers.trainer_utils")) as captured:
                    get_last_checkpoint(output_dir)
                    get_last_checkpoint(output_dir)
            self.assertEqual(captured.out.count("checkpoint-4"), lines)

    def test_none_without_complete(self):
        output_dir = self.get_auto_remove_tmp_dir()
        self.assertIsNone(get_last_checkpoint(output_dir))
        make_checkpoint(output_dir, 2, complete=False)
        self.assertIsNone(get_last_checkpoint(output_dir))

    def test_read_error_is_not_incomplete(self):
        # EIO proves nothing about the checkpoint: it is not skipped (resuming from it shows the error, if it stays)
        output_dir = self.get_auto_remove_tmp_dir()
        make_checkpoint(output_dir, 2)
        newest = make_checkpoint(output_dir, 4)
        with read_error_on(os.path.join(newest, "trainer_state.json")):
            self.assertEqual(get_last_checkpoint(output_dir), newest)

    def test_state_written_atomically(self):
        output_dir = self.get_auto_remove_tmp_dir()
        path = os.path.join(output_dir, "trainer_state.json")
        TrainerState(global_step=2).save_to_json(path)
        TrainerState(global_step=4).save_to_json(path)
        self.assertEqual(os.listdir(output_dir), ["trainer_state.json"])  # no temporary file left behind
        self.assertEqual(TrainerState.load_from_json(path).global_step, 4)


class CheckpointRotationTest(TestCasePlus):
    def test_keeps_newest_complete(self):
        # Stock's rule protects the most recent folder: an interrupted save must not push out the one to resume from
        output_dir = self.get_auto_remove_tmp_dir()
        make_checkpoint(output_dir, 2)
        make_checkpoint(output_dir, 4)
        make_checkpoint(output_dir, 6, complete=False)
        rotate_checkpoints(output_dir, save_total_limit=1)
        self.assertEqual(checkpoint_folders(output_dir), ["checkpoint-4", "checkpoint-6"])

    def test_incomplete_older_than_newest_complete_goes_first(self):
        # A job killed while saving 20 resumed from 14 and saved 25: 20 can never be resumed from, and goes first
        output_dir = self.get_auto_remove_tmp_dir()
        for step, complete in [(8, True), (14, True), (20, False), (25, True)]:
            make_checkpoint(output_dir, step, complete=complete)
        rotate_checkpoints(output_dir, save_total_limit=2)
        self.assertEqual(checkpoint_folders(output_dir), ["checkpoint-14", "checkpoint-25"])

    def test_read_error_keeps_best(self):
        output_dir = self.get_auto_remove_tmp_dir()
        best = make_checkpoint(output_dir, 2)
        make_checkpoint(output_dir, 4)
        make_checkpoint(output_dir, 6)
        with read_error_on(os.path.join(best, "trainer_state.json")):
            rotate_checkpoints(output_dir, save_total_limit=2, best_model_checkpoint=best)
        self.assertEqual(checkpoint_folders(output_dir), ["checkpoint-2", "checkpoint-6"])

    def test_no_limit_deletes_nothing(self):
        output_dir = self.get_auto_remove_tmp_dir()
        make_checkpoint(output_dir, 2, complete=False)
        make_checkpoint(output_dir, 4)
        rotate_checkpoints(output_dir, save_total_limit=None)
        self.assertEqual(checkpoint_folders(output_dir), ["checkpoint-2", "checkpoint-4"])


@require_torch
class ResumeTest(TestCasePlus):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # One job trained in this process: checkpoint-2, checkpoint-4, checkpoint-6
        cls.trained_dir = cls().get_auto_remove_tmp_dir(after=False)
        train_tiny_model(cls.trained_dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.trained_dir, ignore_errors=True)
        super().tearDownClass()

    def copy_checkpoints(self, *steps):
        output_dir = self.get_auto_remove_tmp_dir()
        for step in steps:
            name = f"checkpoint-{step}"
            shutil.copytree(os.path.join(self.trained_dir, name), os.path.join(output_dir, name))
        return output_dir

    def test_folder_without_state(self):
        output_dir = self.copy_checkpoints(4)
        checkpoint = os.path.join(output_dir, "checkpoint-4")
        os.remove(os.path.join(checkpoint, "trainer_state.json"))
        with self.assertRaises(ValueError) as refused:
            train_tiny_model(output_dir, resume_from_checkpoint=checkpoint)
        message = str(refused.exception)
        self.assertTrue(message.startswith(f"Can't find a valid checkpoint at {checkpoint}"), message)
        self.assertIn("trainer_state.json", message)
        self.assertIn("resume_from_checkpoint=True", message)
        self.assertFalse(os.path.exists(os.path.join(output_dir, "result.json")), "training must not start")

    def test_command_line_true(self):
        # `--resume_from_checkpoint True` reaches `train()` as the string "True": stock's words, then what works
        output_dir = self.copy_checkpoints(4)
        with self.assertRaises(ValueError) as refused:
            train_tiny_model(output_dir, resume_from_checkpoint="True")
        message = str(refused.exception)
        self.assertTrue(message.startswith("Can't find a valid checkpoint at True"), message)
        self.assertIn("resume_from_checkpoint=True", message)
        self.assertIn("give the checkpoint's path", message)

    def test_folder_without_optimizer(self):
        # What `save_model()` and `save_state()` write: resumed with a fresh optimizer and scheduler, as in stock
        output_dir = self.copy_checkpoints(4)
        checkpoint = os.path.join(output_dir, "checkpoint-4")
        os.remove(os.path.join(checkpoint, "optimizer.pt"))
        os.remove(os.path.join(checkpoint, "scheduler.pt"))
        train_tiny_model(output_dir, resume_from_checkpoint=checkpoint)
        self.assertEqual(read_result(output_dir), {"start_step": 4, "end_step": 6})

    def test_skips_incomplete(self):
        output_dir = self.copy_checkpoints(2, 4)
        os.remove(os.path.join(output_dir, "checkpoint-4", "trainer_state.json"))
        with CaptureLogger(logging.get_logger("transformers.trainer_utils")) as captured:
            train_tiny_model(output_dir, resume_from_checkpoint=True)
        self.assertIn("Skipped incomplete checkpoints", captured.out)
        self.assertEqual(read_result(output_dir), {"start_step": 2, "end_step": 6})

    def test_resave_clears_jit_marker(self):
        # A just-in-time save of checkpoint-4 that did not finish; checkpoint-4 saved again is complete
        output_dir = self.copy_checkpoints(2, 4)
        make_marker = os.path.join(output_dir, "checkpoint-4", JIT_MARKER)
        with open(make_marker, "w", encoding="utf-8") as f:
            f.write("in progress")
        self.assertEqual(get_last_checkpoint(output_dir), os.path.join(output_dir, "checkpoint-2"))
        train_tiny_model(output_dir, max_steps=4, resume_from_checkpoint=True)
        self.assertEqual(get_last_checkpoint(output_dir), os.path.join(output_dir, "checkpoint-4"))


@require_torch
class KilledJobTest(TestCasePlus):
    """A job SIGKILLed in a save resumes with `resume_from_checkpoint=True` from its newest complete checkpoint."""

    def kill_and_resume(self, kill_at, kill_on_save=2, **job):
        output_dir = self.get_auto_remove_tmp_dir()
        job = {"output_dir": output_dir, "save_total_limit": 1, **job}
        exitcode = run_in_fresh_process(train_with_kill_switch, kill_at=kill_at, kill_on_save=kill_on_save, **job)
        self.assertEqual(exitcode, -signal.SIGKILL, f"the job was not killed at {kill_at}")
        newest_complete = newest_journaled_step(output_dir)
        self.assertGreater(newest_complete, 0)

        exitcode = run_in_fresh_process(train_tiny_model, resume_from_checkpoint=True, **job)
        self.assertEqual(exitcode, 0, f"the job killed at {kill_at} did not resume")
        self.assertEqual(read_result(output_dir), {"start_step": newest_complete, "end_step": 6})
        # Leftovers were overwritten or aged out through rotation: only the final checkpoint stays, complete
        self.assertEqual(checkpoint_folders(output_dir), ["checkpoint-6"])

    @parameterized.expand([("before_trainer_state",), ("while_trainer_state",), ("in_rotation",)])
    def test_killed_mid_save(self, point):
        # Everything but the state file; the state file half written; the previous checkpoint half deleted
        self.kill_and_resume(point)

    def test_killed_mid_resave(self):
        # A complete checkpoint-4 is saved again after resuming from checkpoint-2, and the job dies halfway through
        output_dir = self.get_auto_remove_tmp_dir()
        self.assertEqual(run_in_fresh_process(train_tiny_model, output_dir=output_dir, max_steps=4), 0)
        checkpoint = os.path.join(output_dir, "checkpoint-2")
        killed = {"kill_at": "after_model", "kill_on_save": 1, "resume_from_checkpoint": checkpoint}
        exitcode = run_in_fresh_process(train_with_kill_switch, output_dir=output_dir, max_steps=4, **killed)
        self.assertEqual(exitcode, -signal.SIGKILL)
        # Half new, half old: not complete, whatever its previous trainer_state.json said
        self.assertEqual(get_last_checkpoint(output_dir), checkpoint)


if __name__ == "__main__":
    unittest.main()
