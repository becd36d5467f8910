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
Time-based strategies with several processes: every process logs, evaluates and saves at the same steps, whatever its
own clock says. The test runs this module under torchrun (2 processes, gloo, CPU), where each process trains on a fake
clock that starts at another time and runs at another speed, then resumes from a checkpoint.
"""

import gc
import json
import os
import sys
from pathlib import Path

from transformers import Trainer, TrainingArguments
from transformers.testing_utils import (
    TestCasePlus,
    execute_subprocess_async,
    get_torch_dist_unique_port,
    require_torch,
    slow,
)

from ..time_strategy_testing import FakeClock, RandomTokenDataset, Ticks, patch_clock, tiny_model


# Rank 1's clock starts a million seconds later and counts each step as 1.3s: it finds intervals due first
CLOCK_START = {0: 0.0, 1: 1_000_000.0}
STEP_SECONDS = {0: 1.0, 1: 1.3}


def train(output_dir, max_steps, resume_from_checkpoint=None):
    rank = int(os.environ["RANK"])
    ticks = Ticks(FakeClock(CLOCK_START[rank]), STEP_SECONDS[rank])
    args = TrainingArguments(
        output_dir,
        max_steps=max_steps,
        per_device_train_batch_size=2,
        **{"logging_strategy": "time", "logging_time": 3, "eval_strategy": "time", "eval_time": 5},
        **{"save_strategy": "time", "save_time": 7, "report_to": [], "disable_tqdm": True, "use_cpu": True},
    )
    datasets = {"train_dataset": RandomTokenDataset(64), "eval_dataset": RandomTokenDataset(8, seed=1)}
    trainer = Trainer(model=tiny_model(), args=args, callbacks=[ticks], **datasets)
    with patch_clock(ticks.clock):
        trainer.train(resume_from_checkpoint=resume_from_checkpoint)
    return ticks.steps


@slow
@require_torch
class TimeStrategyDistributedTest(TestCasePlus):
    def test_processes_agree(self):
        output_dir = self.get_auto_remove_tmp_dir()
        command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2"]
        command += [f"--master_port={get_torch_dist_unique_port()}", "-m", __spec__.name, output_dir]
        execute_subprocess_async(command, env=self.get_env())  # its PYTHONPATH holds the folder above `tests`
        files = [Path(output_dir, f"events-rank{rank}.json") for rank in (0, 1)]
        events = [json.loads(file.read_text(encoding="utf-8")) for file in files]

        self.assertEqual(events[0], events[1])
        first, resumed = events[0]
        self.assertTrue(all(first.values()) and all(resumed.values()), events)
        # 5s of eval_time after step 1 are over at step 5 on rank 1 (5.2s), at step 6 on rank 0: both evaluate at 5
        self.assertEqual(first["evaluate"][0], 5)
        # Nothing time-based on the first step after resuming, and training still ends with a save
        self.assertNotIn(13, resumed["log"] + resumed["evaluate"] + resumed["save"])
        self.assertEqual(resumed["save"][-1], 20)


if __name__ == "__main__":  # each process under torchrun
    output_dir = sys.argv[1]
    first = train(output_dir, max_steps=12)
    resumed = train(output_dir, max_steps=20, resume_from_checkpoint=f"{output_dir}/checkpoint-12")
    with open(f"{output_dir}/events-rank{os.environ['RANK']}.json", "w", encoding="utf-8") as f:
        json.dump([first, resumed], f)
    import torch.distributed

    gc.collect()  # the trainers and their DDP models first, then the process group, as a script ends
    torch.distributed.destroy_process_group()
