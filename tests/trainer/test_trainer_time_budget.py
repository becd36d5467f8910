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
Tests for `TrainingArguments.max_time`: the value, and when training stops under a time budget, driven by a fake clock
(nothing sleeps): what is kept in hand for the events timed and not timed yet, the final checkpoint under each save
strategy, the best model, the log and the metrics.
"""

import os
from unittest import mock

from parameterized import parameterized

from transformers import (
    HfArgumentParser,
    TrainerCallback,
    TrainerState,
    TrainingArguments,
    is_torch_available,
)
from transformers.testing_utils import TestCasePlus, require_torch
from transformers.trainer_callback import _TimeSchedule
from transformers.trainer_utils import get_last_checkpoint

from .time_strategy_testing import (
    FakeClock,
    RandomTokenDataset,
    TimedTrainer,
    make_timed_trainer,
    patch_clock,
    time_training_arguments,
)


if is_torch_available():
    import safetensors.torch as safetensors_torch
    import torch

    from transformers.trainer import TRAINER_STATE_NAME


CALLBACK_LOGGER = "transformers.trainer_callback"


class TakesTime(TrainerCallback):
    """Advances `clock` by `seconds` in `on_train_begin`: set-up inside `train()`, such as loading a checkpoint."""

    def __init__(self, clock: FakeClock, seconds: float):
        self.clock, self.seconds = clock, seconds

    def on_train_begin(self, args, state, control, **kwargs):
        self.clock.advance(self.seconds)


class SlowerAtTheStop(TrainerCallback):
    """Makes the evaluation and save of the stop `factor` times slower on `trainer` (the machine got busy)."""

    def __init__(self, factor: float):
        self.factor, self.trainer = factor, None

    def on_step_end(self, args, state, control, **kwargs):
        if control.should_training_stop:
            self.trainer.eval_duration *= self.factor
            self.trainer.save_duration *= self.factor


if is_torch_available():

    class UnsizedTokenDataset(torch.utils.data.IterableDataset):
        """The examples of a `RandomTokenDataset`, without a length."""

        def __init__(self, length: int):
            self.examples = RandomTokenDataset(length, seed=1)

        def __iter__(self):
            return (self.examples[i] for i in range(len(self.examples)))


class TimedEvaluationLoop(TimedTrainer):
    """A `TimedTrainer` on which evaluating each dataset takes 5s."""

    def evaluation_loop(self, *args, **kwargs):
        self.clock.advance(5)
        return super().evaluation_loop(*args, **kwargs)


@require_torch
class MaxTimeArgumentTest(TestCasePlus):
    def setUp(self):
        super().setUp()
        self.output_dir = self.get_auto_remove_tmp_dir()

    @parameterized.expand([("units", "3h50m", 13800.0), ("unset", None, None)])
    def test_seconds(self, _, value, seconds):
        self.assertEqual(time_training_arguments(self.output_dir, max_time=value).max_time, seconds)

    @parameterized.expand(
        [("word", "soon", "`max_time` is not a duration"), ("zero", 0, "`max_time` must be positive")]
    )
    def test_invalid_value_names_the_field(self, _, value, message):
        with self.assertRaisesRegex(ValueError, message):
            time_training_arguments(self.output_dir, max_time=value)

    def test_command_line(self):
        (args,) = HfArgumentParser(TrainingArguments).parse_args_into_dataclasses(
            ["--output_dir", self.output_dir, "--max_time", "23:30:00", "--report_to", "none"]
        )
        self.assertEqual(args.max_time, 84600.0)

    def test_checked_before_the_first_step(self):
        trainer, recorder = make_timed_trainer(self.output_dir, max_steps=4)
        trainer.args.max_time = "soon"
        with self.assertRaisesRegex(ValueError, "`max_time` is not a duration"):
            trainer.train()
        self.assertEqual(recorder.events, [])

    def test_several_processes_without_process_group(self):
        # Processes could not agree on the stop (TPU/XLA): refused when train() starts, before the first step
        trainer, recorder = make_timed_trainer(self.output_dir, max_steps=4, max_time=60)
        with mock.patch.object(type(trainer.args), "world_size", new_callable=mock.PropertyMock, return_value=2):
            with self.assertRaisesRegex(ValueError, "`max_time` with 2 processes need a `torch.distributed`"):
                trainer.train()
        self.assertEqual(recorder.events, [])


@require_torch
class TimeBudgetStopTest(TestCasePlus):
    """Training on a fake clock: update steps (1s unless said), evaluations and saves take the durations given."""

    def setUp(self):
        super().setUp()
        self.output_dir = self.get_auto_remove_tmp_dir()

    def train(self, max_steps=1000, **kwargs):
        trainer, recorder = make_timed_trainer(self.output_dir, max_steps=max_steps, **kwargs)
        output = trainer.train()
        return trainer, recorder, output

    def assertCompleteCheckpointAt(self, step):
        checkpoint = os.path.join(self.output_dir, f"checkpoint-{step}")
        self.assertTrue(os.path.isfile(os.path.join(checkpoint, TRAINER_STATE_NAME)))
        self.assertEqual(get_last_checkpoint(self.output_dir), checkpoint)

    def test_timed_events_due_and_final_are_kept_twice(self):
        # Epochs of 8 steps, then an evaluation and a save of 5s each. Step 16 ends at 26 with both due: going on
        # would keep twice 1 + 10 + 10s (a step, that epoch's events, the final ones), so its events are the final ones
        trainer, recorder, output = self.train(
            eval_strategy="epoch", save_strategy="epoch", eval_duration=5, save_duration=5, max_time=60
        )
        self.assertEqual(output.global_step, 16)
        self.assertEqual(recorder.steps("on_save"), [8, 16])
        self.assertEqual(recorder.clock(), 36)

    def test_final_events_twice_as_slow_as_any_before_end_within_the_budget(self):
        # Evaluations of 4s and saves of 2s, then the machine gets busy: the final ones take 8s and 4s
        slower = SlowerAtTheStop(factor=2)
        trainer, recorder = make_timed_trainer(
            self.output_dir, max_steps=1000, eval_strategy="steps", eval_steps=10, save_strategy="steps",
            save_steps=10, eval_duration=4, save_duration=2, max_time=60, callbacks=[slower],
        )  # fmt: skip
        slower.trainer = trainer
        output = trainer.train()
        self.assertLess(output.global_step, 1000)
        self.assertLessEqual(recorder.clock(), 60)

    def test_a_save_not_timed_yet_is_estimated_from_what_it_writes(self):
        # The first save is the final one (epoch-level saves, a long epoch). Kept: twice the step, and for the save
        # 1s plus the model's and optimizer's bytes at 100 MB/s (milliseconds here)
        trainer, recorder, output = self.train(
            train_length=2000, save_strategy="epoch", save_duration=0.5, max_time=100
        )
        self.assertEqual(output.global_step, 97)
        self.assertEqual(recorder.steps("on_save"), [97])
        self.assertEqual(recorder.clock(), 97.5)

    @parameterized.expand(
        [
            ("batches", {}, None, 90),
            ("larger_eval_batches", {"per_device_eval_batch_size": 4}, None, 90),
            ("gradient_accumulation", {"gradient_accumulation_steps": 2, "micro_batch_duration": 0.5}, None, 94),
            ("several_datasets", {}, {"a": 4, "b": 4}, 90),
            ("no_length", {}, "unsized", 88),
        ]
    )
    def test_an_evaluation_not_timed_yet_is_its_batches_at_the_pace_of_training(self, _, kwargs, datasets, stop):
        # 8 examples in batches of 2, as in training: kept as 4 steps, twice: 90 = 100 - 2 * (1 + 4). Without a
        # length, a tenth of `max_time`: 88 = 100 - 2 * 1 - 10
        trainer, recorder = make_timed_trainer(
            self.output_dir, max_steps=1000, eval_strategy="steps", eval_steps=1000, eval_duration=2, eval_length=8,
            save_strategy="no", max_time=100, **{"per_device_eval_batch_size": 2, **kwargs},
        )  # fmt: skip
        if datasets == "unsized":
            trainer.eval_dataset = UnsizedTokenDataset(8)
        elif datasets is not None:
            trainer.eval_dataset = {name: RandomTokenDataset(length, seed=1) for name, length in datasets.items()}
        trainer.train()
        self.assertEqual(recorder.steps("on_evaluate")[-1:], [stop])

    def test_an_evaluation_on_start_is_timed(self):
        # `eval_on_start` times the evaluation (3s), then kept twice: 3 + 89 = 100 - 2 * (1 + 3)
        trainer, recorder, output = self.train(
            eval_strategy="steps", eval_steps=1000, eval_duration=3, eval_on_start=True, save_strategy="no",
            max_time=100,
        )  # fmt: skip
        self.assertEqual(recorder.steps("on_evaluate"), [0, 89])

    def test_evaluations_of_several_datasets_add_up(self):
        # Each of 3 evaluation datasets takes 5s: an evaluation takes 15s, and the final one must fit
        trainer, recorder = make_timed_trainer(
            self.output_dir, max_steps=1000, trainer_class=TimedEvaluationLoop, eval_strategy="steps", eval_steps=10,
            save_strategy="no", max_time=100,
        )  # fmt: skip
        trainer.eval_dataset = {name: RandomTokenDataset(4, seed=1) for name in ("a", "b", "c")}
        output = trainer.train()
        self.assertLess(output.global_step, 1000)
        self.assertLessEqual(recorder.clock(), 100)

    def test_set_up_inside_train_counts(self):
        # 20s of set-up before the first step: 7 = 30 - 20 - 2 (twice a step) - 1 (the save, not timed yet)
        clock = FakeClock()
        trainer, recorder, output = self.train(
            clock=clock, callbacks=[TakesTime(clock, 20)], save_strategy="steps", save_steps=1000, max_time=30
        )
        self.assertEqual(output.global_step, 7)

    def test_budget_shorter_than_one_step_stops_after_the_first_step(self):
        trainer, recorder, output = self.train(step_duration=5, save_strategy="steps", save_steps=1000, max_time=2)
        self.assertEqual(output.global_step, 1)
        self.assertCompleteCheckpointAt(1)

    def test_reaching_max_steps_at_the_stop_ends_as_usual(self):
        # At step 10 of 10, the budget would stop training anyway: it ends, not stops
        trainer, recorder, output = self.train(max_steps=10, save_strategy="steps", save_steps=1000, max_time=13)
        self.assertEqual(output.global_step, 10)
        self.assertNotIn("train_stopped_early", output.metrics)

    @parameterized.expand(
        [
            ("steps", {"save_strategy": "steps", "save_steps": 1000}),
            ("time", {"save_strategy": "time", "save_time": "1h"}),
            ("epoch", {"save_strategy": "epoch"}),
            ("best", {"save_strategy": "best", "eval_strategy": "steps", "eval_steps": 1000}),
            ("best_each_epoch", {"save_strategy": "best", "eval_strategy": "epoch"}),
            ("no", {"save_strategy": "no"}),
        ]
    )
    def test_every_save_strategy_but_no_saves_once_at_the_stop(self, name, strategies):
        trainer, recorder, output = self.train(
            train_length=2000, max_time=50, metric_for_best_model="loss", **strategies
        )
        self.assertLess(output.global_step, 1000)
        if name == "no":
            self.assertIsNone(get_last_checkpoint(self.output_dir))
        else:
            self.assertEqual(recorder.steps("on_save"), [output.global_step])
            self.assertCompleteCheckpointAt(output.global_step)

    def test_stop_loads_the_best_model_and_keeps_the_last_checkpoint(self):
        # The first evaluation stays the best: as at any end of training, the best model is loaded, and with
        # `save_total_limit=1` the checkpoint of the stop is kept too, to resume from
        trainer, recorder, output = self.train(
            train_length=2000, eval_strategy="steps", eval_steps=5, save_strategy="steps", save_steps=5,
            load_best_model_at_end=True, metric_for_best_model="loss", greater_is_better=True, save_total_limit=1,
            max_time=40,
        )  # fmt: skip
        best = os.path.join(self.output_dir, "checkpoint-5")
        self.assertEqual(trainer.state.best_model_checkpoint, best)
        self.assertGreater(output.global_step, 5)
        self.assertCompleteCheckpointAt(output.global_step)
        saved = safetensors_torch.load_file(os.path.join(best, "model.safetensors"))
        for name, tensor in trainer.model.state_dict().items():
            if name in saved:
                torch.testing.assert_close(tensor, saved[name])

    def test_stop_is_logged_and_in_the_metrics(self):
        with self.assertLogs(CALLBACK_LOGGER, level="INFO") as logs:
            trainer, recorder, output = self.train(save_strategy="time", save_time=10, max_time=30)
        self.assertEqual(len([line for line in logs.output if "Time budget: training stops by" in line]), 1)
        (stop_log,) = [line for line in logs.output if "Stopping training at step" in line]
        self.assertIn("of the time budget (`max_time`, 30s), too few for one more step and the final save", stop_log)
        self.assertEqual(output.metrics["train_stopped_early"], 1.0)
        self.assertEqual(trainer.state.log_history[-1]["train_stopped_early"], 1.0)
        self.assertEqual(_TimeSchedule.of(trainer.state).stop_reason, "time budget")

    def test_resumed_training_gets_a_new_budget(self):
        trainer, recorder, output = self.train(save_strategy="steps", save_steps=1000, max_time=20)
        stopped_at = output.global_step
        trainer, recorder = make_timed_trainer(self.output_dir, max_steps=1000, save_strategy="no", max_time=20)
        output = trainer.train(resume_from_checkpoint=True)
        self.assertGreater(output.global_step, stopped_at + 10)

    @parameterized.expand([("no_save_before_the_stop", 1000, 0), ("slow_saves_every_25_steps", 25, 40)])
    def test_several_processes_stop_at_the_step_one_process_would(self, _, save_steps, save_seconds):
        # One process stands for all (its all-reduce leaves its own values): the checks reach the stop in time,
        # step-based saves between them included
        def run(world_size):
            args = time_training_arguments(self.output_dir, save_strategy="steps", save_steps=save_steps, max_time=600)
            state, clock, checks = TrainerState(global_step=1, max_steps=1000), FakeClock(), []
            clock.advance(1)
            with (
                patch_clock(clock),
                mock.patch.object(type(args), "world_size", new_callable=mock.PropertyMock, return_value=world_size),
                mock.patch.object(torch.distributed, "all_reduce", lambda *a, **k: checks.append(state.global_step)),
            ):
                schedule = _TimeSchedule(args, state, train_start=0.0)
                for step in range(2, state.max_steps + 1):
                    state.global_step = step
                    clock.advance(1)
                    requested = {"save"} if step % save_steps == 0 else set()
                    due = schedule.due(requested)
                    if requested or "stop" in due:
                        clock.advance(save_seconds)
                        schedule.event_ended("save")
                    if "stop" in due:
                        return step, clock(), checks

        one_process_stop, one_process_end, _ = run(world_size=1)
        stop, end, checks = run(world_size=2)
        self.assertEqual(stop, one_process_stop)
        self.assertLessEqual(end, 600)
        self.assertLess(len(checks), 30 + stop // save_steps)
