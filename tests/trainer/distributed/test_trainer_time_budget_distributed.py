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
Early stops with several processes: a time budget (`max_time`) and a SIGTERM (`enable_jit_checkpoint`) must stop
every process at the same update step, with one complete checkpoint there, whatever each process' clock says and
whichever process got the signal. One process stopping alone would leave the other waiting in a collective forever.

The test class launches this module once with torchrun (2 processes, gloo, CPU, DDP), which runs every scenario in
turn, each in a folder of its own; each process writes what its `train()` calls returned, and each test compares what
the processes wrote for its scenario and looks at the checkpoints left behind.
"""

import json
import os
import shutil
import signal
import sys
import tempfile
import time
import unittest
from pathlib import Path

from transformers import Trainer, TrainerCallback, is_torch_available
from transformers.testing_utils import (
    TestCasePlus,
    execute_subprocess_async,
    get_torch_dist_unique_port,
    require_torch,
    slow,
)
from transformers.trainer_callback import _TimeSchedule
from transformers.trainer_jit_checkpoint import CheckpointManager
from transformers.trainer_utils import get_last_checkpoint

from ..time_strategy_testing import (
    FakeClock,
    RandomTokenDataset,
    make_timed_trainer,
    time_training_arguments,
    tiny_model,
)
from .test_trainer_time_strategy_distributed import CLOCK_START, STEP_SECONDS


if is_torch_available():
    import torch


MAX_STEPS = 100_000  # never reached: every scenario stops early
TIMEOUT_SECONDS = 180  # a process stopping alone hangs the other in a collective: that must fail the test, not CI

# Time budget: per-rank fake clocks (`CLOCK_START`, `STEP_SECONDS`: rank 1's steps last 30% longer on its clock)
BUDGET_SECONDS = 30.0
SAVE_SECONDS = 2.0  # a checkpoint save, on the fake clocks
SAVE_TIME_SECONDS = 7.0

# SIGTERM: the real clock, on which an update step of the tiny model takes milliseconds; the stop comes
# `CheckpointManager.kill_wait` seconds after the signal, at the processes' next check (at most a second later)
SIGTERM_AT_STEP = {"one": {1: 5}, "both": {0: 5, 1: 20}}
# No save before the stop; a SIGTERM saves whatever the save strategy, "no" included
SIGTERM_SAVE_STRATEGY = {"one": {"save_strategy": "steps", "save_steps": MAX_STEPS}, "both": {"save_strategy": "no"}}
KILL_WAIT_SECONDS = CheckpointManager(trainer=None).kill_wait

# One launch for all (starting 2 processes takes longer than the scenarios): the time budget, a SIGTERM to one
# process, a SIGTERM to both
SCENARIOS = ("budget", *SIGTERM_AT_STEP)


class SignalAndSaveSteps(TrainerCallback):
    """Sends this process a SIGTERM at the end of update step `signal_step` (if any), and records the saved steps."""

    def __init__(self, signal_step=None):
        self.signal_step = signal_step
        self.signalled_at = None  # `time.monotonic()` when the signal was sent
        self.saves = []

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.signal_step:
            self.signalled_at = time.monotonic()
            os.kill(os.getpid(), signal.SIGTERM)

    def on_save(self, args, state, control, **kwargs):
        self.saves.append(state.global_step)


def train_on_a_time_budget(output_dir, rank):
    """`max_time` with skewed fake clocks, saving every `SAVE_TIME_SECONDS` of each process' clock."""
    clock = FakeClock(CLOCK_START[rank])
    trainer, recorder = make_timed_trainer(
        output_dir,
        clock=clock,
        step_duration=STEP_SECONDS[rank],
        save_duration=SAVE_SECONDS,
        train_length=64,
        max_steps=MAX_STEPS,
        save_strategy="time",
        save_time=SAVE_TIME_SECONDS,
        max_time=BUDGET_SECONDS,
    )
    started = clock()
    output = trainer.train()
    return {
        "global_step": output.global_step,
        "stop_reason": _TimeSchedule.of(trainer.state).stop_reason,
        "seconds": clock() - started,  # from the start of `train()` to its end, the final save included
        "saves": recorder.steps("on_save"),
    }


def train_until_sigterm(output_dir, rank, signal_step, **save_strategy):
    """`enable_jit_checkpoint` on the real clock; this process sends itself a SIGTERM at `signal_step`, if any."""
    recorder = SignalAndSaveSteps(signal_step)
    args = time_training_arguments(output_dir, max_steps=MAX_STEPS, enable_jit_checkpoint=True, **save_strategy)
    trainer = Trainer(model=tiny_model(), args=args, train_dataset=RandomTokenDataset(256), callbacks=[recorder])
    output = trainer.train()
    return {
        "global_step": output.global_step,
        "stop_reason": _TimeSchedule.of(trainer.state).stop_reason,
        "seconds_after_signal": None if recorder.signalled_at is None else time.monotonic() - recorder.signalled_at,
        "saves": recorder.saves,
    }


def run_on_each_process(output_dir):
    """Runs on every process under torchrun: each scenario in turn, writing what `train()` returned."""
    rank = int(os.environ["RANK"])
    for scenario in SCENARIOS:
        scenario_dir = os.path.join(output_dir, scenario)
        if scenario == "budget":
            result = train_on_a_time_budget(scenario_dir, rank)
        else:
            signal_step = SIGTERM_AT_STEP[scenario].get(rank)
            result = train_until_sigterm(scenario_dir, rank, signal_step, **SIGTERM_SAVE_STRATEGY[scenario])
        with open(os.path.join(scenario_dir, f"result-rank{rank}.json"), "w", encoding="utf-8") as f:
            json.dump(result, f)
    # Without it, gloo's threads can abort the process at exit ("terminate called without an active exception"); on a
    # loaded machine they still did once after every result was written, so the process leaves without the teardown
    torch.distributed.destroy_process_group()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


@slow
@require_torch
class EarlyStopAcrossProcessesTest(TestCasePlus):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.output_dir = tempfile.mkdtemp()
        for scenario in SCENARIOS:
            os.makedirs(os.path.join(cls.output_dir, scenario))
        command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2"]
        command += [f"--master_port={get_torch_dist_unique_port()}", "-m", __spec__.name, cls.output_dir]
        # The module runs as part of the test package, from the folder above `tests/`
        package_root = str(Path(__file__).resolve().parents[3])
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        # The scenarios run in turn: when one hangs, the run is killed and each test says which ones finished
        try:
            execute_subprocess_async(command, env=env, timeout=TIMEOUT_SECONDS, quiet=True)
            cls.failure = None
        except Exception as error:  # a worker that failed, or the run killed after TIMEOUT_SECONDS
            cls.failure = str(error)[-3000:]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.output_dir, ignore_errors=True)
        super().tearDownClass()

    def results(self, scenario):
        """What each process' `train()` returned in `scenario`, by rank, once both processes exited 0 in time."""
        self.scenario_dir = os.path.join(self.output_dir, scenario)
        paths = {rank: Path(self.scenario_dir) / f"result-rank{rank}.json" for rank in (0, 1)}
        finished = [name for name in SCENARIOS if (Path(self.output_dir) / name / "result-rank0.json").exists()]
        self.assertIsNone(self.failure, f"scenarios finished on rank 0: {finished}")
        return {rank: json.loads(path.read_text(encoding="utf-8")) for rank, path in paths.items()}

    def assert_complete_checkpoint_at(self, step):
        checkpoint = os.path.join(self.scenario_dir, f"checkpoint-{step}")
        self.assertTrue(os.path.isfile(os.path.join(checkpoint, "trainer_state.json")), os.listdir(self.scenario_dir))
        self.assertFalse(os.path.exists(os.path.join(checkpoint, "checkpoint-is-incomplete.txt")))
        self.assertEqual(get_last_checkpoint(self.scenario_dir), checkpoint)
        with open(os.path.join(checkpoint, "trainer_state.json"), encoding="utf-8") as f:
            self.assertEqual(json.load(f)["global_step"], step)

    def checkpoints(self):
        return sorted(path.name for path in Path(self.scenario_dir).glob("checkpoint-*"))

    def test_skewed_clocks_stop_every_process_at_the_same_step_with_one_complete_checkpoint(self):
        results = self.results("budget")
        step = results[0]["global_step"]
        self.assertEqual(results[1]["global_step"], step)
        self.assertLess(step, MAX_STEPS)
        for rank in (0, 1):
            self.assertEqual(results[rank]["stop_reason"], "time budget", results[rank])
            # Time-based saves fire at the same steps on both processes, and training ends with one
            self.assertEqual(results[rank]["saves"], results[0]["saves"])
            self.assertEqual(results[rank]["saves"][-1], step)
        self.assertGreater(len(results[0]["saves"]), 1, "no time-based save before the stop")
        self.assertIn(f"checkpoint-{step}", self.checkpoints())
        self.assert_complete_checkpoint_at(step)
        # By the fastest clock (rank 1's), the run ends within the budget, final save included; and it stopped no
        # earlier than needed: one more step, with twice a step and a save kept in hand, would not have fit
        seconds = results[1]["seconds"]
        self.assertLessEqual(seconds, BUDGET_SECONDS)
        in_hand = _TimeSchedule.margin * (STEP_SECONDS[1] + SAVE_SECONDS)
        self.assertGreater(seconds - SAVE_SECONDS + STEP_SECONDS[1] + in_hand, BUDGET_SECONDS)
        self.assertLessEqual(results[0]["seconds"], BUDGET_SECONDS)

    def assert_sigterm_stops_both_at_the_same_step(self, scenario):
        results = self.results(scenario)
        step = results[0]["global_step"]
        self.assertEqual(results[1]["global_step"], step)
        self.assertGreater(step, max(SIGTERM_AT_STEP[scenario].values()))
        self.assertLess(step, MAX_STEPS)
        for rank in (0, 1):
            self.assertEqual(results[rank]["stop_reason"], "SIGTERM", results[rank])
            self.assertEqual(results[rank]["saves"], [step])  # one save, the checkpoint of the stop
        # The first request waits `kill_wait` seconds before it reaches the schedule (a SIGKILL may follow a SIGTERM)
        first = min(SIGTERM_AT_STEP[scenario], key=SIGTERM_AT_STEP[scenario].get)
        self.assertGreaterEqual(results[first]["seconds_after_signal"], KILL_WAIT_SECONDS, results[first])
        self.assertEqual(self.checkpoints(), [f"checkpoint-{step}"])
        self.assert_complete_checkpoint_at(step)

    def test_sigterm_to_one_process_stops_both_at_the_same_step(self):
        self.assert_sigterm_stops_both_at_the_same_step("one")

    def test_sigterm_to_both_processes_at_different_steps_stops_both_at_the_same_step(self):
        self.assert_sigterm_stops_both_at_the_same_step("both")


if __name__ == "__main__":
    if "RANK" in os.environ:
        run_on_each_process(sys.argv[1])
    else:
        unittest.main()
