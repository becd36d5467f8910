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
`enable_jit_checkpoint` with 2 processes (torchrun, gloo, CPU): a SIGTERM to one of them stops both at the same step
with one complete checkpoint. Run by the test class below, this module trains on each process and writes what
`train()` returned.
"""

import gc
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psutil

from transformers import TrainerCallback, is_torch_available
from transformers.testing_utils import TestCasePlus, get_torch_dist_unique_port, require_torch, slow


if is_torch_available():
    import torch

    from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainingArguments


SIGNALLED_RANK, SIGNAL_STEP = 1, 3


class SigtermAtStep(TrainerCallback):
    """Sends this process a SIGTERM at the end of `step`, and waits until the JIT callback has the request."""

    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)
            for thread in threading.enumerate():
                if isinstance(thread, threading.Timer):  # the kill wait of `CheckpointManager`, set to 0 below
                    thread.join()


def train(output_dir):
    rank = int(os.environ["RANK"])
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2
    )
    inputs = torch.randint(0, 32, (64, 8), generator=torch.Generator().manual_seed(0))
    dataset = [{"input_ids": ids, "labels": ids} for ids in inputs]
    args = TrainingArguments(
        output_dir,
        max_steps=1000,
        per_device_train_batch_size=2,
        save_strategy="no",
        enable_jit_checkpoint=True,
        use_cpu=True,
        report_to=[],
        disable_tqdm=True,
    )
    callbacks = [SigtermAtStep(SIGNAL_STEP)] if rank == SIGNALLED_RANK else []
    trainer = Trainer(model=LlamaForCausalLM(config), args=args, train_dataset=dataset, callbacks=callbacks)
    for callback in trainer.callback_handler.callbacks:
        if getattr(callback, "jit_manager", None) is not None:
            callback.jit_manager.kill_wait = 0
    output = trainer.train()
    Path(output_dir, f"rank{rank}.json").write_text(json.dumps({"global_step": output.global_step}), encoding="utf-8")


@slow
@require_torch
class JITCheckpointDistributedTest(TestCasePlus):
    def test_sigterm_to_one_process_stops_both_at_the_same_step(self):
        output_dir = self.get_auto_remove_tmp_dir()
        command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2"]
        command += [f"--master_port={get_torch_dist_unique_port()}", __file__, output_dir]
        # Without the fix the processes hang in mismatched collectives, ignoring SIGTERM (the JIT handler takes it)
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        run = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            output = run.communicate(timeout=120)[0]
        except subprocess.TimeoutExpired:  # torchrun's workers lead sessions of their own: each is killed
            for process in [*psutil.Process(run.pid).children(recursive=True), psutil.Process(run.pid)]:
                process.kill()
            output = run.communicate()[0]
        self.assertEqual(run.returncode, 0, output[-3000:].decode(errors="replace"))
        steps = [
            json.loads(Path(output_dir, f"rank{rank}.json").read_text(encoding="utf-8"))["global_step"]
            for rank in (0, 1)
        ]
        # The request reaches the callback of the signalled process after its step end: both stop at the next one
        self.assertEqual(steps, [SIGNAL_STEP + 1, SIGNAL_STEP + 1])
        checkpoint = Path(output_dir, f"checkpoint-{SIGNAL_STEP + 1}")
        self.assertEqual(sorted(path.name for path in Path(output_dir).glob("checkpoint-*")), [checkpoint.name])
        self.assertTrue((checkpoint / "trainer_state.json").is_file())
        self.assertFalse((checkpoint / "checkpoint-is-incomplete.txt").exists())
        self.assertTrue((checkpoint / "rng_state_1.pth").is_file())


if __name__ == "__main__":
    train(sys.argv[1])
    gc.collect()  # the trainer and its DDP model first, then the process group, as a script ends
    torch.distributed.destroy_process_group()
