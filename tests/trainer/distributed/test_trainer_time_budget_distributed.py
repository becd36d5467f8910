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
`max_train_time` with 2 processes (torchrun, gloo, CPU) whose fake clocks disagree: both stop at the same step, with
one complete checkpoint. Run by the test class below, this module trains on each process and writes where it stopped.
"""

import gc
import os
import sys
from pathlib import Path
from unittest import mock

from parameterized import parameterized

from transformers import Trainer, TrainingArguments
from transformers.testing_utils import (
    TestCasePlus,
    execute_subprocess_async,
    get_torch_dist_unique_port,
    require_torch,
    slow,
)
from transformers.trainer_time_budget import TimeBudgetCallback
from transformers.trainer_utils import get_last_checkpoint

from ..test_trainer_time_budget import ARGS, SlowEvents
from ..time_strategy_testing import FakeClock, RandomTokenDataset, Ticks, tiny_model


# Rank 1's clock is a million seconds ahead and its steps take 1.3s. Alone, with 2 * 1.3s kept for a step and 1s for
# the save (not timed yet: a few kB), it would stop at step 21 (27.3s > 30 - 3.6s); rank 0 alone, at step 27
CLOCK_START, STEP_SECONDS = (0.0, 1e6), (1.0, 1.3)


def train(output_dir, save_steps):
    rank = int(os.environ["RANK"])
    clock = FakeClock(CLOCK_START[rank])
    strategy = {"save_strategy": "steps", "save_steps": save_steps}
    args = TrainingArguments(output_dir, max_train_time=30, **{**ARGS, **strategy})
    ticks = (Ticks if rank == 0 else SlowEvents)(clock, STEP_SECONDS[rank])  # rank 1's saves take 3s
    trainer = Trainer(tiny_model(), args, train_dataset=RandomTokenDataset(64), callbacks=[ticks])
    with mock.patch.object(TimeBudgetCallback, "clock", clock):
        output = trainer.train()
    Path(output_dir, f"rank{rank}.txt").write_text(str(output.global_step), encoding="utf-8")


@slow
@require_torch
class TimeBudgetDistributedTest(TestCasePlus):
    @parameterized.expand(
        [
            ("at_a_step_end", 1000, 21),
            # The first save, at step 20 (both: 26s + 2 * 1.3s + 1s + 1s > 30 on rank 1), runs before the stop is
            # decided again: rank 1's save of 3s spends the budget there, rank 0's does not. Both stop at step 20
            ("at_the_first_save", 20, 20),
        ]
    )
    def test_skewed_clocks_stop_both_processes_at_the_same_step_with_one_complete_checkpoint(
        self, _, save_steps, step
    ):
        output_dir = self.get_auto_remove_tmp_dir()
        command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2"]
        command += [f"--master_port={get_torch_dist_unique_port()}", "-m", __spec__.name, output_dir, str(save_steps)]
        # The module runs as part of the test package, from the folder above `tests/`
        env = self.get_env()
        env["PYTHONPATH"] = f"{Path(__file__).resolve().parents[3]}:{env['PYTHONPATH']}"
        env["OMP_NUM_THREADS"] = "1"
        execute_subprocess_async(command, env=env, timeout=300)
        steps = [Path(output_dir, f"rank{rank}.txt").read_text(encoding="utf-8") for rank in (0, 1)]
        self.assertEqual(steps, [str(step), str(step)])
        checkpoint = Path(output_dir, f"checkpoint-{step}")
        self.assertEqual(sorted(path.name for path in Path(output_dir).glob("checkpoint-*")), [checkpoint.name])
        self.assertEqual(get_last_checkpoint(output_dir), str(checkpoint))  # complete: trainer_state.json written
        self.assertTrue((checkpoint / "rng_state_1.pth").is_file())


if __name__ == "__main__":
    train(sys.argv[1], int(sys.argv[2]))
    import torch.distributed

    gc.collect()  # the trainer and its DDP model first, then the process group, as a script ends
    torch.distributed.destroy_process_group()
