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
Helpers to test the `"time"` logging, evaluation and save strategies without waiting.

Time is simulated with a `FakeClock` that the time schedule of `DefaultFlowCallback` reads instead of
`time.monotonic` (`patch_clock`):

- `TimedEventRecorder`, a callback added after `DefaultFlowCallback`, advances the clock by the duration of each update
  step in `on_step_begin` (and of each later micro-batch in `on_substep_end`), and records the events it sees;
- `TimedTrainer` advances the clock by the duration of an evaluation in `evaluate()` and of a save in
  `_save_checkpoint()`.

Nothing here sleeps, and every tensor is tiny: a whole training run takes a fraction of a second on a CPU.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from unittest import mock

from transformers import Trainer, TrainerCallback, TrainingArguments, is_torch_available
from transformers.trainer_callback import _TimeSchedule


if is_torch_available():
    import torch

    from transformers import LlamaConfig, LlamaForCausalLM


VOCAB_SIZE = 32
SEQUENCE_LENGTH = 8

# Durations are given either as one number of seconds or as a function of the 1-based update step.
Duration = float | Callable[[int], float]


class FakeClock:
    """A clock that only moves when told to. Call it to read the time, in seconds."""

    def __init__(self, start: float = 0.0):
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"A clock does not go back, got {seconds}s.")
        self.now += seconds


def patch_clock(clock: Callable[[], float]):
    """A context manager (or, with `.start()`, a patch for the whole process) making time schedules read `clock`."""
    return mock.patch.object(_TimeSchedule, "clock", clock)


def tiny_llama_config() -> "LlamaConfig":
    return LlamaConfig(
        vocab_size=VOCAB_SIZE,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
    )


def tiny_model(seed: int = 0) -> "LlamaForCausalLM":
    torch.manual_seed(seed)
    return LlamaForCausalLM(tiny_llama_config())


if is_torch_available():

    class RandomTokenDataset(torch.utils.data.Dataset):
        """`length` fixed sequences of random token ids, each its own label (causal language modeling)."""

        def __init__(self, length: int, seed: int = 0):
            generator = torch.Generator().manual_seed(seed)
            self.input_ids = torch.randint(0, VOCAB_SIZE, (length, SEQUENCE_LENGTH), generator=generator)

        def __len__(self):
            return len(self.input_ids)

        def __getitem__(self, i):
            return {"input_ids": self.input_ids[i], "labels": self.input_ids[i]}


def as_duration_function(duration: Duration) -> Callable[[int], float]:
    return duration if callable(duration) else (lambda step: duration)


@dataclass
class Event:
    """One callback event: its name, the global step and the time (on the fake clock) it was seen at."""

    name: str
    step: int
    time: float
    logs: dict = field(default_factory=dict)


class TimedEventRecorder(TrainerCallback):
    """
    Records `on_train_begin`, `on_step_end`, `on_log`, `on_evaluate`, `on_save` and `on_train_end`, and simulates
    the duration of training on `clock`.

    Add it through `Trainer(callbacks=[...])`, so that it runs after `DefaultFlowCallback`: its `on_step_begin` then
    advances the clock after `DefaultFlowCallback` has noted when the step began. `step_duration` is the duration of an
    update step; if `micro_batch_duration` is given instead, each micro-batch of gradient accumulation lasts that long.
    """

    def __init__(self, clock: FakeClock, step_duration: Duration = 1.0, micro_batch_duration: float | None = None):
        self.clock = clock
        self.step_duration = as_duration_function(step_duration)
        self.micro_batch_duration = micro_batch_duration
        self.events: list[Event] = []

    def _record(self, name, state, logs=None):
        self.events.append(Event(name, state.global_step, self.clock(), dict(logs or {})))

    def on_train_begin(self, args, state, control, **kwargs):
        self._record("on_train_begin", state)

    def on_step_begin(self, args, state, control, **kwargs):
        if self.micro_batch_duration is None:
            self.clock.advance(self.step_duration(state.global_step + 1))
        else:
            self.clock.advance(self.micro_batch_duration)

    def on_substep_end(self, args, state, control, **kwargs):
        # The next micro-batch of the same update step runs now
        if self.micro_batch_duration is not None:
            self.clock.advance(self.micro_batch_duration)

    def on_step_end(self, args, state, control, **kwargs):
        self._record("on_step_end", state)

    def on_log(self, args, state, control, logs=None, **kwargs):
        self._record("on_log", state, logs)

    def on_evaluate(self, args, state, control, **kwargs):
        self._record("on_evaluate", state)

    def on_save(self, args, state, control, **kwargs):
        self._record("on_save", state)

    def on_train_end(self, args, state, control, **kwargs):
        self._record("on_train_end", state)

    def steps(self, name: str) -> list[int]:
        """The global steps of the `name` events. `"train_log"` selects the logs of the training loss."""
        if name == "train_log":
            return [event.step for event in self.events if event.name == "on_log" and "loss" in event.logs]
        return [event.step for event in self.events if event.name == name]


class TimedTrainer(Trainer):
    """
    A `Trainer` whose time schedules read `clock` while it trains or evaluates, and on which an evaluation lasts
    `eval_duration` seconds and a checkpoint save `save_duration` seconds of that clock.
    """

    def __init__(self, *args, clock: FakeClock, eval_duration: float = 0.0, save_duration: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.clock = clock
        self.eval_duration = eval_duration
        self.save_duration = save_duration

    def train(self, *args, **kwargs):
        with patch_clock(self.clock):
            return super().train(*args, **kwargs)

    def evaluate(self, *args, **kwargs):
        self.clock.advance(self.eval_duration)
        with patch_clock(self.clock):
            return super().evaluate(*args, **kwargs)

    def _save_checkpoint(self, *args, **kwargs):
        super()._save_checkpoint(*args, **kwargs)
        self.clock.advance(self.save_duration)


def time_training_arguments(output_dir: str, **kwargs) -> TrainingArguments:
    """Training arguments for a tiny CPU run; logging, evaluation and saving are off unless `kwargs` turn them on."""
    defaults = {
        "max_steps": 12,
        "per_device_train_batch_size": 2,
        "per_device_eval_batch_size": 4,
        "logging_strategy": "no",
        "eval_strategy": "no",
        "save_strategy": "no",
        "use_cpu": True,
        "report_to": [],
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
    }
    return TrainingArguments(output_dir=output_dir, **{**defaults, **kwargs})


def make_timed_trainer(
    output_dir: str,
    clock: FakeClock | None = None,
    step_duration: Duration = 1.0,
    micro_batch_duration: float | None = None,
    eval_duration: float = 0.0,
    save_duration: float = 0.0,
    train_length: int = 16,
    eval_length: int = 4,
    compute_metrics=None,
    callbacks: Iterable[TrainerCallback] = (),
    trainer_class: type[TimedTrainer] = TimedTrainer,
    **training_kwargs,
) -> tuple[TimedTrainer, TimedEventRecorder]:
    """
    A `TimedTrainer` on a tiny Llama model and random tokens, and the `TimedEventRecorder` it calls. `callbacks` run
    after the recorder.
    """
    clock = clock if clock is not None else FakeClock()
    recorder = TimedEventRecorder(clock, step_duration=step_duration, micro_batch_duration=micro_batch_duration)
    trainer = trainer_class(
        model=tiny_model(),
        args=time_training_arguments(output_dir, **training_kwargs),
        train_dataset=RandomTokenDataset(train_length, seed=0),
        eval_dataset=RandomTokenDataset(eval_length, seed=1),
        compute_metrics=compute_metrics,
        callbacks=[recorder, *callbacks],
        clock=clock,
        eval_duration=eval_duration,
        save_duration=save_duration,
    )
    return trainer, recorder
