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
  `_save_checkpoint()`;
- `expected_time_events` rebuilds, from the training arguments and the simulated durations, the event sequence the
  rules of the time strategies call for.

Nothing here sleeps, and every tensor is tiny: a whole training run takes a fraction of a second on a CPU.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from unittest import mock

from transformers import DefaultFlowCallback, Trainer, TrainerCallback, TrainingArguments, is_torch_available
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


def default_flow_callback(trainer: Trainer) -> DefaultFlowCallback:
    for callback in trainer.callback_handler.callbacks:
        if isinstance(callback, DefaultFlowCallback):
            return callback
    raise ValueError("The trainer has no DefaultFlowCallback.")


@dataclass
class Event:
    """One callback event: its name, the global step and the time (on the fake clock) it was seen at."""

    name: str
    step: int
    time: float
    # Seconds of simulated training (update steps only, no evaluation or save) before the event
    trained: float
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
        self.trained = 0.0
        self.events: list[Event] = []

    def _train(self, seconds: float):
        self.clock.advance(seconds)
        self.trained += seconds

    def _record(self, name, state, logs=None):
        self.events.append(Event(name, state.global_step, self.clock(), self.trained, dict(logs or {})))

    def on_train_begin(self, args, state, control, **kwargs):
        self._record("on_train_begin", state)

    def on_step_begin(self, args, state, control, **kwargs):
        if self.micro_batch_duration is None:
            self._train(self.step_duration(state.global_step + 1))
        else:
            self._train(self.micro_batch_duration)

    def on_substep_end(self, args, state, control, **kwargs):
        # The next micro-batch of the same update step runs now
        if self.micro_batch_duration is not None:
            self._train(self.micro_batch_duration)

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

    def sequence(self) -> list[tuple[str, int]]:
        """`(event name, global step)` for every recorded event, in order."""
        return [(event.name, event.step) for event in self.events]

    def steps(self, name: str) -> list[int]:
        """The global steps of the `name` events. `"train_log"` selects the logs of the training loss."""
        if name == "train_log":
            return [event.step for event in self.events if event.name == "on_log" and "loss" in event.logs]
        return [event.step for event in self.events if event.name == name]

    def select(self, name: str) -> list[Event]:
        return [event for event in self.events if event.name == name]


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


def expected_time_events(
    args: TrainingArguments,
    max_steps: int,
    step_duration: Duration = 1.0,
    eval_duration: float = 0.0,
    save_duration: float = 0.0,
    first_step: int = 1,
    new_best_at: Iterable[int] = (),
) -> list[tuple[str, int]]:
    """
    The `(event name, global step)` sequence `TimedEventRecorder` should see when `train()` runs update steps
    `first_step` to `max_steps` under `args`, every strategy being `"time"` or `"no"`, from these rules:

    - every interval, and `eval_delay`, counts from the end of the first update step of `train()`, so nothing
      time-based happens at that step; `logging_first_step` still logs step 1;
    - an event of a kind (log, evaluation, save) is due at the end of the first update step by which its interval has
      elapsed since the previous event of that kind ended;
    - no evaluation is due before `eval_delay`;
    - with `load_best_model_at_end`, once `eval_delay` is over, a save brings its evaluation, and an evaluation that
      sets a new best (at the steps `new_best_at`) brings its save;
    - the last step evaluates (once `eval_delay` is over) and saves, once even if they were due anyway;
    - within a step: the training log, then the evaluation (its metrics log, then `on_evaluate`), then the save.

    Time is checked at the end of every update step, as a single process does.
    """
    duration = as_duration_function(step_duration)
    intervals = {}
    for kind in ("logging", "eval", "save"):
        strategy = getattr(args, f"{kind}_strategy")
        if strategy == "time":
            intervals[kind] = getattr(args, f"{kind}_time")
        elif strategy != "no":
            raise NotImplementedError(f"Only 'time' and 'no' strategies are simulated, got {kind}_strategy={strategy}")
    eval_delay = args.eval_delay if "eval" in intervals else 0
    new_best_at = set(new_best_at)

    now = 0.0
    events = [("on_train_begin", first_step - 1)]
    for step in range(first_step, max_steps + 1):
        now += duration(step)
        events.append(("on_step_end", step))
        if step == first_step:
            start = now
            restarted = dict.fromkeys(intervals, now)
        due = {kind for kind, interval in intervals.items() if now - restarted[kind] >= interval}
        eval_delay_over = now - start >= eval_delay
        if not eval_delay_over:
            due.discard("eval")
        elif args.load_best_model_at_end and "save" in due:
            due.add("eval")
        if step == max_steps:
            if "eval" in intervals and eval_delay_over:
                due.add("eval")
            if "save" in intervals:
                due.add("save")
        if args.logging_first_step and step == 1:
            due.add("logging")
        if args.load_best_model_at_end and "eval" in due and step in new_best_at:
            due.add("save")

        # Each interval restarts when its event ends
        if "logging" in due:
            events.append(("on_log", step))
            restarted["logging"] = now
        if "eval" in due:
            now += eval_duration
            events += [("on_log", step), ("on_evaluate", step)]
            restarted["eval"] = now
        if "save" in due:
            now += save_duration
            events.append(("on_save", step))
            restarted["save"] = now
    # The summary of the run is logged at the end of `train()`
    events += [("on_log", max_steps), ("on_train_end", max_steps)]
    return events


def steps_due_every(durations: Iterable[float], interval: float, first_step: int = 1) -> list[int]:
    """
    The steps at whose end `interval` seconds of training have passed since the end of the previous one, or of
    `first_step` (intervals count from there). `durations` lists the duration of each step from `first_step` on, and
    nothing but training takes time.
    """
    steps = []
    elapsed = 0.0
    for step, step_duration in enumerate(durations, start=first_step):
        if step == first_step:
            continue
        elapsed += step_duration
        if elapsed >= interval:
            steps.append(step)
            elapsed = 0.0
    return steps
