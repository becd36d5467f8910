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
Crash-safe resume with 2 processes (torchrun, gloo, CPU), each standing for a node with a folder of its own
(`save_on_each_node`): one is SIGKILLed in a save, and every process must resume from the same checkpoint. Run by the
test below, this module trains on each process with `train_with_kill_switch` of the single-process tests.
"""

import gc
import json
import os
import sys

from transformers.testing_utils import (
    TestCasePlus,
    execute_subprocess_async,
    get_torch_dist_unique_port,
    require_torch,
    slow,
)
from transformers.trainer_utils import get_last_checkpoint

from ..test_trainer_checkpoint_resume import checkpoint_folders, read_result, train_with_kill_switch


@slow
@require_torch
class KilledDistributedJobTest(TestCasePlus):
    def torchrun(self, job):
        command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--max_restarts=0"]
        command += [f"--master_port={get_torch_dist_unique_port()}", "-m", __spec__.name, json.dumps(job)]
        execute_subprocess_async(command, env={**self.get_env(), "OMP_NUM_THREADS": "1"}, timeout=120)

    def test_resume_from_checkpoint_complete_on_every_node(self):
        # Node 1 is killed as it would complete checkpoint-4, complete on node 0: both must resume from checkpoint-2
        output_dir = self.get_auto_remove_tmp_dir()
        job = {"output_dir": output_dir, "save_total_limit": 1, "save_on_each_node": True}
        with self.assertRaises(RuntimeError):  # torchrun ends the other process and fails
            self.torchrun({**job, "kill_at": "before_trainer_state"})
        nodes = [f"{output_dir}/node0", f"{output_dir}/node1"]
        self.assertEqual(
            list(map(get_last_checkpoint, nodes)), [f"{nodes[0]}/checkpoint-4", f"{nodes[1]}/checkpoint-2"]
        )

        self.torchrun({**job, "resume_from_checkpoint": True})
        for node in nodes:
            self.assertEqual(read_result(node), {"start_step": 2, "end_step": 6})
            self.assertEqual(checkpoint_folders(node), ["checkpoint-6"])


def run_worker(job):
    rank = int(os.environ["RANK"])
    # Each process is the main process of a node of its own, with a folder of its own
    os.environ["LOCAL_RANK"] = "0"
    job["output_dir"] = os.path.join(job["output_dir"], f"node{rank}")
    if rank != 1:
        job.pop("kill_at", None)
    # `save_pretrained` of 5.24.0 writes on global rank 0 only, whatever `is_main_process` says: the other nodes get
    # no model weights with `save_on_each_node`. A bug of its own, worked around here.
    from transformers.distributed.mixin import DistributedMixin

    DistributedMixin.should_save_on_this_rank = lambda model, is_main_process: is_main_process
    train_with_kill_switch(**job)


if __name__ == "__main__":
    run_worker(json.loads(sys.argv[1]))
    import torch.distributed

    gc.collect()  # the trainer and its DDP model first, then the process group, as a script ends
    torch.distributed.destroy_process_group()
