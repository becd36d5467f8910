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
Crash-safe resume with several processes (torchrun, gloo, CPU): one process is SIGKILLed at a named point of a save,
torchrun ends the others, and a new torchrun job resumes with `resume_from_checkpoint=True`. Every process must resume
from the same step: the newest checkpoint complete on every node.

The test launches this module under torchrun; each worker runs `train_with_kill_switch` of the single-process tests.
"""

import json
import os
import signal
import subprocess
import sys
import unittest
from pathlib import Path

from transformers.testing_utils import (
    TestCasePlus,
    get_torch_dist_unique_port,
    require_fsdp,
    require_torch,
    require_torch_multi_accelerator,
    slow,
)

from ..test_trainer_checkpoint_resume import checkpoint_folders, newest_journaled_step, read_result


REPO_ROOT = Path(__file__).parents[3]
TIMEOUT_SECONDS = 180  # a hang must fail the test, not CI


def torchrun(jobs, timeout=TIMEOUT_SECONDS):
    """
    Runs one torchrun agent per entry of `jobs` (one per simulated node: `--nnodes len(jobs)` on localhost), each
    with `nproc_per_node` workers running `train_with_kill_switch(**job)`. Returns the agents' exit codes.

    Every agent runs in a session of its own, and the whole group is killed if the job outlives `timeout`: no worker
    is ever left behind. (`execute_subprocess_async` runs one command at a time; two nodes need two agents at once.)
    """
    port, env = get_torch_dist_unique_port(), {**os.environ, "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")])
    agents = []
    for node_rank, job in enumerate(jobs):
        command = [sys.executable, "-m", "torch.distributed.run", f"--nnodes={len(jobs)}", f"--node_rank={node_rank}"]
        command += [f"--nproc_per_node={job.pop('nproc_per_node', 1)}", "--master_addr=127.0.0.1"]
        command += [f"--master_port={port}", "--max_restarts=0", "-m", __spec__.name, json.dumps(job)]
        log = open(Path(job["output_dir"]) / f"torchrun-node{node_rank}.log", "a", encoding="utf-8")
        agents.append(
            subprocess.Popen(command, env=env, cwd=REPO_ROOT, stdout=log, stderr=log, start_new_session=True)
        )
        log.close()
    try:
        for agent in agents:
            agent.wait(timeout=timeout)
    finally:
        for agent in agents:
            if agent.poll() is None:
                os.killpg(agent.pid, signal.SIGKILL)
                agent.wait()
    return [agent.returncode for agent in agents]


def log_tail(output_dir):
    return "\n".join(path.read_text(encoding="utf-8")[-3000:] for path in sorted(Path(output_dir).rglob("*.log")))


@require_torch
class KilledDistributedJobTest(TestCasePlus):
    def kill_and_resume(self, kill_at, kill_rank, nodes=1, nproc_per_node=2, node_local=False, **job):
        """Kills process `kill_rank` at `kill_at` during the second save, then resumes; returns the output folders."""
        base = self.get_auto_remove_tmp_dir()
        folders = [os.path.join(base, f"node{node}") if node_local else base for node in range(nodes)]
        for folder in folders:
            os.makedirs(folder, exist_ok=True)
        job = {"save_total_limit": 1, "save_on_each_node": node_local, **job}
        jobs = [{"output_dir": folder, "nproc_per_node": nproc_per_node, **job} for folder in folders]

        killed = [{**node_job, "kill_at": kill_at, "kill_rank": kill_rank} for node_job in jobs]
        self.assertTrue(any(torchrun(killed)), f"the job was not killed at {kill_at}\n{log_tail(base)}")
        # The newest checkpoint complete on every node
        newest_complete = min(newest_journaled_step(folder) for folder in set(folders))
        self.assertGreater(newest_complete, 0)

        # ...and whole: the RNG state of every process that saves into its folder is there
        writers = nproc_per_node if node_local else nodes * nproc_per_node
        for folder in folders:
            checkpoint = Path(folder) / f"checkpoint-{newest_complete}"
            rng_states = list(checkpoint.glob("rng_state_*.pth"))
            self.assertEqual(len(rng_states), writers, sorted(checkpoint.iterdir()))

        resumed = [{**node_job, "resume_from_checkpoint": True} for node_job in jobs]
        self.assertEqual(torchrun(resumed), [0] * nodes, f"the job did not resume\n{log_tail(base)}")
        self.assertEqual(read_result(folders[0]), {"start_step": newest_complete, "end_step": 6})
        for folder in folders:
            self.assertEqual(checkpoint_folders(folder), ["checkpoint-6"])
        return folders

    @slow
    def test_complete_once_every_process_wrote(self):
        # Rank 1 dies before writing its RNG state: rank 0 must not mark the checkpoint complete without it
        self.kill_and_resume("after_optimizer", kill_rank=1)

    @slow
    @require_fsdp
    @require_torch_multi_accelerator  # Accelerate ignores `fsdp` on the CPU: the job would run DDP instead
    def test_fsdp_sharded(self):
        # A sharded state dict: every process writes its own shards of the model and optimizer
        fsdp_config = {"state_dict_type": "SHARDED_STATE_DICT"}
        job = {"fsdp": "full_shard", "fsdp_config": fsdp_config, "use_cpu": False}
        self.kill_and_resume("after_optimizer", kill_rank=1, **job)

    @slow
    def test_two_nodes_shared_folder(self):
        self.kill_and_resume("after_model", kill_rank=0, nodes=2, nproc_per_node=1)

    @slow
    def test_two_nodes_local_folders(self):
        # Node 0 marks checkpoint-4 complete, node 1 is killed just before: both must resume from checkpoint-2
        self.kill_and_resume("before_trainer_state", kill_rank=1, nodes=2, nproc_per_node=1, node_local=True)


def run_worker(job):
    from ..test_trainer_checkpoint_resume import train_with_kill_switch

    if int(os.environ["RANK"]) != job.pop("kill_rank", None):
        job["kill_at"] = None
    if job.get("save_on_each_node"):
        # `save_pretrained` of 5.24.0 writes on global rank 0 only, whatever `is_main_process` says: the other nodes
        # get no model weights with `save_on_each_node`. A bug of its own, worked around here.
        from transformers.distributed.mixin import DistributedMixin

        DistributedMixin.should_save_on_this_rank = lambda model, is_main_process: is_main_process
    try:
        train_with_kill_switch(**job)
    finally:
        import torch.distributed

        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


if __name__ == "__main__":
    if "RANK" in os.environ:
        run_worker(json.loads(sys.argv[1]))
    else:
        unittest.main()
