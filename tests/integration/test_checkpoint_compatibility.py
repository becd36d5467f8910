"""
Checkpoints move both ways between the stock transformers release and the patched one.

The stock release's `TrainerState.load_from_json` passes every key of `trainer_state.json` to the constructor, so a
single new key would make checkpoints of the patched build unreadable by it. This runs three jobs in a row, each in a
process of its own: the stock release trains and saves by steps, the patched build resumes that checkpoint with time
strategies (or with asynchronous saves) and saves, and the stock release resumes the patched build's checkpoint.
"""

import os
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import unittest
from pathlib import Path


PROJECT_ROOT = Path(__file__).resolve().parents[2]


def train(output_dir: str, max_steps: int, strategy: str, resume: str | bool | None):
    """One job: a tiny model trained to `max_steps`, saving by `strategy`: "steps", "time" or "async" (by steps, in the
    background with `save_async=True`)."""
    import torch

    from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainingArguments

    torch.manual_seed(0)
    model = LlamaForCausalLM(
        LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2)
    )
    tokens = torch.randint(0, 32, (32, 8), generator=torch.Generator().manual_seed(0))
    dataset = [{"input_ids": row, "labels": row} for row in tokens]
    save = {"save_strategy": "steps", "save_steps": 4} if strategy != "time" else {"save_strategy": "time"}
    if strategy == "async":
        save["save_async"] = True
    if strategy == "time":
        save.update(save_time="1h", logging_strategy="time", logging_time="10m")
    args = TrainingArguments(
        output_dir, max_steps=max_steps, per_device_train_batch_size=4, report_to=[], use_cpu=True, **save
    )
    Trainer(model=model, args=args, train_dataset=dataset).train(resume_from_checkpoint=resume)


class CheckpointCompatibilityTest(unittest.TestCase):
    def setUp(self):
        pin = tomllib.loads((PROJECT_ROOT / "upstream.toml").read_text(encoding="utf-8"))["upstream"]
        sdist = PROJECT_ROOT / ".cache" / "sdist" / pin["sdist"]
        if not sdist.exists():
            self.skipTest(f"{sdist} is not there yet: `make fork` downloads it")
        self.tmp = Path(self.enterContext(tempfile.TemporaryDirectory()))
        with tarfile.open(sdist) as archive:
            archive.extractall(self.tmp / "stock", filter="data")
        self.stock_src = next((self.tmp / "stock").iterdir()) / "src"

    def job(self, build: str, max_steps: int, strategy: str, resume: str | bool | None = None) -> str:
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        if build == "stock":
            env["PYTHONPATH"] = str(self.stock_src)  # found before the patched build installed in the virtualenv
        code = (
            f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import transformers, "
            f"{Path(__file__).stem} as t; print(transformers.__file__); "
            f"t.train({str(self.tmp / 'out')!r}, {max_steps}, {strategy!r}, {resume!r})"
        )
        result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, f"{build} job failed:\n{result.stderr[-3000:]}")
        # Both builds report the release as `__version__` (the wheel's label is in its metadata only): no warning
        self.assertNotIn("You are resuming training from a checkpoint trained with", result.stderr)
        return result.stdout.splitlines()[0]

    def test_checkpoints_resume_from_stock_to_patched_and_back(self):
        self.resume_from_stock_to_patched_and_back("time")

    def test_async_checkpoints_resume_from_stock_to_patched_and_back(self):
        # Written in the background, the same files as a synchronous save: the stock release resumes them
        self.resume_from_stock_to_patched_and_back("async")

    def resume_from_stock_to_patched_and_back(self, patched_strategy: str):
        stock_module = self.job("stock", max_steps=4, strategy="steps")
        self.assertTrue(stock_module.startswith(str(self.stock_src)), stock_module)

        # `resume_from_checkpoint=True`: the stock checkpoint counts as complete for this build
        patched_module = self.job("patched", max_steps=8, strategy=patched_strategy, resume=True)
        self.assertFalse(patched_module.startswith(str(self.stock_src)), patched_module)
        self.assertTrue((self.tmp / "out/checkpoint-8/trainer_state.json").exists(), "the patched job saved nothing")

        self.job("stock", max_steps=10, strategy="steps", resume=str(self.tmp / "out/checkpoint-8"))
        self.assertTrue((self.tmp / "out/checkpoint-10/trainer_state.json").exists())
