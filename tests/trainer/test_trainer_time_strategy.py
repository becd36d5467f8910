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
Tests for the `"time"` logging, evaluation and save strategies: the duration parser, the `TrainingArguments` fields,
the schedule `DefaultFlowCallback` follows (driven directly, on a fake clock), and one training run per capability.
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
    EarlyStoppingCallback,
    HfArgumentParser,
    IntervalStrategy,
    Seq2SeqTrainingArguments,
    TrainerControl,
    TrainerState,
    TrainingArguments,
    is_torch_available,
    trainer_utils,
)
from transformers.testing_utils import TestCasePlus, require_torch
from transformers.trainer_callback import _TimeSchedule
from transformers.trainer_utils import HPSearchBackend, SaveStrategy, _parse_duration

from .time_strategy_testing import FakeClock, make_timed_trainer, patch_clock, time_training_arguments


if is_torch_available():
    import torch
    from safetensors.torch import load_file

    from transformers.trainer import TRAINER_STATE_NAME


KINDS = [("logging", "logging_strategy"), ("eval", "eval_strategy"), ("save", "save_strategy")]
ACCEPTED_FORMS = ('"90s"', '"30m"', '"1.5h"', '"1h30m"', '"2d"', "HH:MM:SS", "DD:HH:MM:SS", "timedelta")
STOCK_EVAL_DELAY_HELP = (
    "Number of epochs or steps to wait for before the first evaluation can be performed, depending on the"
    " eval_strategy."
)


class ScriptedMetrics:
    """A `compute_metrics` that returns the next of `scores` as `score` at each evaluation."""

    def __init__(self, scores):
        self.scores = iter(scores)

    def __call__(self, eval_prediction):
        return {"score": next(self.scores)}


def run_flow(
    args, max_steps=12, step_seconds=1.0, eval_seconds=0.0, save_seconds=0.0, requests=(), callbacks=None, main=True
):
    """
    Drives `DefaultFlowCallback` (or `callbacks`) as `Trainer` does, on a fake clock: each update step lasts
    `step_seconds` (a number, or a function of the step), then the log, evaluation and save it asks for run, taking
    `eval_seconds` and `save_seconds`. `requests` lists `(kind, step)` events that another callback asks for. `main`:
    whether this is the main process of its node. Returns the steps of each kind of event.
    """
    callbacks = callbacks or [DefaultFlowCallback()]
    state, clock = TrainerState(max_steps=max_steps, is_local_process_zero=main), FakeClock()
    events = {"logging": [], "eval": [], "save": []}
    hooks = [("logging", "should_log", "on_log", 0.0), ("eval", "should_evaluate", "on_evaluate", eval_seconds)]
    hooks.append(("save", "should_save", "on_save", save_seconds))
    with patch_clock(clock):
        for step in range(1, max_steps + 1):
            state.global_step = step
            clock.advance(step_seconds(step) if callable(step_seconds) else step_seconds)
            control = TrainerControl()
            for callback in callbacks:
                callback.on_step_end(args, state, control)
            for kind, flag, hook, seconds in hooks:
                if getattr(control, flag) or (kind, step) in requests:
                    clock.advance(seconds)
                    for callback in callbacks:
                        getattr(callback, hook)(args, state, control, logs={"loss": 1.0})
                    events[kind].append(step)
    return events


class ParseDurationTest(TestCasePlus):
    def test_accepted(self):
        for value, seconds in [
            (90, 90.0), (1.5, 1.5), ("90", 90.0), ("1.5", 1.5), ("90s", 90.0), ("30m", 1800.0), ("1.5h", 5400.0),
            ("1h30m", 5400.0), ("2d", 172800.0), ("1d2h3m4s", 93784.0), ("01:30:00", 5400.0), ("1:02:03", 3723.0),
            ("1:02:03:04", 93784.0), (timedelta(minutes=30), 1800.0), (timedelta(milliseconds=1500), 1.5),
            (" 30m ", 1800.0),
        ]:  # fmt: skip
            with self.subTest(value=value):
                parsed = _parse_duration(value, "save_time")
                self.assertIsInstance(parsed, float)
                self.assertEqual(parsed, seconds)

    def test_refused(self):
        not_durations = [
            float("nan"), float("inf"), float("-inf"), True, False, None, [30], "", "   ", "abc", "5w", "h", "30m1h",
            "1H", "soon", "1:60:00", "00:00:60", "1:24:00:00", "30:00", "1:00:00:00:00", "nan", "inf", "1e400",
            "1e3", "1_000", "\u0661\u0662", "\u0661\u0662m", 10**400, "1" * 400 + ":00:00", "\u00b2:00:00",
        ]  # fmt: skip
        not_positive = [0, 0.0, "0", "0s", "00:00:00", timedelta(0), -5, "-5", "-5m", timedelta(seconds=-1)]
        cases = [(value, "is not a duration: ") for value in not_durations]
        cases += [(value, "must be positive, got ") for value in not_positive]
        for value, error in cases:
            with self.subTest(value=value), self.assertRaises(ValueError) as context:
                _parse_duration(value, "save_time")
            message = str(context.exception)
            self.assertTrue(message.startswith(f"`save_time` {error}"), message)
            self.assertIn(repr(value), message)
            for form in ACCEPTED_FORMS:
                self.assertIn(form, message)

    def test_zero_allowed_for_delays(self):
        for value in (0, "0", "0s", "00:00:00"):
            self.assertEqual(_parse_duration(value, "eval_delay", allow_zero=True), 0.0)
        with self.assertRaisesRegex(ValueError, "`eval_delay` must be zero or positive"):
            _parse_duration(-1, "eval_delay", allow_zero=True)

    def test_not_public(self):
        self.assertFalse(hasattr(trainer_utils, "parse_duration"))


class TimeArgumentsTest(TestCasePlus):
    def setUp(self):
        super().setUp()
        self.output_dir = self.get_auto_remove_tmp_dir()

    def make_args(self, args_class=TrainingArguments, **kwargs):
        return args_class(output_dir=self.output_dir, report_to=[], **kwargs)

    def all_time(self):
        return {
            "logging_strategy": "time",
            "logging_time": "90s",
            "eval_strategy": "time",
            "eval_time": timedelta(minutes=15),
            "save_strategy": "time",
            "save_time": "00:30:00",
        }

    def test_enum_values(self):
        self.assertEqual(IntervalStrategy("time"), IntervalStrategy.TIME)
        self.assertEqual(SaveStrategy("time"), SaveStrategy.TIME)

    def test_float_seconds_serialized_and_reloaded(self):
        args = self.make_args(**self.all_time())
        from_json = json.loads(args.to_json_string())
        for serialized in (args.to_dict(), from_json):
            self.assertEqual([serialized[f"{kind}_time"] for kind, _ in KINDS], [90.0, 900.0, 1800.0])
            self.assertTrue(all(isinstance(serialized[f"{kind}_time"], float) for kind, _ in KINDS))
        init_fields = {f.name for f in dataclasses.fields(TrainingArguments) if f.init}
        reloaded = TrainingArguments(**{key: value for key, value in from_json.items() if key in init_fields})
        self.assertEqual([getattr(reloaded, f"{kind}_time") for kind, _ in KINDS], [90.0, 900.0, 1800.0])
        self.assertEqual(reloaded.save_strategy, "time")

    @parameterized.expand(KINDS)
    def test_errors_name_the_field(self, kind, strategy_field):
        with self.assertRaisesRegex(ValueError, f'`{strategy_field}="time"` requires `{kind}_time`'):
            self.make_args(**{strategy_field: "time"})
        with self.assertRaisesRegex(ValueError, f"`{kind}_time` is not a duration: '30m1h'"):
            self.make_args(**{strategy_field: "time", f"{kind}_time": "30m1h"})

    @parameterized.expand(KINDS)
    def test_ignored_intervals_warn(self, kind, strategy_field):
        with self.assertLogs("transformers.training_args", level="WARNING") as logs:
            args = self.make_args(**{f"{kind}_time": "30m"})
        self.assertNotEqual(getattr(args, strategy_field), "time")
        self.assertTrue(any(f"`{kind}_time` is ignored because `{strategy_field}`" in line for line in logs.output))
        with self.assertLogs("transformers.training_args", level="WARNING") as logs:
            self.make_args(**{strategy_field: "time", f"{kind}_time": 60, f"{kind}_steps": 7})
        self.assertTrue(any(f"`{kind}_steps` (7) is ignored" in line for line in logs.output), logs.output)
        with self.assertNoLogs("transformers.training_args", level="WARNING"):
            self.make_args(**self.all_time())

    def test_command_line_and_config_files(self):
        parser = HfArgumentParser(TrainingArguments)
        (args,) = parser.parse_args_into_dataclasses(
            [*("--output_dir", self.output_dir, "--report_to", "none", "--logging_strategy", "time"), "--logging_time"]
            + ["90", "--eval_strategy", "time", "--eval_time", "00:15:00", "--save_strategy", "time", "--save_time"]
            + ["30m"]
        )
        self.assertEqual((args.logging_time, args.eval_time, args.save_time), (90.0, 900.0, 1800.0))
        with self.assertRaisesRegex(ValueError, "`save_time`"):
            parser.parse_args_into_dataclasses(["--save_strategy", "time", "--save_time", "half an hour"])

        config = {"output_dir": self.output_dir, "eval_strategy": "time", "eval_time": 600, "eval_delay": "10m"}
        path = os.path.join(self.output_dir, "args.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump({**config, "save_strategy": "time", "save_time": "1h30m"}, f)
        (args,) = parser.parse_json_file(path)
        self.assertEqual((args.eval_time, args.eval_delay, args.save_time), (600.0, 600.0, 5400.0))
        path = os.path.join(self.output_dir, "args.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(f"output_dir: {self.output_dir}\nlogging_strategy: time\nlogging_time: 90\nsave_strategy: time\n")
            f.write("save_time: '00:15:00'\n")
        (args,) = parser.parse_yaml_file(path)
        self.assertEqual((args.logging_time, args.save_time), (90.0, 900.0))

    def test_eval_delay_argument_is_stock(self):
        # `--eval_delay` stays a number for every user; under "time" it is seconds
        parser = HfArgumentParser(TrainingArguments)
        action = next(action for action in parser._actions if action.dest == "eval_delay")
        self.assertIs(action.type, float)
        self.assertEqual(action.help, STOCK_EVAL_DELAY_HELP)
        command_line = ["--output_dir", self.output_dir, "--eval_strategy", "time", "--eval_time", "1m"]
        (args,) = parser.parse_args_into_dataclasses(command_line + ["--eval_delay", "600"])
        self.assertEqual(args.eval_delay, 600.0)

    def test_eval_delay(self):
        for delay in (90, "90s", "00:01:30", timedelta(seconds=90)):
            args = self.make_args(eval_strategy="time", eval_time="1m", eval_delay=delay)
            self.assertEqual(args.eval_delay, 90.0)
            self.assertEqual(self.make_args().set_evaluate(strategy="time", time="1m", delay=delay).eval_delay, 90.0)
        for delay in (0, "0", "0s", "00:00:00"):
            self.assertEqual(self.make_args(eval_strategy="time", eval_time=60, eval_delay=delay).eval_delay, 0.0)
        self.assertEqual(self.make_args(eval_strategy="steps", eval_steps=10, eval_delay=5).eval_delay, 5)
        with self.assertRaisesRegex(ValueError, "`eval_delay` is not a duration: 'soon'"):
            self.make_args(eval_strategy="time", eval_time="1m", eval_delay="soon")
        # A duration under another strategy used to fail at the second step with a TypeError
        for strategy in ("steps", "epoch"):
            with self.assertRaisesRegex(ValueError, f"`eval_delay` must be a number of steps or epochs.*'{strategy}'"):
                self.make_args(eval_strategy=strategy, eval_steps=10, eval_delay="10m")

    @parameterized.expand([("set_logging", "logging"), ("set_evaluate", "eval"), ("set_save", "save")])
    def test_setters(self, setter, kind):
        args = self.make_args()
        self.assertIs(getattr(args, setter)(strategy="time", time="1h30m"), args)
        self.assertEqual((getattr(args, f"{kind}_strategy"), getattr(args, f"{kind}_time")), ("time", 5400.0))
        getattr(args, setter)(strategy="time", time=timedelta(seconds=45))
        self.assertEqual(getattr(args, f"{kind}_time"), 45.0)
        with self.assertRaisesRegex(ValueError, "requires `time`"):
            getattr(args, setter)(strategy="time")
        with self.assertLogs("transformers.training_args", level="WARNING") as logs:
            getattr(args, setter)(strategy="steps", time="30m")
        self.assertTrue(any("`time` is ignored" in line for line in logs.output), logs.output)
        if setter == "set_evaluate":
            args.set_evaluate(strategy="time", time="15m")
            self.assertTrue(args.do_eval)
            self.assertEqual(args.eval_delay, 0)

    def test_subclass(self):
        args = self.make_args(Seq2SeqTrainingArguments, **self.all_time())
        self.assertEqual((args.logging_time, args.eval_time, args.save_time), (90.0, 900.0, 1800.0))
        with self.assertRaisesRegex(ValueError, "`save_time`"):
            self.make_args(Seq2SeqTrainingArguments, save_strategy="time")
        (parsed,) = HfArgumentParser(Seq2SeqTrainingArguments).parse_args_into_dataclasses(
            ["--output_dir", self.output_dir, "--save_strategy", "time", "--save_time", "2d"]
        )
        self.assertEqual(parsed.save_time, 172800.0)

    def test_best_model_strategies(self):
        args = self.make_args(
            load_best_model_at_end=True, eval_strategy="time", eval_time="10m", save_strategy="time", save_time="30m"
        )
        self.assertEqual(args.metric_for_best_model, "loss")
        for eval_strategy, save_strategy in [("time", "steps"), ("steps", "time"), ("time", "epoch")]:
            with self.assertRaises(ValueError):
                self.make_args(
                    load_best_model_at_end=True,
                    **{"eval_strategy": eval_strategy, "eval_time": "10m", "eval_steps": 10},
                    **{"save_strategy": save_strategy, "save_time": "30m", "save_steps": 10},
                )
        args = self.make_args(
            save_strategy="best", eval_strategy="time", eval_time="10m", metric_for_best_model="loss"
        )
        self.assertEqual((args.save_strategy, args.eval_time), (SaveStrategy.BEST, 600.0))


class TimeScheduleTest(TestCasePlus):
    """The rules of the time strategies, on `DefaultFlowCallback` driven step by step on a fake clock."""

    def args(self, **kwargs):
        return time_training_arguments(self.get_auto_remove_tmp_dir(), **kwargs)

    def test_monotonic_clock(self):
        self.assertIs(_TimeSchedule.clock, time.monotonic)

    @parameterized.expand(
        [
            ("several_steps", 1.0, 4, [5, 9]),
            ("not_a_multiple", 2.0, 5, [4, 7, 10]),
            ("fractional", 0.25, 0.75, [4, 7, 10]),
            ("step_longer_than_interval", 3.0, 2, list(range(2, 13))),
            ("irregular_steps", lambda step: float(1 + (3 * step) % 4), 6, [4, 6, 9, 12]),
        ]
    )
    def test_first_step_reaching_the_interval(self, _, step_seconds, interval, expected):
        # Intervals count from the end of step 1: nothing time-based fires there
        events = run_flow(self.args(logging_strategy="time", logging_time=interval), step_seconds=step_seconds)
        self.assertEqual(events["logging"], expected)

    @parameterized.expand([("eval",), ("save",)])
    def test_interval_counts_from_the_end_of_the_event(self, kind):
        # A 10s event every 3s of training never runs on consecutive steps; the last step evaluates and saves
        events = run_flow(self.args(**{f"{kind}_strategy": "time", f"{kind}_time": 3}), **{f"{kind}_seconds": 10})
        self.assertEqual(events[kind], [4, 7, 10, 12])

    def test_evaluation_time_counts_towards_other_intervals(self):
        # The save interval runs on during the 10s evaluation of step 4: a save is due at step 5, 3s later
        args = self.args(eval_strategy="time", eval_time=3, save_strategy="time", save_time=5)
        events = run_flow(args, max_steps=8, eval_seconds=10)
        self.assertEqual((events["eval"], events["save"]), ([4, 7, 8], [5, 8]))

    @parameterized.expand([("logging",), ("eval",), ("save",)])
    def test_requested_event_restarts_the_interval(self, kind):
        args = self.args(**{f"{kind}_strategy": "time", f"{kind}_time": 5})
        events = run_flow(args, requests=[(kind, 3)])
        self.assertEqual(events[kind], [3, 8] if kind == "logging" else [3, 8, 12])

    def test_evaluation_before_training_is_not_counted(self):
        callback, args = DefaultFlowCallback(), self.args(eval_strategy="time", eval_time=3)
        callback.on_evaluate(args, TrainerState(), TrainerControl())  # `eval_on_start`: no schedule yet
        self.assertEqual(run_flow(args, max_steps=8, callbacks=[callback])["eval"], [4, 7, 8])

    def test_logging_first_step(self):
        args = self.args(logging_first_step=True, logging_strategy="time", logging_time=5)
        self.assertEqual(run_flow(args)["logging"], [1, 6, 11])
        # Only logging is time-based: the last step does not log
        self.assertEqual(run_flow(self.args(logging_strategy="time", logging_time=3), max_steps=8)["logging"], [4, 7])

    @parameterized.expand([("not_due", 8, [4, 7, 8]), ("due", 10, [4, 7, 10]), ("single_step", 1, [1])])
    def test_training_ends_with_one_evaluation_and_save(self, _, max_steps, expected):
        events = run_flow(self.args(eval_strategy="time", eval_time=3, save_strategy="time", save_time=3), max_steps)
        self.assertEqual((events["eval"], events["save"]), (expected, expected))

    def test_eval_delay(self):
        # 9s after the end of step 1 are over at the end of step 6
        args = self.args(eval_strategy="time", eval_time=3, eval_delay=9)
        self.assertEqual(run_flow(args, step_seconds=2.0)["eval"], [6, 8, 10, 12])
        args = self.args(eval_strategy="time", eval_time=3, eval_delay=100)
        self.assertEqual(run_flow(args, max_steps=8)["eval"], [])  # the last step waits for the delay too

    def test_save_brings_its_evaluation_with_load_best_model_at_end(self):
        args = self.args(eval_strategy="time", eval_time=2, save_strategy="time", save_time=5, eval_delay=7)
        args.load_best_model_at_end = True
        events = run_flow(args)
        # During eval_delay saves come without evaluations; after it, each save brings one, but no evaluation a save
        self.assertEqual(events["save"], [6, 11, 12])
        self.assertEqual(events["eval"], [8, 10, 11, 12])

    @parameterized.expand(["__init__", "on_train_begin", "on_step_begin", "on_log", "on_evaluate", "on_save"])
    def test_subclass_overriding_a_hook_without_super(self, hook):
        overridden = (lambda self: None) if hook == "__init__" else (lambda self, *args, **kwargs: None)
        custom_flow = type("CustomFlow", (DefaultFlowCallback,), {hook: overridden})
        args = self.args(logging_strategy="time", logging_time=3, eval_strategy="time", eval_time=4, eval_delay=2)
        args.save_strategy, args.save_time = "time", 5
        expected = run_flow(args, max_steps=20, step_seconds=lambda step: float(1 + (3 * step) % 4))
        for callbacks in ([custom_flow()], [DefaultFlowCallback(), custom_flow()]):
            events = run_flow(
                args, max_steps=20, step_seconds=lambda step: float(1 + (3 * step) % 4), callbacks=callbacks
            )
            self.assertEqual(events, expected)

    def test_slow_event_warns_once(self):
        args = self.args(eval_strategy="time", eval_time=3, save_strategy="time", save_time=3)
        with self.assertLogs("transformers.trainer_callback", level="WARNING") as logs:
            run_flow(args, max_steps=14, eval_seconds=10, save_seconds=1)
        slow = [line for line in logs.output if "took" in line]
        self.assertEqual(len(slow), 1, logs.output)  # the save after the slow evaluation is timed on its own
        self.assertIn("An evaluation took 10.0s, longer than `eval_time`", slow[0])
        with self.assertNoLogs("transformers.trainer_callback", level="WARNING"):
            run_flow(args, max_steps=14, eval_seconds=3, save_seconds=3)
        with self.assertNoLogs("transformers.trainer_callback", level="WARNING"):
            run_flow(args, max_steps=14, eval_seconds=10, main=False)  # not the main process of its node

    @require_torch
    @parameterized.expand([("steady_steps", 1.0), ("steps_twice_as_slow_from_step_60", 2.0)])
    def test_agreed_checks(self, _, slowdown):
        # One process stands for all (its all-reduce leaves its own values): the rule that spaces the checks
        def run(world_size):
            args = self.args(save_strategy="time", save_time=100)
            state, clock, checks, saves = TrainerState(global_step=1, max_steps=300), FakeClock(), [], []
            with (
                patch_clock(clock),
                mock.patch.object(type(args), "world_size", new_callable=mock.PropertyMock, return_value=world_size),
                mock.patch.object(torch.distributed, "all_reduce", lambda *a, **k: checks.append(state.global_step)),
            ):
                schedule = _TimeSchedule(args, state)
                for step in range(2, state.max_steps + 1):
                    state.global_step = step
                    clock.advance(slowdown if step >= 60 else 1.0)
                    if "save" in schedule.due():
                        saves.append(step)
                        schedule.event_ended("save")
            return saves, checks

        saves, checks = run(world_size=2)
        self.assertEqual(saves, run(world_size=1)[0])
        self.assertGreaterEqual(len(saves), 2)
        # A few checks per interval of 100 steps or more, closer and closer before each save, down to every step
        self.assertLess(len(checks), 15 * len(saves))
        for save in saves:
            self.assertIn(save - 1, checks)
            self.assertIn(save, checks)


@require_torch
class TimeTrainingTest(TestCasePlus):
    """One training run of a tiny model per capability, on a fake clock (see `time_strategy_testing.py`)."""

    def setUp(self):
        super().setUp()
        self.output_dir = self.get_auto_remove_tmp_dir()

    def test_log_evaluate_and_save(self):
        # 5 micro-batches of 1s an epoch, 2 accumulation steps: update steps of 2, 2 and 1s. Decisions are taken at
        # the end of update steps: 4s after step 1 (2s) are over in the middle of step 4, which logs.
        trainer, recorder = make_timed_trainer(
            self.output_dir,
            max_steps=9,
            train_length=10,
            gradient_accumulation_steps=2,
            micro_batch_duration=1.0,
            logging_strategy="time",
            logging_time=4,
            eval_strategy="time",
            eval_time=5,
            save_strategy="time",
            save_time=6,
        )
        trainer.train()
        self.assertEqual(recorder.steps("train_log"), [4, 7])
        self.assertEqual(recorder.steps("on_evaluate"), [4, 7, 9])
        self.assertEqual(recorder.steps("on_save"), [5, 9])
        self.assertEqual(sorted(os.listdir(self.output_dir)), ["checkpoint-5", "checkpoint-9"])
        trainer.clock.advance(60)  # an evaluation after training is not time-based, and never warns
        with self.assertNoLogs("transformers.trainer_callback", level="WARNING"):
            trainer.evaluate()

    def test_resume(self):
        # A first job with step strategies, resumed with time strategies on a clock a million seconds on
        trainer, _ = make_timed_trainer(
            self.output_dir,
            **{"max_steps": 6, "logging_strategy": "steps", "logging_steps": 2, "eval_strategy": "steps"},
            **{"eval_steps": 3, "save_strategy": "steps", "save_steps": 6},
        )
        trainer.train()
        time_strategies = {"logging_strategy": "time", "logging_time": 3, "eval_strategy": "time", "eval_time": 4}
        trainer, recorder = make_timed_trainer(
            self.output_dir,
            clock=FakeClock(start=1e6),
            step_duration=lambda step: 100.0 if step == 7 else 1.0,  # a long first step after resuming
            max_steps=16,
            eval_delay=3,
            save_strategy="time",
            save_time=5,
            **time_strategies,
        )
        checkpoint = os.path.join(self.output_dir, "checkpoint-6")
        with self.assertNoLogs("transformers.trainer_utils", level="WARNING"):  # step intervals are not compared
            trainer.train(resume_from_checkpoint=checkpoint)
        # The schedule of a run that started at step 6: intervals count from the end of step 7
        self.assertEqual(recorder.steps("on_step_end"), list(range(7, 17)))
        self.assertEqual(recorder.steps("train_log"), [10, 13, 16])
        self.assertEqual(recorder.steps("on_evaluate"), [11, 15, 16])
        self.assertEqual(recorder.steps("on_save"), [12, 16])

        # Nothing about time is stored: checkpoints read the same with or without time strategies
        states = []
        for step in (6, 16):
            with open(os.path.join(self.output_dir, f"checkpoint-{step}", TRAINER_STATE_NAME), encoding="utf-8") as f:
                states.append(json.load(f))
        self.assertEqual(set(states[0]), set(states[1]))
        self.assertLessEqual(set(states[1]), {f.name for f in dataclasses.fields(TrainerState)})
        self.assertEqual(set(states[0]["stateful_callbacks"]), set(states[1]["stateful_callbacks"]))
        steps_keys = {key for entry in states[0]["log_history"] for key in entry}
        self.assertEqual(
            {key for entry in states[1]["log_history"][len(states[0]["log_history"]) :] for key in entry}, steps_keys
        )

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
    def test_values_set_after_construction_are_checked(self, _, values, message):
        trainer, recorder = make_timed_trainer(self.output_dir, max_steps=4)
        for name, value in values.items():
            setattr(trainer.args, name, value)
        with self.assertRaisesRegex(ValueError, message):
            trainer.train()
        self.assertEqual(recorder.events, [])

    def test_several_processes_without_process_group(self):
        # Processes could not agree (TPU/XLA): refused when train() starts, before the first step
        trainer, recorder = make_timed_trainer(self.output_dir, max_steps=4, save_strategy="time", save_time=3)
        with mock.patch.object(type(trainer.args), "world_size", new_callable=mock.PropertyMock, return_value=2):
            with self.assertRaisesRegex(ValueError, "2 processes need a `torch.distributed` process group"):
                trainer.train()
        self.assertEqual(recorder.events, [])

    def test_duration_strings_set_late_are_parsed(self):
        trainer, recorder = make_timed_trainer(self.output_dir, max_steps=12, save_strategy="time", save_time=60)
        trainer.hp_search_backend = HPSearchBackend.WANDB  # a backend whose trials are plain dicts
        trainer._hp_search_setup({"save_time": "3s"})
        trainer.hp_search_backend = None
        trainer.args.logging_strategy, trainer.args.logging_time = "time", "00:00:05"
        trainer.train()
        self.assertEqual((trainer.args.save_time, trainer.args.logging_time), (3.0, 5.0))
        self.assertEqual(recorder.steps("on_save"), [4, 7, 10, 12])
        self.assertEqual(recorder.steps("train_log"), [6, 11])


@require_torch
class TimeBestModelTest(TestCasePlus):
    def setUp(self):
        super().setUp()
        self.output_dir = self.get_auto_remove_tmp_dir()

    def train(self, scores, **kwargs):
        trainer, recorder = make_timed_trainer(
            self.output_dir,
            max_steps=12,
            eval_strategy="time",
            metric_for_best_model="score",
            greater_is_better=False,
            compute_metrics=ScriptedMetrics(scores),
            **kwargs,
        )
        trainer.train()
        return trainer, recorder

    def test_load_best_model_at_end(self):
        # Evaluations every 2s, saves every 5s, each save with its evaluation; the best evaluation (0.1, step 8)
        # falls between two saves: it is not saved, and the best saved checkpoint (0.3, step 11) is loaded
        scores = [1.0, 0.9, 0.5, 0.1, 0.2, 0.3, 0.4]
        trainer, recorder = self.train(
            scores, eval_time=2, save_strategy="time", save_time=5, load_best_model_at_end=True
        )
        self.assertEqual(recorder.steps("on_evaluate"), [3, 5, 6, 8, 10, 11, 12])
        self.assertEqual(recorder.steps("on_save"), [6, 11, 12])
        best_checkpoint = os.path.join(self.output_dir, "checkpoint-11")
        self.assertEqual(trainer.state.best_model_checkpoint, best_checkpoint)
        self.assertEqual(trainer.state.best_metric, 0.1)  # the best evaluation, saved or not, as under "steps"
        best_weights = load_file(os.path.join(best_checkpoint, "model.safetensors"))
        for name, parameter in trainer.model.state_dict().items():
            if name in best_weights:
                torch.testing.assert_close(parameter, best_weights[name])

    def test_early_stopping(self):
        # Evaluations every 2s, no save before the end: EarlyStoppingCallback compares each evaluation with the best
        # one, saved or not, and stops after 2 evaluations without improvement
        trainer, recorder = self.train(
            [1.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
            eval_time=2,
            save_strategy="time",
            save_time=60,
            load_best_model_at_end=True,
            callbacks=[EarlyStoppingCallback(early_stopping_patience=2)],
        )
        self.assertEqual(recorder.steps("on_evaluate"), [3, 5, 7, 9])
        self.assertEqual(trainer.state.global_step, 9)
        self.assertEqual(trainer.state.best_metric, 0.5)

    def test_save_strategy_best(self):
        trainer, recorder = self.train([5.0, 1.0, 4.0, 0.5], eval_time=3, save_strategy="best")
        self.assertEqual(recorder.steps("on_evaluate"), [4, 7, 10, 12])
        self.assertEqual(recorder.steps("on_save"), [4, 7, 12])
        self.assertEqual(trainer.state.best_model_checkpoint, os.path.join(self.output_dir, "checkpoint-12"))
