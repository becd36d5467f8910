"""
Train a tiny model with any `TrainingArguments` given on the command line, then list the checkpoints it saved.

    .venv/bin/python examples/train_from_command_line.py --output_dir out/cli --max_steps 1500 \
        --save_strategy time --save_time 5s --logging_strategy time --logging_time 2s

A small Llama built from its config trains on random tokens on the CPU (no download), so every option of
`TrainingArguments` can be tried on any machine in seconds.
"""

import os
import time

import torch

from transformers import HfArgumentParser, LlamaConfig, LlamaForCausalLM, Trainer, TrainerCallback, TrainingArguments


class SaveTimes(TrainerCallback):
    """Prints when each checkpoint is saved, in seconds since training started."""

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = time.monotonic()

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            print(f"  saved checkpoint-{state.global_step} at {time.monotonic() - self.start:.1f}s", flush=True)


def main():
    (args,) = HfArgumentParser(TrainingArguments).parse_args_into_dataclasses()
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4
    )
    tokens = torch.randint(0, config.vocab_size, (256, 32), generator=torch.Generator().manual_seed(0))
    dataset = [{"input_ids": row, "labels": row} for row in tokens]
    print(f"save_strategy={args.save_strategy.value!r} save_time={args.save_time} save_steps={args.save_steps}")
    Trainer(model=LlamaForCausalLM(config), args=args, train_dataset=dataset, callbacks=[SaveTimes()]).train()
    checkpoints = [name for name in os.listdir(args.output_dir) if name.startswith("checkpoint-")]
    checkpoints.sort(key=lambda name: int(name.removeprefix("checkpoint-")))
    print(f"checkpoints in {args.output_dir}: {', '.join(checkpoints) or 'none'}")


if __name__ == "__main__":
    main()
