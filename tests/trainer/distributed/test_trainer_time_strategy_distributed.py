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
Time-based strategies with several processes: every process must log, evaluate and save at the same steps, whatever
its own clock says. The test runs this module under torchrun (2 processes, gloo, CPU, DDP); each process gets a fake
clock that starts at a different value and runs at a different speed, records the steps of its events and writes them
out.
"""

import faulthandler
import json
import os
import subprocess
import sys
import unittest
from pathlib import Path

import psutil

from transformers import Trainer, TrainerCallback, TrainingArguments, is_torch_available
from transformers.testing_utils import (
    TestCasePlus,
    execute_subprocess_async,
    get_torch_dist_unique_port,
    require_torch,
    slow,
)

from ..time_strategy_testing import FakeClock, RandomTokenDataset, patch_clock, tiny_model


if is_torch_available():
    import torch


# Per-rank clocks: rank 1 starts later and counts each step as 30% longer, so it finds intervals due earlier.
CLOCK_START = {0: 0.0, 1: 1_000_000.0}
STEP_SECONDS = {0: 1.0, 1: 1.3}
TIMEOUT_SECONDS = 120  # a worker stuck in a mismatched collective (a hang) exits with an error after this long


class EventSteps(TrainerCallback):
    """Advances this process' fake clock by one simulated step and records the step of every event."""

    def __init__(self, clock, step_seconds):
        self.clock, self.step_seconds = clock, step_seconds
        self.events = {"log": [], "evaluate": [], "save": []}

    def on_step_begin(self, args, state, control, **kwargs):
        self.clock.advance(self.step_seconds)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if "loss" in logs:
            self.events["log"].append(state.global_step)

    def on_evaluate(self, args, state, control, **kwargs):
        self.events["evaluate"].append(state.global_step)

    def on_save(self, args, state, control, **kwargs):
        self.events["save"].append(state.global_step)


def train_and_record(output_dir, max_steps, resume_from_checkpoint=None):
    rank = int(os.environ["RANK"])
    clock = FakeClock(CLOCK_START[rank])
    recorder = EventSteps(clock, STEP_SECONDS[rank])
    args = TrainingArguments(
        output_dir,
        max_steps=max_steps,
        per_device_train_batch_size=2,
        logging_strategy="time",
        logging_time=3,
        eval_strategy="time",
        eval_time="5s",
        save_strategy="time",
        save_time="00:00:07",
        report_to=[],
        disable_tqdm=True,
        use_cpu=True,
    )
    datasets = {"train_dataset": RandomTokenDataset(64), "eval_dataset": RandomTokenDataset(8, seed=1)}
    trainer = Trainer(model=tiny_model(), args=args, callbacks=[recorder], **datasets)
    with patch_clock(clock):
        trainer.train(resume_from_checkpoint=resume_from_checkpoint)
    return recorder.events


def run_on_each_process(output_dir):
    """Runs on every process under torchrun: a first job of 12 steps, then a second job that resumes it to 20."""
    faulthandler.dump_traceback_later(TIMEOUT_SECONDS, exit=True)
    first = train_and_record(output_dir, max_steps=12)
    resumed = train_and_record(output_dir, max_steps=20, resume_from_checkpoint=f"{output_dir}/checkpoint-12")
    with open(f"{output_dir}/events-rank{os.environ['RANK']}.json", "w", encoding="utf-8") as f:
        json.dump({"first": first, "resumed": resumed}, f)
    # Without it, gloo's threads can abort the process at exit ("terminate called without an active exception")
    torch.distributed.destroy_process_group()


def run_on_two_processes(module: str, output_dir: str, timeout: float) -> tuple[int | None, str]:
    """
    Runs `python -m module output_dir` in 2 processes under torchrun, from the folder above `tests/`. Returns its exit
    status, or `None` if it ran past `timeout` seconds (its processes are then killed), and its output. Used by the
    time budget's tests.
    """
    package_root = Path(__file__).resolve().parents[3]
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2"]
    command += [f"--master_port={get_torch_dist_unique_port()}", "-m", module, output_dir]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    log_path = Path(output_dir) / "torchrun.log"
    with open(log_path, "w", encoding="utf-8") as log:
        launch = subprocess.Popen(command, env=env, cwd=package_root, stdout=log, stderr=subprocess.STDOUT)
        try:
            returncode = launch.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            # The workers run in sessions of their own: end them one by one, then torchrun
            launcher = psutil.Process(launch.pid)
            for process in [*launcher.children(recursive=True), launcher]:
                process.kill()
            launch.wait()
            returncode = None
    return returncode, log_path.read_text(encoding="utf-8")


@slow
@require_torch
class TimeStrategyDistributedTest(TestCasePlus):
    def test_processes_agree(self):
        output_dir = self.get_auto_remove_tmp_dir()
        command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2"]
        command += [f"--master_port={get_torch_dist_unique_port()}", "-m", __spec__.name, output_dir]
        # The module runs as part of the test package, from the folder above `tests/`
        env = self.get_env()
        env["PYTHONPATH"] = f"{Path(__file__).resolve().parents[3]}:{env['PYTHONPATH']}"
        env["OMP_NUM_THREADS"] = "1"
        execute_subprocess_async(command, env=env)
        events = [json.loads((Path(output_dir) / f"events-rank{rank}.json").read_text()) for rank in (0, 1)]

        # Clocks a million seconds apart and running at different speeds: the same steps on both processes
        self.assertEqual(events[0], events[1])
        for job in ("first", "resumed"):
            for kind in ("log", "evaluate", "save"):
                self.assertTrue(events[0][job][kind], f"no {kind} event in the {job} job")
        # Rank 1's steps last 1.3s on its clock: 5s of evaluation interval after the end of step 1 are over at step 5
        # on rank 1 (5.2s) and step 6 on rank 0, so both evaluate at step 5: the process that finds it due first
        self.assertEqual(events[0]["first"]["evaluate"][0], 5)
        # Nothing time-based on the first step after resuming, and training still ends with a save
        resumed = events[0]["resumed"]
        self.assertNotIn(13, resumed["log"] + resumed["evaluate"] + resumed["save"])
        self.assertEqual(resumed["save"][-1], 20)


if __name__ == "__main__":
    if "RANK" in os.environ:
        run_on_each_process(sys.argv[1])
    else:
        unittest.main()
