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
Tests for `TrainingArguments.max_time`.

This module tests:
- `max_time`: the forms it accepts and refuses, from Python, the command line, config files and attributes
- When training stops under a time budget, driven by a fake clock (nothing sleeps): the time kept for the final
  evaluation and save, timed or not yet timed, set-up inside `train()`, budgets shorter than a step
- The final checkpoint under each save strategy, the logs and the metrics
"""

import json
import os
from datetime import timedelta
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

    @parameterized.expand(
        [
            ("seconds", 90, 90.0),
            ("units", "3h50m", 13800.0),
            ("clock", "71:00:00", 255600.0),
            ("timedelta", timedelta(hours=1), 3600.0),
            ("unset", None, None),
        ]
    )
    def test_max_time_is_float_seconds(self, _, value, seconds):
        self.assertEqual(time_training_arguments(self.output_dir, max_time=value).max_time, seconds)

    @parameterized.expand(
        [
            ("word", "soon", "`max_time` is not a duration"),
            ("zero", 0, "`max_time` must be positive"),
            ("negative", "-1h", "`max_time` must be positive"),
        ]
    )
    def test_invalid_max_time_raises_naming_the_field(self, _, value, message):
        with self.assertRaisesRegex(ValueError, message):
            time_training_arguments(self.output_dir, max_time=value)

    def test_max_time_from_command_line_and_config_file(self):
        (args,) = HfArgumentParser(TrainingArguments).parse_args_into_dataclasses(
            ["--output_dir", self.output_dir, "--max_time", "3h50m", "--report_to", "none"]
        )
        self.assertEqual(args.max_time, 13800.0)
        path = os.path.join(self.output_dir, "args.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"output_dir": self.output_dir, "report_to": "none", "max_time": "23:30:00"}, f)
        (args,) = HfArgumentParser(TrainingArguments).parse_json_file(path)
        self.assertEqual(args.max_time, 84600.0)

    def test_max_time_from_command_line_refuses_a_non_duration(self):
        with self.assertRaisesRegex(ValueError, "`max_time` is not a duration"):
            HfArgumentParser(TrainingArguments).parse_args_into_dataclasses(
                ["--output_dir", self.output_dir, "--max_time", "soon", "--report_to", "none"]
            )

    def test_max_time_set_after_construction_is_checked_before_the_first_step(self):
        trainer, recorder = make_timed_trainer(self.output_dir, max_steps=4)
        trainer.args.max_time = "soon"
        with self.assertRaisesRegex(ValueError, "`max_time` is not a duration"):
            trainer.train()
        self.assertEqual(recorder.events, [])
        trainer.args.max_time = "1h"
        trainer.train()
        self.assertEqual(trainer.args.max_time, 3600.0)


@require_torch
class TimeBudgetStopTest(TestCasePlus):
    """Training on a fake clock: update steps, evaluations and saves take the simulated durations given."""

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

    def test_stop_leaves_time_for_the_save_due_and_the_final_save(self):
        # Steps of 1s, saves of 3s every 10s: saves end at 14 and 27. Step 21 ends at 24 with a save due: going on
        # would take 3 + 1 + 3s (that save, a step, the final save) and end at 31, so its save is the final one
        trainer, recorder, output = self.train(save_strategy="time", save_time=10, save_duration=3, max_time=30)
        self.assertEqual(output.global_step, 21)
        self.assertEqual(output.metrics["train_stop_reason"], "time budget")
        self.assertEqual(recorder.steps("on_save"), [11, 21])
        self.assertEqual(recorder.clock(), 27)
        self.assertCompleteCheckpointAt(21)

    def test_stop_leaves_time_for_a_step_based_save_due(self):
        # Saves of 4s every 10 steps: step 20 ends at 24 with a save due, and going on would take 4 + 1 + 4s
        trainer, recorder, output = self.train(save_strategy="steps", save_steps=10, save_duration=4, max_time=30)
        self.assertEqual(output.global_step, 20)
        self.assertEqual(recorder.steps("on_save"), [10, 20])
        self.assertEqual(recorder.clock(), 28)

    def test_stop_leaves_time_for_the_evaluation_and_save_at_the_end_of_an_epoch(self):
        # Epochs of 8 steps of 1s, then an evaluation and a save of 5s each: step 16 ends at 26, and going on would
        # take 10 + 1 + 10s (that epoch's events, a step, the final ones), so its events are the final ones
        trainer, recorder, output = self.train(
            train_length=16,
            eval_strategy="epoch",
            save_strategy="epoch",
            eval_duration=5,
            save_duration=5,
            max_time=38,
        )
        self.assertEqual(output.global_step, 16)
        self.assertEqual(recorder.steps("on_evaluate"), [8, 16])
        self.assertEqual(recorder.steps("on_save"), [8, 16])
        self.assertEqual(recorder.clock(), 36)

    def test_evaluations_of_several_datasets_are_kept_in_hand_together(self):
        # Each of 3 evaluation datasets takes 5s: an evaluation takes 15s, and the final one must fit
        trainer, recorder = make_timed_trainer(
            self.output_dir, max_steps=1000, trainer_class=TimedEvaluationLoop, eval_strategy="steps", eval_steps=10,
            save_strategy="no", max_time=100,
        )  # fmt: skip
        trainer.eval_dataset = {name: RandomTokenDataset(4, seed=1) for name in ("a", "b", "c")}
        output = trainer.train()
        self.assertLessEqual(recorder.clock(), 100)
        self.assertEqual(output.metrics["train_stop_reason"], "time budget")

    def test_training_that_reaches_max_steps_at_the_stop_ends_as_usual(self):
        # At step 10 of 10, the budget (12s, 1s kept for the save) would stop training anyway: it ends, not stops
        trainer, recorder, output = self.train(max_steps=10, save_strategy="steps", save_steps=1000, max_time=12)
        self.assertEqual(output.global_step, 10)
        self.assertNotIn("train_stop_reason", output.metrics)
        self.assertIsNone(trainer.state.stop_reason)

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

    def test_slow_evaluation_and_save_are_kept_in_hand(self):
        # Each evaluation takes 4s and each save 2s: the final ones must fit too
        trainer, recorder, output = self.train(
            eval_strategy="time", eval_time=8, eval_duration=4, save_strategy="time", save_time=8, save_duration=2,
            max_time=60,
        )  # fmt: skip
        self.assertLessEqual(recorder.clock(), 60)
        # One more step (1s) with the final evaluation and save (6s) would not have fitted
        self.assertGreater(recorder.clock() + 1 + 6, 60)
        last_step = output.global_step
        self.assertEqual(recorder.steps("on_evaluate")[-1], last_step)
        self.assertEqual(recorder.steps("on_save")[-1], last_step)

    def test_a_tenth_of_max_time_is_kept_for_a_save_not_timed_yet(self):
        # No save before the stop (every 1000 steps): 10s of the 100s are kept for it, after the slowest step (1s)
        trainer, recorder, output = self.train(save_strategy="steps", save_steps=1000, save_duration=2, max_time=100)
        self.assertEqual(output.global_step, 89)
        self.assertEqual(recorder.clock(), 91)
        self.assertCompleteCheckpointAt(89)

    def test_a_tenth_of_max_time_is_kept_for_an_evaluation_not_timed_yet(self):
        trainer, recorder, output = self.train(
            eval_strategy="steps", eval_steps=1000, eval_duration=2, save_strategy="no", max_time=100
        )
        self.assertEqual(output.global_step, 89)
        self.assertEqual(recorder.steps("on_evaluate"), [89])

    def test_set_up_inside_train_counts_against_the_budget(self):
        # 20s of set-up before the first step, then steps of 1s: 26 = 30 - 1 (a step) - 3 (a tenth, for the save)
        clock = FakeClock()
        trainer, recorder, output = self.train(
            clock=clock, callbacks=[TakesTime(clock, 20)], save_strategy="steps", save_steps=1000, max_time=30
        )
        self.assertEqual(output.global_step, 6)

    def test_budget_shorter_than_one_step_stops_after_the_first_step_with_a_checkpoint(self):
        with self.assertLogs(CALLBACK_LOGGER, level="WARNING") as logs:
            trainer, recorder, output = self.train(step_duration=5, save_strategy="steps", save_steps=1000, max_time=2)
        self.assertEqual(output.global_step, 1)
        self.assertCompleteCheckpointAt(1)
        self.assertIn("Stopping training at step 1 of 1000", "\n".join(logs.output))

    def test_training_that_ends_within_the_budget_does_not_stop_early(self):
        trainer, recorder, output = self.train(max_steps=10, save_strategy="steps", save_steps=5, max_time="1h")
        self.assertEqual(output.global_step, 10)
        self.assertNotIn("train_stop_reason", output.metrics)
        self.assertIsNone(trainer.state.stop_reason)

    @parameterized.expand(
        [
            ("steps", {"save_strategy": "steps", "save_steps": 1000}),
            ("time", {"save_strategy": "time", "save_time": "1h"}),
            ("epoch", {"save_strategy": "epoch"}),
            (
                "best",
                {
                    "save_strategy": "best",
                    "eval_strategy": "steps",
                    "eval_steps": 1000,
                    "metric_for_best_model": "loss",
                },
            ),
            (
                "best_evaluated_each_epoch",
                {"save_strategy": "best", "eval_strategy": "epoch", "metric_for_best_model": "loss"},
            ),
        ]
    )
    def test_every_save_strategy_saves_once_at_the_stop(self, _, strategies):
        trainer, recorder, output = self.train(train_length=2000, max_time=50, **strategies)
        self.assertLess(output.global_step, 1000)
        self.assertEqual(recorder.steps("on_save"), [output.global_step])
        self.assertCompleteCheckpointAt(output.global_step)

    def test_save_strategy_no_stops_without_a_checkpoint(self):
        trainer, recorder, output = self.train(save_strategy="no", max_time=50)
        self.assertLess(output.global_step, 1000)
        self.assertEqual(output.metrics["train_stop_reason"], "time budget")
        self.assertIsNone(get_last_checkpoint(self.output_dir))

    def test_start_and_stop_are_logged_once(self):
        with self.assertLogs(CALLBACK_LOGGER, level="INFO") as logs:
            self.train(save_strategy="time", save_time=10, max_time=30)
        budget_logs = [line for line in logs.output if "Time budget: training stops by" in line]
        stop_logs = [line for line in logs.output if "Stopping training at step" in line]
        self.assertEqual(len(budget_logs), 1)
        self.assertEqual(len(stop_logs), 1)
        self.assertIn(
            "of the time budget (`max_time`, 30s), too few for one more step and the final save", stop_logs[0]
        )

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
            state.train_start = clock()
            clock.advance(1)
            with (
                patch_clock(clock),
                mock.patch.object(type(args), "world_size", new_callable=mock.PropertyMock, return_value=world_size),
                mock.patch("transformers.trainer_callback._is_torch_distributed_initialized", return_value=True),
                mock.patch.object(torch.distributed, "all_reduce", lambda *a, **k: checks.append(state.global_step)),
            ):
                schedule = _TimeSchedule(args, state)
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
