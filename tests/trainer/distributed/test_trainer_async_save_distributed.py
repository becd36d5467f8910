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
Asynchronous saves with two processes (torchrun, gloo, CPU): one process is SIGKILLed at a named point of the
asynchronous save of checkpoint-4, torchrun ends the other, and a new job resumes from the newest checkpoint complete
on every process. The test launches this module under torchrun; each worker runs `train_killed_at` of the
single-process tests.
"""

import json
import os
import sys
import unittest
from pathlib import Path

from parameterized import parameterized

from transformers.testing_utils import (
    TestCasePlus,
    execute_subprocess_async,
    get_torch_dist_unique_port,
    require_torch,
    slow,
)
from transformers.trainer_utils import get_last_checkpoint

from ..test_trainer_checkpoint_resume import checkpoint_folders, read_result


REPO_ROOT = Path(__file__).parents[3]


@require_torch
class KilledAsyncSaveDistributedTest(TestCasePlus):
    def torchrun(self, job):
        command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--max_restarts=0"]
        command += [f"--master_port={get_torch_dist_unique_port()}", "-m", __spec__.name, json.dumps(job)]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")])
        execute_subprocess_async(command, env=env, timeout=180)

    @parameterized.expand([("staging", 1), ("before:optimizer.pt", 0), ("before:marker", 0)])
    @slow
    def test_resumes_from_checkpoint_complete_everywhere(self, point, kill_rank):
        output_dir = self.get_auto_remove_tmp_dir()
        job = {"output_dir": output_dir, "save_total_limit": 1}
        with self.assertRaises(RuntimeError):  # torchrun fails: one worker was killed
            self.torchrun({**job, "point": point, "kill_rank": kill_rank})
        self.assertEqual(get_last_checkpoint(output_dir), os.path.join(output_dir, "checkpoint-2"))

        self.torchrun({**job, "resume_from_checkpoint": True})
        self.assertEqual(read_result(output_dir), {"start_step": 2, "end_step": 6})
        self.assertEqual(checkpoint_folders(output_dir), ["checkpoint-6"])
        files = os.listdir(os.path.join(output_dir, "checkpoint-6"))
        self.assertTrue({"rng_state_0.pth", "rng_state_1.pth", "trainer_state.json"} <= set(files), files)

    @slow
    def test_a_callback_on_one_process_makes_every_process_wait(self):
        # A user's `on_save` callback added on the main process only: saves wait for their writes on every process
        output_dir = self.get_auto_remove_tmp_dir()
        self.torchrun({"output_dir": output_dir, "on_save_on_rank_0": True})
        self.assertEqual(read_result(output_dir), {"start_step": 0, "end_step": 6})
        self.assertEqual(get_last_checkpoint(output_dir), os.path.join(output_dir, "checkpoint-6"))


def run_worker(job):
    from ..test_trainer_async_save import train_killed_at
    from ..test_trainer_checkpoint_resume import tiny_trainer, train_tiny_model

    try:
        if "point" in job:
            point, kill_rank = job.pop("point"), job.pop("kill_rank")
            train_killed_at(point=point if int(os.environ["RANK"]) == kill_rank else None, **job)
        elif job.pop("on_save_on_rank_0", False):
            from ..test_trainer_async_save import Writer

            trainer = tiny_trainer(max_steps=6, save_async=True, **job)
            if int(os.environ["RANK"]) == 0:
                trainer.add_callback(Writer())
            trainer.train()
        else:
            train_tiny_model(save_async=True, **job)
    finally:
        import torch.distributed

        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


if __name__ == "__main__":
    if "RANK" in os.environ:
        run_worker(json.loads(sys.argv[1]))
    else:
        unittest.main()
