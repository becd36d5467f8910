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
`Trainer.end()` with two processes (torchrun, gloo, CPU), whose workers exit normally (no `os._exit`).

The DDP model keeps a reference to the process group. When it outlives `Trainer.end()` (`destroy_process_group()`) and
is freed last, it frees the group with the GIL held, and gloo joins its worker threads there; a worker thread that is
still freeing the tensors of a collective needs the GIL for it: the process never exits. At the end of a run, the
gloo thread that ran the last all-gather (`store_flos`) sometimes frees it after the training thread moved on, which
is a race. Here, rank 1 makes it certain: its gloo thread runs an all-gather that only rank 0's exit ends (rank 0
never joins it), and rank 1 frees the DDP model before rank 0 exits (it tells rank 0 through a store).
"""

import contextlib
import os
import signal
import subprocess
import sys
import unittest
from pathlib import Path

from transformers.testing_utils import TestCasePlus, get_torch_dist_unique_port, require_torch, slow


@slow
@require_torch
class TrainerEndDistributedTest(TestCasePlus):
    def test_exits_when_ddp_model_is_freed_after_end(self):
        output_dir = self.get_auto_remove_tmp_dir()
        command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--max_restarts=0"]
        command += [f"--master_port={get_torch_dist_unique_port()}", __file__, output_dir]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        log = os.path.join(output_dir, "torchrun.log")
        with open(log, "w", encoding="utf-8") as stdout:
            process = subprocess.Popen(command, env=env, stdout=stdout, stderr=subprocess.STDOUT)
            try:
                process.wait(timeout=180)
            except subprocess.TimeoutExpired:
                process.terminate()  # torchrun ends the workers it started
                process.wait()
                for pid_file in Path(output_dir).glob("pid-*"):  # a hung worker that torchrun left behind
                    with contextlib.suppress(ProcessLookupError, ValueError):
                        os.kill(int(pid_file.read_text(encoding="utf-8")), signal.SIGKILL)
        output = Path(log).read_text(encoding="utf-8")
        self.assertEqual(process.returncode, 0, f"A worker did not exit after Trainer.end():\n{output[-3000:]}")
        self.assertEqual(output.count(": end of the worker"), 2, output[-3000:])


def run_worker(output_dir):
    import gc

    import torch
    import torch.distributed as dist
    from torch import nn

    from transformers import Trainer, TrainingArguments

    class TinyModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(4, 1)

        def forward(self, x, labels=None):
            return {"loss": nn.functional.mse_loss(self.linear(x).squeeze(-1), labels)}

    Path(output_dir, f"pid-{os.environ['RANK']}").write_text(str(os.getpid()), encoding="utf-8")
    train_dataset = [{"x": torch.randn(4), "labels": torch.randn(())} for _ in range(16)]
    args = TrainingArguments(
        output_dir, use_cpu=True, max_steps=2, per_device_train_batch_size=2, report_to="none", save_strategy="no"
    )
    trainer = Trainer(model=TinyModel(), args=args, train_dataset=train_dataset)
    trainer.train()
    ddp_model = trainer.model_wrapped
    assert isinstance(ddp_model, nn.parallel.DistributedDataParallel), type(ddp_model)
    rank = dist.get_rank()
    store = dist.FileStore(os.path.join(output_dir, "store"), 2)
    if rank == 1:
        # Only the gloo worker thread references this all-gather: it frees it, and its tensors, once rank 0 exits
        dist.all_gather([torch.empty(1), torch.empty(1)], torch.ones(1), async_op=True)
    trainer.end()
    del trainer
    gc.collect()  # `ddp_model` holds the last reference to the DDP model
    if rank == 1:
        store.set("freeing", "1")
        del ddp_model  # frees its Reducer, and with it the process group if nothing else keeps it
    else:
        store.wait(["freeing"])  # rank 0 exits (ending the all-gather of rank 1) once rank 1 has freed its model
    print(f"rank {rank}: end of the worker", flush=True)


if __name__ == "__main__":
    if "LOCAL_RANK" in os.environ:
        run_worker(sys.argv[1])
    else:
        unittest.main()
