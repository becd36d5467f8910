"""
Train a tiny model with any `TrainingArguments` given on the command line, then list the checkpoints it saved.

    .venv/bin/python examples/train_from_command_line.py --output_dir out/cli --max_steps 300 --seconds_per_step 0.05 \
        --save_strategy time --save_time 5s --logging_strategy time --logging_time 2s

A small Llama built from its config trains on random tokens on the CPU (no download), so every option of
`TrainingArguments` can be tried on any machine in seconds. Its update steps take a few milliseconds: to watch a
time-based schedule, `--seconds_per_step` makes each one last at least that long, so that a run takes at least as
long on any machine (300 steps of 0.05 s: 15 s).
"""

import os
import time
from dataclasses import dataclass, field

import torch

from transformers import HfArgumentParser, LlamaConfig, LlamaForCausalLM, Trainer, TrainerCallback, TrainingArguments


@dataclass
class ExampleArguments:
    seconds_per_step: float = field(
        default=0.0,
        metadata={"help": "Make each update step last at least this many seconds (0: as fast as it goes)."},
    )


class SaveTimes(TrainerCallback):
    """Prints when each checkpoint is saved, in seconds since training started."""

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = time.monotonic()

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            print(f"  saved checkpoint-{state.global_step} at {time.monotonic() - self.start:.2f}s", flush=True)


class MinimumStepDuration(TrainerCallback):
    """Waits at the end of each update step until it has lasted `seconds`, as on a slower machine."""

    def __init__(self, seconds):
        self.seconds = seconds

    def on_step_begin(self, args, state, control, **kwargs):
        self.step_began = time.monotonic()

    def on_step_end(self, args, state, control, **kwargs):
        time.sleep(max(0.0, self.step_began + self.seconds - time.monotonic()))


def main():
    example, args = HfArgumentParser((ExampleArguments, TrainingArguments)).parse_args_into_dataclasses()
    torch.manual_seed(0)
    torch.set_num_threads(1)  # fastest for a model this small, and steady when other processes share the cores
    config = LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4
    )
    tokens = torch.randint(0, config.vocab_size, (256, 32), generator=torch.Generator().manual_seed(0))
    dataset = [{"input_ids": row, "labels": row} for row in tokens]
    print(f"save_strategy={args.save_strategy.value!r} save_time={args.save_time} save_steps={args.save_steps}")
    callbacks = [SaveTimes()] + ([MinimumStepDuration(example.seconds_per_step)] if example.seconds_per_step else [])
    Trainer(model=LlamaForCausalLM(config), args=args, train_dataset=dataset, callbacks=callbacks).train()
    checkpoints = [name for name in os.listdir(args.output_dir) if name.startswith("checkpoint-")]
    checkpoints.sort(key=lambda name: int(name.removeprefix("checkpoint-")))
    print(f"checkpoints in {args.output_dir}: {', '.join(checkpoints) or 'none'}")


if __name__ == "__main__":
    main()
