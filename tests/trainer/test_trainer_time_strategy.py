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
Tests for the `"time"` logging, evaluation and save strategies.

This module tests:
- `parse_duration`, which turns the intervals users write into seconds
- `TrainingArguments.logging_time`, `eval_time` and `save_time`: validation, serialization, parsing from the command
  line and config files, `set_logging` / `set_evaluate` / `set_save`
- The schedule `DefaultFlowCallback` follows under the `"time"` strategies, driven by a fake clock (nothing sleeps)
- Resuming from a checkpoint saved under `"time"`
"""

import dataclasses
import json
import math
import os
import time
from datetime import timedelta
from unittest import mock

from parameterized import parameterized

from transformers import (
    DefaultFlowCallback,
    HfArgumentParser,
    IntervalStrategy,
    Seq2SeqTrainingArguments,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
    is_torch_available,
)
from transformers.testing_utils import TestCasePlus, require_torch
from transformers.trainer_callback import _TimeSchedule
from transformers.trainer_utils import HPSearchBackend, SaveStrategy, parse_duration

from .time_strategy_testing import (
    FakeClock,
    TimedTrainer,
    expected_time_events,
    make_timed_trainer,
    patch_clock,
    steps_due_every,
    time_training_arguments,
)


if is_torch_available():
    import torch
    from safetensors.torch import load_file

    from transformers.trainer import TRAINER_STATE_NAME


TIME_KINDS = [("logging", "logging_strategy"), ("eval", "eval_strategy"), ("save", "save_strategy")]
CALLBACK_LOGGER = "transformers.trainer_callback"
TRAINING_ARGS_LOGGER = "transformers.training_args"
# Hooks of DefaultFlowCallback a subclass may override without calling `super()`
SUBCLASS_HOOKS = ["__init__", "on_train_begin", "on_step_begin", "on_log", "on_evaluate", "on_save", "on_train_end"]
SLOW_EVENT_WARNINGS = {"eval": "An evaluation took", "save": "Saving a checkpoint took"}


def irregular_step_duration(step: int) -> float:
    """Update steps of 1 to 4 seconds, in an irregular pattern."""
    return float(1 + (3 * step) % 4)


class RequestAt(TrainerCallback):
    """Asks for a log, an evaluation or a save (`kind`) at the end of update step `step`, as any callback may."""

    FLAGS = {"logging": "should_log", "eval": "should_evaluate", "save": "should_save"}

    def __init__(self, kind: str, step: int):
        self.kind = kind
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            setattr(control, self.FLAGS[self.kind], True)


class ScriptedMetrics:
    """A `compute_metrics` that returns the next of `scores` as `score` at each evaluation."""

    def __init__(self, scores):
        self.scores = list(scores)
        self.calls = 0

    def __call__(self, eval_prediction):
        score = self.scores[self.calls]
        self.calls += 1
        return {"score": score}


# =============================================================================
# parse_duration
# =============================================================================


class ParseDurationTest(TestCasePlus):
    @parameterized.expand(
        [
            ("int", 90, 90.0),
            ("float", 1.5, 1.5),
            ("numeric_string", "90", 90.0),
            ("float_string", "1.5", 1.5),
            ("seconds", "90s", 90.0),
            ("minutes", "30m", 1800.0),
            ("fractional_hours", "1.5h", 5400.0),
            ("hours_and_minutes", "1h30m", 5400.0),
            ("days", "2d", 172800.0),
            ("every_unit", "1d2h3m4s", 93784.0),
            ("hh_mm_ss", "01:30:00", 5400.0),
            ("hh_mm_ss_unpadded", "1:02:03", 3723.0),
            ("dd_hh_mm_ss", "1:02:03:04", 93784.0),
            ("timedelta", timedelta(minutes=30), 1800.0),
            ("fractional_timedelta", timedelta(milliseconds=1500), 1.5),
            ("surrounding_whitespace", " 30m ", 1800.0),
        ]
    )
    def test_accepted_forms_become_float_seconds(self, _, value, seconds):
        parsed = parse_duration(value, "save_time")
        self.assertIsInstance(parsed, float)
        self.assertEqual(parsed, seconds)

    @parameterized.expand(
        [
            ("zero", 0),
            ("zero_float", 0.0),
            ("zero_string", "0"),
            ("zero_with_unit", "0s"),
            ("zero_clock", "00:00:00"),
            ("zero_timedelta", timedelta(0)),
            ("negative", -5),
            ("negative_string", "-5"),
            ("negative_with_unit", "-5m"),
            ("negative_timedelta", timedelta(seconds=-1)),
            ("nan", float("nan")),
            ("inf", float("inf")),
            ("negative_inf", float("-inf")),
            ("true", True),
            ("false", False),
            ("none", None),
            ("list", [30]),
            ("empty", ""),
            ("blank", "   "),
            ("word", "abc"),
            ("unknown_unit", "5w"),
            ("unit_without_number", "h"),
            ("units_out_of_order", "30m1h"),
            ("minutes_out_of_range", "1:60:00"),
            ("seconds_out_of_range", "00:00:60"),
            ("hours_out_of_range_with_days", "1:24:00:00"),
            ("two_clock_fields", "30:00"),
            ("five_clock_fields", "1:00:00:00:00"),
            ("nan_string", "nan"),
            ("inf_string", "inf"),
            ("huge_string", "1e400"),
            # Every string form takes ASCII digits only, without the extras `float()` accepts
            ("exponent", "1e3"),
            ("underscore_in_number", "1_000"),
            ("non_ascii_digits", "\u0661\u0662"),
            ("non_ascii_digits_with_unit", "\u0661\u0662m"),
        ]
    )
    def test_refused_forms_raise_value_error_naming_the_field(self, _, value):
        with self.assertRaises(ValueError) as context:
            parse_duration(value, "save_time")
        message = str(context.exception)
        self.assertIn("`save_time`", message)
        self.assertIn(repr(value), message)
        for accepted_form in ('"90s"', '"30m"', '"1.5h"', '"1h30m"', '"2d"', "HH:MM:SS", "DD:HH:MM:SS", "timedelta"):
            self.assertIn(accepted_form, message)

    @parameterized.expand(
        [("units_out_of_order", "30m1h"), ("capital_unit", "1H"), ("word", "soon"), ("nan", math.nan)]
    )
    def test_malformed_value_is_told_it_is_not_a_duration(self, _, value):
        with self.assertRaisesRegex(ValueError, r"^`save_time` is not a duration: ") as context:
            parse_duration(value, "save_time")
        self.assertNotIn("positive", str(context.exception))

    @parameterized.expand([("zero", 0), ("zero_with_unit", "0s"), ("negative", -5), ("negative_with_unit", "-5m")])
    def test_zero_or_negative_duration_is_told_it_must_be_positive(self, _, value):
        with self.assertRaisesRegex(ValueError, r"^`save_time` must be positive, got "):
            parse_duration(value, "save_time")

    @parameterized.expand(
        [
            # `float()` of an int beyond the float range raises OverflowError, not ValueError
            ("int_beyond_float_range", 10**400),
            ("clock_beyond_float_range", "1" * 400 + ":00:00"),
            # `str.isdigit()` accepts superscripts, which `int()` refuses with a message that does not name the field
            ("superscript_digit_in_clock", "\u00b2:00:00"),
        ]
    )
    def test_out_of_range_and_odd_digits_raise_value_error_naming_the_field(self, _, value):
        with self.assertRaises(ValueError) as context:
            parse_duration(value, "save_time")
        self.assertIn("`save_time`", str(context.exception))


# =============================================================================
# TrainingArguments
# =============================================================================


class TimeTrainingArgumentsTest(TestCasePlus):
    def setUp(self):
        super().setUp()
        self.output_dir = self.get_auto_remove_tmp_dir()

    def make_args(self, args_class=TrainingArguments, **kwargs):
        return args_class(output_dir=self.output_dir, report_to=[], **kwargs)

    def all_time_kwargs(self):
        return {
            "logging_strategy": "time",
            "logging_time": "90s",
            "eval_strategy": "time",
            "eval_time": timedelta(minutes=15),
            "save_strategy": "time",
            "save_time": "00:30:00",
        }

    @parameterized.expand(TIME_KINDS)
    def test_interval_is_float_seconds_after_post_init(self, kind, strategy_field):
        args = self.make_args(**{strategy_field: "time", f"{kind}_time": "1h30m"})
        self.assertEqual(getattr(args, strategy_field), IntervalStrategy.TIME)
        self.assertIsInstance(getattr(args, f"{kind}_time"), float)
        self.assertEqual(getattr(args, f"{kind}_time"), 5400.0)

    def test_time_strategy_values(self):
        self.assertEqual(IntervalStrategy("time"), IntervalStrategy.TIME)
        self.assertEqual(SaveStrategy("time"), SaveStrategy.TIME)
        self.assertEqual(IntervalStrategy.TIME.value, "time")
        self.assertEqual(SaveStrategy.TIME.value, "time")

    def test_intervals_serialize_as_numbers_and_reload(self):
        args = self.make_args(**self.all_time_kwargs())

        as_dict = args.to_dict()
        from_json = json.loads(args.to_json_string())
        for serialized in (as_dict, from_json):
            self.assertEqual(serialized["logging_time"], 90.0)
            self.assertEqual(serialized["eval_time"], 900.0)
            self.assertEqual(serialized["save_time"], 1800.0)
            for kind, strategy_field in TIME_KINDS:
                self.assertIsInstance(serialized[f"{kind}_time"], float)
                self.assertEqual(serialized[strategy_field], "time")

        init_fields = {f.name for f in dataclasses.fields(TrainingArguments) if f.init}
        reloaded = TrainingArguments(**{key: value for key, value in from_json.items() if key in init_fields})
        for kind, strategy_field in TIME_KINDS:
            self.assertEqual(getattr(reloaded, strategy_field), "time")
            self.assertEqual(getattr(reloaded, f"{kind}_time"), getattr(args, f"{kind}_time"))

    @parameterized.expand(TIME_KINDS)
    def test_time_strategy_without_interval_raises(self, kind, strategy_field):
        with self.assertRaises(ValueError) as context:
            self.make_args(**{strategy_field: "time"})
        self.assertIn(f"`{kind}_time`", str(context.exception))
        self.assertIn(strategy_field, str(context.exception))

    @parameterized.expand(TIME_KINDS)
    def test_invalid_interval_raises_naming_the_field(self, kind, strategy_field):
        with self.assertRaises(ValueError) as context:
            self.make_args(**{strategy_field: "time", f"{kind}_time": "30m1h"})
        self.assertIn(f"`{kind}_time`", str(context.exception))
        self.assertIn("'30m1h'", str(context.exception))

    @parameterized.expand(
        [
            ("logging", "logging_strategy", "steps"),
            ("logging", "logging_strategy", "epoch"),
            ("eval", "eval_strategy", "no"),
            ("eval", "eval_strategy", "steps"),
            ("save", "save_strategy", "steps"),
            ("save", "save_strategy", "no"),
        ]
    )
    def test_interval_without_time_strategy_is_ignored_with_a_warning(self, kind, strategy_field, strategy):
        with self.assertLogs(TRAINING_ARGS_LOGGER, level="WARNING") as logs:
            args = self.make_args(**{strategy_field: strategy, f"{kind}_time": "30m"})
        self.assertEqual(getattr(args, strategy_field), strategy)
        self.assertTrue(
            any(f"`{kind}_time` is ignored" in line and strategy_field in line for line in logs.output), logs.output
        )

    def test_interval_with_time_strategy_does_not_warn(self):
        with self.assertNoLogs(TRAINING_ARGS_LOGGER, level="WARNING"):
            self.make_args(**self.all_time_kwargs())

    def test_parse_command_line(self):
        parser = HfArgumentParser(TrainingArguments)
        (args,) = parser.parse_args_into_dataclasses(
            [
                *("--output_dir", self.output_dir, "--report_to", "none"),
                *("--logging_strategy", "time", "--logging_time", "90"),
                *("--eval_strategy", "time", "--eval_time", "00:15:00"),
                *("--save_strategy", "time", "--save_time", "30m"),
            ]
        )
        self.assertEqual((args.logging_strategy, args.eval_strategy, args.save_strategy), ("time", "time", "time"))
        self.assertEqual((args.logging_time, args.eval_time, args.save_time), (90.0, 900.0, 1800.0))

    def test_parse_command_line_refuses_an_invalid_interval(self):
        parser = HfArgumentParser(TrainingArguments)
        with self.assertRaises(ValueError) as context:
            parser.parse_args_into_dataclasses(
                ["--output_dir", self.output_dir, "--save_strategy", "time", "--save_time", "half an hour"]
            )
        self.assertIn("`save_time`", str(context.exception))

    def test_parse_json_file(self):
        config = {
            "output_dir": self.output_dir,
            "report_to": "none",
            "logging_strategy": "time",
            "logging_time": "90s",
            "eval_strategy": "time",
            "eval_time": 600,
            "save_strategy": "time",
            "save_time": "1h30m",
        }
        path = os.path.join(self.output_dir, "args.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(config, f)
        (args,) = HfArgumentParser(TrainingArguments).parse_json_file(path)
        self.assertEqual((args.logging_time, args.eval_time, args.save_time), (90.0, 600.0, 5400.0))

    def test_parse_yaml_file(self):
        path = os.path.join(self.output_dir, "args.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(
                f"output_dir: {self.output_dir}\n"
                "report_to: none\n"
                "logging_strategy: time\n"
                "logging_time: 90\n"
                "eval_strategy: time\n"
                "eval_time: '00:15:00'\n"
                "save_strategy: time\n"
                "save_time: 30m\n"
            )
        (args,) = HfArgumentParser(TrainingArguments).parse_yaml_file(path)
        self.assertEqual((args.logging_time, args.eval_time, args.save_time), (90.0, 900.0, 1800.0))

    @parameterized.expand(
        [
            ("set_logging", "logging_strategy", "logging_time"),
            ("set_evaluate", "eval_strategy", "eval_time"),
            ("set_save", "save_strategy", "save_time"),
        ]
    )
    def test_setter_takes_a_time_interval(self, setter, strategy_field, time_field):
        args = self.make_args()
        returned = getattr(args, setter)(strategy="time", time="1h30m")
        self.assertIs(returned, args)
        self.assertEqual(getattr(args, strategy_field), "time")
        self.assertIsInstance(getattr(args, time_field), float)
        self.assertEqual(getattr(args, time_field), 5400.0)

        getattr(args, setter)(strategy="time", time=timedelta(seconds=45))
        self.assertEqual(getattr(args, time_field), 45.0)

    @parameterized.expand([("set_logging",), ("set_evaluate",), ("set_save",)])
    def test_setter_with_time_strategy_requires_time(self, setter):
        args = self.make_args()
        with self.assertRaises(ValueError) as context:
            getattr(args, setter)(strategy="time")
        self.assertIn("`time`", str(context.exception))

    @parameterized.expand([("set_logging",), ("set_evaluate",), ("set_save",)])
    def test_setter_warns_that_time_is_ignored_without_time_strategy(self, setter):
        args = self.make_args()
        with self.assertLogs(TRAINING_ARGS_LOGGER, level="WARNING") as logs:
            getattr(args, setter)(strategy="steps", time="30m")
        self.assertTrue(any("`time` is ignored" in line for line in logs.output), logs.output)

    @parameterized.expand(
        [
            ("number", 90, 90.0),
            ("string_with_units", "10m", 600.0),
            ("clock", "01:00:00", 3600.0),
            ("timedelta", timedelta(minutes=10), 600.0),
        ]
    )
    def test_eval_delay_takes_a_duration_under_time_strategy(self, _, eval_delay, seconds):
        args = self.make_args(eval_strategy="time", eval_time="1m", eval_delay=eval_delay)
        self.assertEqual(args.eval_delay, seconds)
        self.assertIsInstance(args.eval_delay, float)
        self.assertEqual(json.loads(args.to_json_string())["eval_delay"], seconds)

        args = self.make_args().set_evaluate(strategy="time", time="1m", delay=eval_delay)
        self.assertEqual(args.eval_delay, seconds)

    def test_eval_delay_under_steps_strategy_stays_a_number_of_steps(self):
        args = self.make_args(eval_strategy="steps", eval_steps=10, eval_delay=5)
        self.assertEqual(args.eval_delay, 5)

    def test_invalid_eval_delay_raises_naming_the_field(self):
        with self.assertRaises(ValueError) as context:
            self.make_args(eval_strategy="time", eval_time="1m", eval_delay="soon")
        self.assertIn("`eval_delay`", str(context.exception))

    @parameterized.expand([("seconds", "600", 600.0), ("units", "10m", 600.0), ("clock", "00:10:00", 600.0)])
    def test_eval_delay_from_command_line_takes_a_duration_under_time_strategy(self, _, eval_delay, seconds):
        command_line = [*("--output_dir", self.output_dir, "--report_to", "none", "--eval_strategy", "time")]
        command_line += ["--eval_time", "1m", "--eval_delay", eval_delay]
        (args,) = HfArgumentParser(TrainingArguments).parse_args_into_dataclasses(command_line)
        self.assertEqual(args.eval_delay, seconds)

    def test_eval_delay_from_a_config_file_takes_a_duration_under_time_strategy(self):
        config = os.path.join(self.output_dir, "config.json")
        with open(config, "w", encoding="utf-8") as f:
            json.dump(
                {"output_dir": self.output_dir, "eval_strategy": "time", "eval_time": "1m", "eval_delay": "10m"}, f
            )
        (args,) = HfArgumentParser(TrainingArguments).parse_json_file(config)
        self.assertEqual(args.eval_delay, 600.0)

    def test_eval_delay_from_command_line_under_steps_strategy_is_a_number_of_steps(self):
        command_line = [*("--output_dir", self.output_dir, "--report_to", "none", "--eval_strategy", "steps")]
        command_line += ["--eval_steps", "10", "--eval_delay", "5"]
        (args,) = HfArgumentParser(TrainingArguments).parse_args_into_dataclasses(command_line)
        self.assertEqual(args.eval_delay, 5.0)

    @parameterized.expand([("steps", {"eval_steps": 10}), ("epoch", {})])
    def test_duration_eval_delay_under_another_strategy_is_refused_naming_the_field(self, strategy, kwargs):
        # It used to be accepted here, and to fail at the second step with a TypeError
        with self.assertRaisesRegex(ValueError, f"`eval_delay` must be a number of steps or epochs.*'{strategy}'"):
            self.make_args(eval_strategy=strategy, eval_delay="10m", **kwargs)

    @parameterized.expand(
        [
            ("logging", "logging_strategy", {"logging_time": 60, "logging_steps": 7}),
            ("eval", "eval_strategy", {"eval_time": 60, "eval_steps": 7}),
            ("save", "save_strategy", {"save_time": 60, "save_steps": 7}),
        ]
    )
    def test_step_interval_beside_a_time_strategy_is_ignored_with_a_warning(self, kind, strategy_field, kwargs):
        with self.assertLogs(TRAINING_ARGS_LOGGER, level="WARNING") as logs:
            self.make_args(**{strategy_field: "time"}, **kwargs)
        self.assertTrue(any(f"`{kind}_steps` (7) is ignored" in line for line in logs.output), logs.output)

    def test_zero_eval_delay_is_no_delay_in_every_form(self):
        for delay in (0, "0", "0s", "00:00:00"):
            self.assertEqual(self.make_args(eval_strategy="time", eval_time=60, eval_delay=delay).eval_delay, 0.0)

    def test_set_evaluate_with_time_strategy_turns_evaluation_on(self):
        args = self.make_args().set_evaluate(strategy="time", time="15m")
        self.assertTrue(args.do_eval)
        self.assertEqual(args.eval_delay, 0)

    def test_subclass_gets_the_time_fields(self):
        args = self.make_args(Seq2SeqTrainingArguments, **self.all_time_kwargs())
        self.assertEqual((args.logging_time, args.eval_time, args.save_time), (90.0, 900.0, 1800.0))
        self.assertEqual(args.to_dict()["save_time"], 1800.0)
        with self.assertRaises(ValueError) as context:
            self.make_args(Seq2SeqTrainingArguments, save_strategy="time")
        self.assertIn("`save_time`", str(context.exception))

        (parsed,) = HfArgumentParser(Seq2SeqTrainingArguments).parse_args_into_dataclasses(
            ["--output_dir", self.output_dir, "--report_to", "none", "--save_strategy", "time", "--save_time", "2d"]
        )
        self.assertEqual(parsed.save_time, 172800.0)

        args.set_save(strategy="time", time="1m")
        self.assertEqual(args.save_time, 60.0)

    def test_load_best_model_at_end_accepts_time_eval_and_save(self):
        args = self.make_args(
            load_best_model_at_end=True, eval_strategy="time", eval_time="10m", save_strategy="time", save_time="30m"
        )
        self.assertTrue(args.load_best_model_at_end)
        self.assertEqual(args.metric_for_best_model, "loss")

    @parameterized.expand([("time", "steps"), ("steps", "time"), ("time", "epoch")])
    def test_load_best_model_at_end_refuses_mixed_time_and_other_strategies(self, eval_strategy, save_strategy):
        with self.assertRaises(ValueError):
            self.make_args(
                load_best_model_at_end=True,
                eval_strategy=eval_strategy,
                eval_time="10m" if eval_strategy == "time" else None,
                eval_steps=10,
                save_strategy=save_strategy,
                save_time="30m" if save_strategy == "time" else None,
                save_steps=10,
            )

    def test_save_strategy_best_accepts_time_evaluation(self):
        args = self.make_args(
            save_strategy="best", eval_strategy="time", eval_time="10m", metric_for_best_model="loss"
        )
        self.assertEqual(args.save_strategy, SaveStrategy.BEST)
        self.assertEqual(args.eval_time, 600.0)
        self.assertIsNone(args.save_time)


# =============================================================================
# DefaultFlowCallback under the time strategies
# =============================================================================


class TimedTrainingTestCase(TestCasePlus):
    """
    Training runs on a fake clock: `TimedEventRecorder` advances it by the duration of each update step, `TimedTrainer`
    by the duration of each evaluation and save. See `time_strategy_testing.py`.
    """

    def setUp(self):
        super().setUp()
        self.output_dir = self.get_auto_remove_tmp_dir()

    def train(self, **kwargs):
        trainer, recorder = make_timed_trainer(self.output_dir, **kwargs)
        trainer.train()
        return trainer, recorder

    def assertEventsAtStep(self, recorder, step, expected):
        self.assertEqual([event.name for event in recorder.events if event.step == step], expected)


@require_torch
class TimeStrategyFlowTest(TimedTrainingTestCase):
    def test_default_clock_is_monotonic(self):
        self.assertIs(_TimeSchedule.clock, time.monotonic)

    # (a) An event fires at the first step whose end is at least its interval after the interval start

    @parameterized.expand(
        [
            ("interval_of_several_steps", 1.0, 4.0),
            ("interval_not_a_multiple_of_the_step", 2.0, 5.0),
            ("fractional_durations", 0.25, 0.75),
            ("step_longer_than_interval", 3.0, 2.0),
        ]
    )
    def test_log_at_first_step_whose_end_reaches_logging_time(self, _, step_duration, logging_time):
        max_steps = 20
        trainer, recorder = self.train(
            max_steps=max_steps, step_duration=step_duration, logging_strategy="time", logging_time=logging_time
        )

        expected = steps_due_every([step_duration] * max_steps, logging_time)
        self.assertEqual(recorder.steps("train_log"), expected)
        # The same schedule in closed form: every `period` steps, counted from the end of step 1
        period = math.ceil(logging_time / step_duration)
        self.assertEqual(expected, list(range(1 + period, max_steps + 1, period)))

    def test_log_at_first_step_whose_end_reaches_logging_time_with_irregular_steps(self):
        max_steps = 20
        trainer, recorder = self.train(
            max_steps=max_steps, step_duration=irregular_step_duration, logging_strategy="time", logging_time=6
        )
        durations = [irregular_step_duration(step) for step in range(1, max_steps + 1)]
        self.assertEqual(recorder.steps("train_log"), steps_due_every(durations, 6))

        # Each log came at the first step by which 6s of training had passed since the previous one (or step 1)
        step_ends = {event.step: event.trained for event in recorder.select("on_step_end")}
        previous_end = step_ends[1]
        for step in recorder.steps("train_log"):
            self.assertGreaterEqual(step_ends[step] - previous_end, 6)
            self.assertLess(step_ends[step - 1] - previous_end, 6)
            previous_end = step_ends[step]

    # (b) An interval counts from the end of the previous event of its kind

    @parameterized.expand([("eval",), ("save",)])
    def test_slow_event_never_repeats_on_consecutive_steps(self, kind):
        # The last step is due anyway: every event is time-based
        max_steps, interval, event_duration = 13, 3.0, 10.0
        trainer, recorder = self.train(
            max_steps=max_steps,
            step_duration=1.0,
            **{f"{kind}_strategy": "time", f"{kind}_time": interval, f"{kind}_duration": event_duration},
        )
        event_name = "on_evaluate" if kind == "eval" else "on_save"
        events = recorder.select(event_name)
        steps = [event.step for event in events]

        self.assertEqual(steps, [4, 7, 10, 13])
        self.assertEqual(steps, steps_due_every([1.0] * max_steps, interval))
        trained_at = {event.step: event.trained for event in recorder.select("on_step_end")}
        for previous, current in zip(steps, steps[1:]):
            self.assertGreater(current - previous, 1)
            # At least `interval` seconds of training between two events, however long they take
            self.assertGreaterEqual(trained_at[current] - trained_at[previous], interval)
        # Each event did last longer than its interval on the clock the callback reads
        step_end_times = {event.step: event.time for event in recorder.select("on_step_end")}
        for event in events:
            self.assertEqual(event.time - step_end_times[event.step], event_duration)

    def test_evaluation_time_counts_towards_other_intervals(self):
        # Intervals count from the end of step 1 (1s). The save interval runs on during the 10s evaluation of step 4
        # (4s to 14s): a save is due at the end of step 5 (15s), 3s of training later
        trainer, recorder = self.train(
            max_steps=8,
            eval_strategy="time",
            eval_time=3,
            eval_duration=10,
            save_strategy="time",
            save_time=5,
        )
        self.assertEqual(recorder.steps("on_evaluate"), [4, 7, 8])
        self.assertEqual(recorder.steps("on_save"), [5, 8])

    def test_evaluation_on_start_does_not_count_towards_the_eval_interval(self):
        # The 10s evaluation before training is not training time: the next one is due 3s after the end of step 1
        trainer, recorder = self.train(
            max_steps=8, eval_on_start=True, eval_strategy="time", eval_time=3, eval_duration=10
        )
        self.assertEqual(recorder.steps("on_evaluate"), [0, 4, 7, 8])

    @parameterized.expand([("logging", "train_log"), ("eval", "on_evaluate"), ("save", "on_save")])
    def test_event_requested_by_a_callback_restarts_the_interval(self, kind, event_name):
        trainer, recorder = self.train(
            max_steps=12, callbacks=[RequestAt(kind, 3)], **{f"{kind}_strategy": "time", f"{kind}_time": 5}
        )
        # Due at 6 and 11 on their own; the request at 3 moves the next one to 8
        expected = [3, 8] if kind == "logging" else [3, 8, 12]
        self.assertEqual(recorder.steps(event_name), expected)

    # (c) Nothing time-based fires on the first update step of a train() call

    def test_nothing_time_based_fires_on_the_first_step(self):
        max_steps = 8

        def step_duration(step):
            return 100.0 if step == 1 else 1.0

        trainer, recorder = self.train(
            max_steps=max_steps,
            step_duration=step_duration,
            logging_strategy="time",
            logging_time=5,
            eval_strategy="time",
            eval_time=5,
            save_strategy="time",
            save_time=5,
        )
        self.assertEventsAtStep(recorder, 1, ["on_step_end"])
        self.assertEqual(
            recorder.sequence(), expected_time_events(trainer.args, max_steps, step_duration=step_duration)
        )

    def test_logging_first_step_still_logs_the_first_step(self):
        trainer, recorder = self.train(
            max_steps=8,
            logging_first_step=True,
            logging_strategy="time",
            logging_time=5,
            eval_strategy="time",
            eval_time=5,
        )
        self.assertEventsAtStep(recorder, 1, ["on_step_end", "on_log"])
        self.assertEqual(recorder.steps("train_log")[0], 1)

    def test_logging_interval_counts_from_the_first_step_log(self):
        # The log of `logging_first_step` is a log: the next one comes `logging_time` of training after it
        max_steps = 12
        trainer, recorder = self.train(
            max_steps=max_steps, logging_first_step=True, logging_strategy="time", logging_time=5
        )
        self.assertEqual(recorder.steps("train_log"), [1, 6, 11])
        self.assertEqual(recorder.sequence(), expected_time_events(trainer.args, max_steps))

    # (d) Training ends with one evaluation and one save

    @parameterized.expand(
        [
            ("last_step_not_due", 8, [4, 7, 8]),
            ("last_step_due", 10, [4, 7, 10]),
            ("single_step", 1, [1]),
        ]
    )
    def test_training_ends_with_one_evaluation_and_one_save(self, _, max_steps, expected_steps):
        trainer, recorder = self.train(
            max_steps=max_steps,
            eval_strategy="time",
            eval_time=3,
            save_strategy="time",
            save_time=3,
        )
        self.assertEqual(recorder.steps("on_evaluate"), expected_steps)
        self.assertEqual(recorder.steps("on_save"), expected_steps)
        self.assertEqual(
            [name for name, step in recorder.sequence() if step == max_steps and name != "on_log"],
            ["on_step_end", "on_evaluate", "on_save", "on_train_end"],
        )
        self.assertTrue(os.path.isdir(os.path.join(self.output_dir, f"checkpoint-{max_steps}")))

    def test_training_with_time_logging_only_does_not_log_at_the_end(self):
        trainer, recorder = self.train(max_steps=8, logging_strategy="time", logging_time=3)
        self.assertEqual(recorder.steps("train_log"), [4, 7])

    # (e) eval_delay is in seconds since the end of the first step of train()

    def test_eval_delay_is_seconds_since_the_first_step(self):
        max_steps, step_duration, eval_delay = 12, 2.0, 9
        trainer, recorder = self.train(
            max_steps=max_steps, step_duration=step_duration, eval_strategy="time", eval_time=3, eval_delay=eval_delay
        )
        evaluations = recorder.steps("on_evaluate")
        # 9 seconds after the end of step 1 are over at the end of step 6, long before step 9
        self.assertEqual(evaluations[0], 1 + math.ceil(eval_delay / step_duration))
        self.assertEqual(evaluations, [6, 8, 10, 12])
        self.assertEqual(
            recorder.sequence(), expected_time_events(trainer.args, max_steps, step_duration=step_duration)
        )

    def test_load_best_model_at_end_still_saves_by_time_during_eval_delay(self):
        max_steps = 12
        trainer, recorder = self.train(
            max_steps=max_steps,
            eval_strategy="time",
            eval_time=2,
            save_strategy="time",
            save_time=2,
            eval_delay=9,
            load_best_model_at_end=True,
            metric_for_best_model="score",
            greater_is_better=False,
            compute_metrics=ScriptedMetrics([1.0, 2.0, 3.0]),  # only the first evaluation is a new best
        )
        # No evaluation before 9s, but checkpoints keep coming: nothing waits two hours for a delay to end
        self.assertEqual(recorder.steps("on_save")[:4], [3, 5, 7, 9])
        self.assertEqual(recorder.steps("on_evaluate")[0], 10)
        self.assertEqual(recorder.sequence(), expected_time_events(trainer.args, max_steps, new_best_at=[10]))

    def test_evaluation_after_training_is_not_time_based(self):
        trainer, recorder = self.train(max_steps=6, eval_strategy="time", eval_time=3)
        trainer.clock.advance(60)  # the user looks at the results for a minute, then evaluates
        with self.assertNoLogs(CALLBACK_LOGGER, level="WARNING"):
            trainer.evaluate()

    def test_eval_delay_longer_than_training_skips_every_evaluation(self):
        trainer, recorder = self.train(max_steps=8, eval_strategy="time", eval_time=3, eval_delay=100)
        self.assertEqual(recorder.steps("on_evaluate"), [])

    # (f) load_best_model_at_end with time-based evaluation and saves

    @parameterized.expand(
        [
            # The docs' shape (eval_time="10m", save_time="30m"): the first evaluation is the best and is not due for
            # a save by time
            ("first_evaluation_best_save_time_longer", 3, 9, [1.0, 5.0, 4.0, 3.0, 2.0]),
            ("best_between_saves", 3, 5, [5.0, 3.0, 1.0, 2.0, 4.0]),
            ("saves_more_often", 5, 3, [5.0, 1.0, 4.0, 3.0, 2.0]),
        ]
    )
    def test_load_best_model_at_end_loads_the_best_evaluation(self, _, eval_time, save_time, scores):
        max_steps = 12
        trainer, recorder = self.train(
            max_steps=max_steps,
            eval_strategy="time",
            eval_time=eval_time,
            save_strategy="time",
            save_time=save_time,
            load_best_model_at_end=True,
            metric_for_best_model="score",
            greater_is_better=False,
            compute_metrics=ScriptedMetrics(scores),
        )
        evaluated, saved = recorder.steps("on_evaluate"), recorder.steps("on_save")
        score_at = dict(zip(evaluated, scores))
        new_bests = [step for i, step in enumerate(evaluated) if score_at[step] < min(scores[:i], default=math.inf)]
        self.assertEqual(recorder.sequence(), expected_time_events(trainer.args, max_steps, new_best_at=new_bests))

        # Every checkpoint has its metrics, and checkpoints still come every `save_time` of training
        self.assertLessEqual(set(saved), set(evaluated))
        trained_at = {event.step: event.trained for event in recorder.select("on_step_end")}
        for previous, current in zip([1, *saved], saved):
            self.assertLessEqual(trained_at[current] - trained_at[previous], save_time + 1)

        # The best evaluation was saved, is the best checkpoint, and is the model loaded at the end
        best_step = min(evaluated, key=score_at.get)
        best_checkpoint = os.path.join(self.output_dir, f"checkpoint-{best_step}")
        self.assertEqual(trainer.state.best_model_checkpoint, best_checkpoint)
        self.assertEqual(trainer.state.best_metric, score_at[best_step])
        best_weights = load_file(os.path.join(best_checkpoint, "model.safetensors"))
        for name, parameter in trainer.model.state_dict().items():
            if name in best_weights:
                torch.testing.assert_close(parameter, best_weights[name])
        with open(os.path.join(best_checkpoint, TRAINER_STATE_NAME), encoding="utf-8") as f:
            log_history = json.load(f)["log_history"]
        self.assertIn(
            (best_step, score_at[best_step]),
            [(entry["step"], entry["eval_score"]) for entry in log_history if "eval_score" in entry],
        )

    # (g) save_strategy="best" with a time-based evaluation

    def test_save_strategy_best_saves_only_at_evaluations_with_a_new_best(self):
        scores = [5.0, 1.0, 4.0, 0.5]
        trainer, recorder = self.train(
            max_steps=12,
            eval_strategy="time",
            eval_time=3,
            save_strategy="best",
            metric_for_best_model="score",
            greater_is_better=False,
            compute_metrics=ScriptedMetrics(scores),
        )
        evaluated = recorder.steps("on_evaluate")
        self.assertEqual(evaluated, [4, 7, 10, 12])
        new_bests, best = [], math.inf
        for step, score in zip(evaluated, scores):
            if score < best:
                new_bests.append(step)
                best = score
        self.assertEqual(new_bests, [4, 7, 12])
        self.assertEqual(recorder.steps("on_save"), new_bests)
        self.assertEqual(trainer.state.best_model_checkpoint, os.path.join(self.output_dir, "checkpoint-12"))

    # (h) A warning, once, when an evaluation or a save outlasts its interval

    @parameterized.expand([("eval",), ("save",)])
    def test_slow_event_warns_once(self, kind):
        with self.assertLogs(CALLBACK_LOGGER, level="WARNING") as logs:
            trainer, recorder = self.train(
                max_steps=14, **{f"{kind}_strategy": "time", f"{kind}_time": 3, f"{kind}_duration": 10}
            )
        self.assertGreaterEqual(len(recorder.steps("on_evaluate" if kind == "eval" else "on_save")), 4)
        warnings = [line for line in logs.output if SLOW_EVENT_WARNINGS[kind] in line]
        self.assertEqual(len(warnings), 1, logs.output)
        self.assertIn(f"`{kind}_time`", warnings[0])

    def test_slow_event_warning_comes_from_the_main_process_of_each_node_only(self):
        with mock.patch.object(TimedTrainer, "is_local_process_zero", return_value=False):
            with self.assertNoLogs(CALLBACK_LOGGER, level="WARNING"):
                self.train(max_steps=8, eval_strategy="time", eval_time=3, eval_duration=10)

    @parameterized.expand([("eval",), ("save",)])
    def test_event_within_its_interval_does_not_warn(self, kind):
        with self.assertNoLogs(CALLBACK_LOGGER, level="WARNING"):
            self.train(max_steps=14, **{f"{kind}_strategy": "time", f"{kind}_time": 3, f"{kind}_duration": 3})

    def test_save_after_slow_evaluation_is_timed_on_its_own(self):
        with self.assertLogs(CALLBACK_LOGGER, level="WARNING") as logs:
            self.train(
                max_steps=14,
                eval_strategy="time",
                eval_time=3,
                eval_duration=10,
                save_strategy="time",
                save_time=3,
                save_duration=1,
            )
        self.assertEqual(len([line for line in logs.output if SLOW_EVENT_WARNINGS["eval"] in line]), 1, logs.output)
        self.assertEqual([line for line in logs.output if SLOW_EVENT_WARNINGS["save"] in line], [])

    # (i) Gradient accumulation: decisions at optimizer steps

    def test_gradient_accumulation_decides_at_optimizer_steps(self):
        # 10 samples in batches of 2 make 5 micro-batches an epoch: with 2 accumulation steps, update steps of 2, 2
        # and 1 micro-batches (of 1s each)
        max_steps = 9

        def update_step_duration(step):
            return [2.0, 2.0, 1.0][(step - 1) % 3]

        trainer, recorder = self.train(
            max_steps=max_steps,
            train_length=10,
            gradient_accumulation_steps=2,
            micro_batch_duration=1.0,
            logging_strategy="time",
            logging_time=4,
            eval_strategy="time",
            eval_time=5,
        )
        self.assertEqual(trainer.state.global_step, max_steps)
        step_ends = [event.trained for event in recorder.select("on_step_end")]
        self.assertEqual(step_ends, [sum(map(update_step_duration, range(1, step + 1))) for step in range(1, 10)])
        self.assertEqual(
            recorder.sequence(), expected_time_events(trainer.args, max_steps, step_duration=update_step_duration)
        )
        # Micro-batch by micro-batch, 4s after the end of update step 1 (2s) are over after micro-batch 6, in the middle
        # of update step 4: the log waits for the end of that update step (7s)
        self.assertEqual(recorder.steps("train_log"), [4, 7])

    # (j) The whole event sequence

    @parameterized.expand(
        [
            ("logging", {"logging_strategy": "time", "logging_time": 4}, 0, 0),
            ("eval", {"eval_strategy": "time", "eval_time": 5}, 2, 0),
            ("save", {"save_strategy": "time", "save_time": 6}, 0, 3),
            (
                "all",
                {
                    "logging_strategy": "time",
                    "logging_time": 4,
                    "eval_strategy": "time",
                    "eval_time": 5,
                    "save_strategy": "time",
                    "save_time": 7,
                },
                2,
                3,
            ),
            (
                "all_with_slow_events",
                {
                    "logging_strategy": "time",
                    "logging_time": 3,
                    "eval_strategy": "time",
                    "eval_time": 4,
                    "save_strategy": "time",
                    "save_time": 5,
                },
                9,
                8,
            ),
            (
                "all_with_eval_delay",
                {
                    "logging_strategy": "time",
                    "logging_time": 4,
                    "eval_strategy": "time",
                    "eval_time": 3,
                    "eval_delay": 20,
                    "save_strategy": "time",
                    "save_time": 7,
                },
                2,
                3,
            ),
        ]
    )
    def test_event_flow(self, _, strategies, eval_duration, save_duration):
        max_steps = 20
        trainer, recorder = self.train(
            max_steps=max_steps,
            step_duration=irregular_step_duration,
            eval_duration=eval_duration,
            save_duration=save_duration,
            **strategies,
        )
        expected = expected_time_events(
            trainer.args,
            max_steps,
            step_duration=irregular_step_duration,
            eval_duration=eval_duration,
            save_duration=save_duration,
        )
        self.assertEqual(recorder.sequence(), expected)
        # Something time-based did happen in the middle of the run
        self.assertTrue(any(name != "on_step_end" for name, step in expected if 1 < step < max_steps))


# =============================================================================
# Resuming
# =============================================================================


@require_torch
class DefaultFlowCallbackTest(TimedTrainingTestCase):
    time_strategies = {
        "logging_strategy": "time",
        "logging_time": 3,
        "eval_strategy": "time",
        "eval_time": 4,
        "eval_delay": 2,
        "save_strategy": "time",
        "save_time": 5,
    }

    def test_subclass_that_skips_super_init_keeps_working(self):
        class QuietFlow(DefaultFlowCallback):
            def __init__(self):
                pass  # user code written when DefaultFlowCallback had no state

        trainer, recorder = self.train(max_steps=4, eval_strategy="steps", eval_steps=2)
        trainer.pop_callback(DefaultFlowCallback)
        trainer.add_callback(QuietFlow())
        trainer.evaluate()
        trainer.train()
        self.assertIn(4, recorder.steps("on_evaluate"))

    @parameterized.expand(
        [(hook, placement) for hook in SUBCLASS_HOOKS for placement in ("replacing_the_default", "beside_the_default")]
    )
    def test_subclass_overriding_a_hook_without_super_keeps_the_schedule(self, hook, placement):
        # Users subclass DefaultFlowCallback as a generic base and override hooks without calling `super()`
        overridden = (lambda self: None) if hook == "__init__" else (lambda self, *args, **kwargs: None)
        custom_flow = type("CustomFlow", (DefaultFlowCallback,), {hook: overridden})
        max_steps = 20
        trainer, recorder = make_timed_trainer(
            self.output_dir, max_steps=max_steps, step_duration=irregular_step_duration, **self.time_strategies
        )
        if placement == "replacing_the_default":
            trainer.pop_callback(DefaultFlowCallback)
        trainer.add_callback(custom_flow())
        trainer.train()
        expected = expected_time_events(trainer.args, max_steps, step_duration=irregular_step_duration)
        self.assertEqual(recorder.sequence(), expected)
        self.assertTrue(os.path.isdir(os.path.join(self.output_dir, f"checkpoint-{max_steps}")))

    @parameterized.expand([("steady_steps", 1.0), ("steps_twice_as_slow_from_step_60", 2.0)])
    def test_agreed_checks_come_closer_as_a_deadline_nears_and_fire_when_one_process_would(self, _, slowdown):
        # One process stands for all (its all-reduce leaves its own values): the rule that spaces the checks
        def step_duration(step):
            return slowdown if step >= 60 else 1.0

        def run(world_size):
            args = time_training_arguments(self.output_dir, save_strategy="time", save_time=100)
            state, clock, checks, saves = TrainerState(global_step=1, max_steps=300), FakeClock(), [], []
            with (
                patch_clock(clock),
                mock.patch.object(type(args), "world_size", new_callable=mock.PropertyMock, return_value=world_size),
                mock.patch("transformers.trainer_callback._is_torch_distributed_initialized", return_value=True),
                mock.patch.object(torch.distributed, "all_reduce", lambda *a, **k: checks.append(state.global_step)),
            ):
                schedule = _TimeSchedule(args, state)
                for step in range(2, state.max_steps + 1):
                    state.global_step = step
                    clock.advance(step_duration(step))
                    if "save" in schedule.due():
                        saves.append(step)
                        schedule.event_ended("save")
            return saves, checks

        one_process_saves, _ = run(world_size=1)
        saves, checks = run(world_size=2)
        self.assertEqual(saves, one_process_saves)
        self.assertGreaterEqual(len(saves), 2)
        # A few dozen checks for intervals of 100 steps or more, closer and closer before each save, down to every step
        self.assertLess(len(checks), 15 * len(saves))
        for save in saves:
            self.assertIn(save - 1, checks)
            self.assertIn(save, checks)

    def test_several_processes_without_a_process_group_refuse_time_strategies(self):
        # On TPU/XLA there is no torch.distributed process group to agree through: refuse rather than hang
        args = time_training_arguments(self.output_dir, save_strategy="time", save_time="30m")
        state = TrainerState(global_step=1, max_steps=10)
        with mock.patch.object(type(args), "world_size", new_callable=mock.PropertyMock, return_value=2):
            with self.assertRaisesRegex(ValueError, "need a `torch.distributed` process group"):
                DefaultFlowCallback().on_step_end(args, state, TrainerControl())


@require_torch
class ArgumentsSetAfterConstructionTest(TimedTrainingTestCase):
    @parameterized.expand(
        [
            ("time_strategy_without_interval", {"save_strategy": "time"}, "`save_time`"),
            ("negative_interval", {"save_strategy": "time", "save_time": -5}, "`save_time` must be positive"),
            ("word", {"save_strategy": "time", "save_time": "soon"}, "`save_time` is not a duration"),
            ("nan", {"save_strategy": "time", "save_time": math.nan}, "`save_time` is not a duration"),
            ("unknown_strategy", {"save_strategy": "tme"}, "tme is not a valid SaveStrategy"),
            ("duration_delay_under_steps", {"eval_strategy": "steps", "eval_delay": "10m"}, "`eval_delay`"),
        ]
    )
    def test_invalid_value_set_after_construction_is_refused_before_the_first_step(self, _, values, message):
        trainer, recorder = make_timed_trainer(self.output_dir, max_steps=4)
        for name, value in values.items():
            setattr(trainer.args, name, value)
        with self.assertRaisesRegex(ValueError, message):
            trainer.train()
        self.assertEqual(recorder.events, [])

    def test_duration_string_set_after_construction_is_parsed(self):
        trainer, recorder = make_timed_trainer(self.output_dir, max_steps=12)
        trainer.args.save_strategy = "time"
        trainer.args.save_time = "3s"
        trainer.train()
        self.assertEqual(trainer.args.save_time, 3.0)
        self.assertEqual(recorder.steps("on_save"), [4, 7, 10, 12])

    def test_hyperparameter_search_trial_takes_a_duration_string(self):
        trainer, recorder = make_timed_trainer(self.output_dir, max_steps=12, save_strategy="time", save_time=60)
        trainer.hp_search_backend = HPSearchBackend.WANDB  # a backend whose trials are plain dicts
        trainer._hp_search_setup({"save_time": "3s"})
        trainer.hp_search_backend = None
        trainer.train()
        self.assertEqual(trainer.args.save_time, 3.0)
        self.assertEqual(recorder.steps("on_save"), [4, 7, 10, 12])


@require_torch
class TimeStrategyResumeTest(TimedTrainingTestCase):
    time_strategies = {
        "logging_strategy": "time",
        "logging_time": 3,
        "eval_strategy": "time",
        "eval_time": 4,
        "eval_delay": 3,
        "save_strategy": "time",
        "save_time": 5,
    }

    @parameterized.expand([("same_step_duration", 1.0), ("long_first_step", 100.0)])
    def test_resume_restarts_every_interval(self, _, first_step_duration):
        max_steps = 16
        trainer, recorder = make_timed_trainer(self.output_dir, max_steps=max_steps, **self.time_strategies)
        trainer.train()
        saves = recorder.steps("on_save")
        self.assertEqual(saves, [6, 11, 16])
        resumed_from = saves[0]

        def step_duration(step):
            return first_step_duration if step == resumed_from + 1 else 1.0

        # A new process: a new trainer, and a clock whose readings have nothing to do with the first one's
        clock = FakeClock(start=1e6)
        trainer, recorder = make_timed_trainer(
            self.output_dir, clock=clock, step_duration=step_duration, max_steps=max_steps, **self.time_strategies
        )
        trainer.train(resume_from_checkpoint=os.path.join(self.output_dir, f"checkpoint-{resumed_from}"))

        self.assertEqual(recorder.steps("on_step_end"), list(range(resumed_from + 1, max_steps + 1)))
        self.assertEventsAtStep(recorder, resumed_from + 1, ["on_step_end"])
        expected = expected_time_events(
            trainer.args, max_steps, step_duration=step_duration, first_step=resumed_from + 1
        )
        self.assertEqual(recorder.sequence(), expected)
        if first_step_duration == 1.0:
            # The schedule after resuming at step 6 is the schedule of a run that started at step 6
            self.assertEqual(recorder.steps("on_save"), [12, 16])
            self.assertEqual(recorder.steps("train_log"), [10, 13, 16])
            self.assertEqual(recorder.steps("on_evaluate"), [11, 15, 16])

    def test_resuming_with_time_strategies_does_not_compare_step_intervals(self):
        trainer, _ = make_timed_trainer(
            self.output_dir,
            max_steps=4,
            logging_strategy="steps",
            logging_steps=2,
            save_strategy="steps",
            save_steps=4,
        )
        trainer.train()
        trainer, recorder = make_timed_trainer(self.output_dir, max_steps=8, **self.time_strategies)
        with self.assertNoLogs("transformers.trainer_utils", level="WARNING"):
            trainer.train(resume_from_checkpoint=os.path.join(self.output_dir, "checkpoint-4"))
        self.assertEqual(recorder.steps("on_step_end"), [5, 6, 7, 8])

    def test_trainer_state_holds_no_new_keys(self):
        def saved_state(output_dir, **strategies):
            trainer, _ = make_timed_trainer(output_dir, max_steps=6, **strategies)
            trainer.train()
            with open(os.path.join(output_dir, "checkpoint-6", TRAINER_STATE_NAME), encoding="utf-8") as f:
                return json.load(f)

        steps_state = saved_state(
            self.get_auto_remove_tmp_dir(),
            logging_strategy="steps",
            logging_steps=2,
            eval_strategy="steps",
            eval_steps=3,
            save_strategy="steps",
            save_steps=3,
        )
        time_state = saved_state(
            self.output_dir,
            logging_strategy="time",
            logging_time=2,
            eval_strategy="time",
            eval_time=3,
            save_strategy="time",
            save_time=3,
        )

        self.assertEqual(set(time_state), set(steps_state))
        self.assertEqual(set(time_state["stateful_callbacks"]), set(steps_state["stateful_callbacks"]))
        self.assertEqual(
            {key for entry in time_state["log_history"] for key in entry},
            {key for entry in steps_state["log_history"] for key in entry},
        )
        # Stock `TrainerState.load_from_json` passes every key to the constructor
        self.assertLessEqual(set(time_state), {f.name for f in dataclasses.fields(TrainerState)})
        TrainerState(**time_state)
