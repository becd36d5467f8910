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
Upstream, TimeTrainingTest and TimeBestModelTest would move into tests/trainer/test_trainer.py, on
get_regression_trainer, and the other classes into test_trainer_utils.py, test_training_args.py, test_trainer_callback.py.
Tests of the `"time"` strategies: the duration parser, the arguments, the schedule of `DefaultFlowCallback` driven step
by step on a fake clock, and one training run per capability.
"""

import json
import math
import os
import time
import unittest
from datetime import timedelta
from unittest import mock

from transformers import (
    DefaultFlowCallback,
    EarlyStoppingCallback,
    HfArgumentParser,
    IntervalStrategy,
    Trainer,
    TrainerControl,
    TrainerState,
    TrainingArguments,
)
from transformers.testing_utils import TestCasePlus, require_torch
from transformers.trainer_callback import _TimeSchedule
from transformers.trainer_utils import HPSearchBackend, SaveStrategy, _parse_duration

from .time_strategy_testing import FakeClock, RandomTokenDataset, Ticks, patch_clock, tiny_model


def time_args(**kwargs):
    return TrainingArguments(**{"save_strategy": "no", "report_to": [], "use_cpu": True, **kwargs})


def run_flow(args, max_steps=12, step=1.0, eval_seconds=0.0, save_seconds=0.0, requests=(), flow=None, main=True):
    """
    Drives `flow` (a `DefaultFlowCallback`) as `Trainer` does, on a fake clock: update steps of `step` seconds, each
    followed by the events it asks for, or that `requests` asks for as `(kind, step)`. Returns the steps of each kind.
    """
    flow, clock, events = flow or DefaultFlowCallback(), FakeClock(), {"logging": [], "eval": [], "save": []}
    state = TrainerState(max_steps=max_steps, is_local_process_zero=main)
    with patch_clock(clock):
        for state.global_step in range(1, max_steps + 1):
            flow.on_step_begin(args, state, TrainerControl())
            clock.advance(step)
            control = flow.on_step_end(args, state, TrainerControl())
            for kind, flag in (("logging", "should_log"), ("eval", "should_evaluate"), ("save", "should_save")):
                if getattr(control, flag) or (kind, state.global_step) in requests:
                    events[kind].append(state.global_step)
                    if kind == "logging":
                        flow.on_log(args, state, control, logs={"loss": 1.0})
                    elif kind == "eval":
                        clock.advance(eval_seconds)
                        flow.on_log(args, state, control, logs={"eval_loss": 1.0})  # an evaluation logs too
                        flow.on_evaluate(args, state, control)
                    else:
                        clock.advance(save_seconds)
                        flow.on_save(args, state, control)
    return events


class ParseDurationTest(unittest.TestCase):
    def test_accepted(self):
        for value, seconds in [
            (90, 90.0), ("1.5", 1.5), (" 90s ", 90.0), ("1.5h", 5400.0), ("1d2h3m4s", 93784.0), ("01:30:00", 5400.0),
            ("1:02:03:04", 93784.0), (timedelta(minutes=30), 1800.0),
        ]:  # fmt: skip
            self.assertEqual(_parse_duration(value, "save_time"), seconds)
        self.assertEqual(_parse_duration("0s", "eval_delay", allow_zero=True), 0.0)

    def test_refused(self):
        for value in [
            float("nan"), float("inf"), True, None, "", "soon", "30m1h", "1H", "1:60:00", "1:24:00:00", "30:00", "1e3",
            "1_000", "\u0661\u0662", "\u0661:00:00", 10**400,
        ]:  # fmt: skip
            with self.subTest(value=value), self.assertRaisesRegex(ValueError, "`save_time` is not a duration"):
                _parse_duration(value, "save_time")
        for value in [0, "0s", -5, "-5m", timedelta(seconds=-1)]:
            with self.subTest(value=value), self.assertRaisesRegex(ValueError, "`save_time` must be positive"):
                _parse_duration(value, "save_time")
        with self.assertRaisesRegex(ValueError, "`eval_delay` must be zero or positive"):
            _parse_duration(-1, "eval_delay", allow_zero=True)
        # The message repeats the value and lists the accepted forms
        with self.assertRaisesRegex(ValueError, r"'soon'\. Accepted: .*\"1h30m\".*\"DD:HH:MM:SS\".*timedelta"):
            _parse_duration("soon", "save_time")


class TimeArgumentsTest(unittest.TestCase):
    def test_intervals_become_seconds(self):
        args = time_args(logging_strategy="time", logging_time="90s", save_strategy="time", save_time="00:30:00")
        args.set_evaluate(strategy="time", time=timedelta(minutes=15))
        self.assertEqual((args.logging_strategy, args.save_strategy), (IntervalStrategy.TIME, SaveStrategy.TIME))
        saved = json.loads(args.to_json_string())
        self.assertEqual([saved[f"{kind}_time"] for kind in ("logging", "eval", "save")], [90.0, 900.0, 1800.0])
        # The parser passes strings through: command lines and config files take durations
        (args,) = HfArgumentParser(TrainingArguments).parse_args_into_dataclasses(
            ["--eval_strategy", "time", "--eval_time", "1h30m", "--eval_delay", "600"]
        )
        self.assertEqual((args.eval_time, args.eval_delay), (5400.0, 600.0))

    def test_errors_and_warnings_name_the_field(self):
        for kind in ("logging", "eval", "save"):
            strategy = f"{kind}_strategy"
            with self.assertRaisesRegex(ValueError, f'`{strategy}="time"` requires `{kind}_time`'):
                time_args(**{strategy: "time"})
            with self.assertRaisesRegex(ValueError, f"`{kind}_time` is not a duration: 'soon'"):
                time_args(**{f"{kind}_time": "soon"})  # an ignored interval is checked all the same
            with self.assertLogs("transformers.training_args", level="WARNING") as logs:
                time_args(**{f"{kind}_time": "30m"})
                time_args(**{strategy: "time", f"{kind}_time": 60, f"{kind}_steps": 7})
            self.assertIn(f"`{kind}_time` is ignored because `{strategy}`", logs.output[0])
            self.assertIn(f"`{kind}_steps` (7) is ignored", logs.output[-1])
        with self.assertRaisesRegex(ValueError, '`strategy="time"` requires `time`'):
            time_args().set_logging(strategy="time")

    def test_eval_delay(self):
        self.assertEqual(time_args().set_evaluate(strategy="time", time=60, delay="90s").eval_delay, 90.0)
        self.assertEqual(time_args(eval_strategy="time", eval_time=60, eval_delay=0).eval_delay, 0.0)
        with self.assertRaisesRegex(ValueError, "`eval_delay` must be a number of steps or epochs when"):
            time_args(eval_strategy="steps", eval_steps=10, eval_delay="10m")


class TimeScheduleTest(unittest.TestCase):
    def test_monotonic_clock(self):
        self.assertIs(_TimeSchedule.clock, time.monotonic)

    def test_event_at_the_first_step_reaching_the_interval(self):
        # Intervals count from the end of step 1: 5s after 2s are over at the end of step 4 (8s), and so on
        self.assertEqual(run_flow(time_args(logging_strategy="time", logging_time=5), step=2.0)["logging"], [4, 7, 10])
        # Nothing at step 1, however long; then every step when steps outlast the interval
        flow, args = DefaultFlowCallback(), time_args(logging_strategy="time", logging_time=2)
        self.assertEqual(run_flow(args, step=3.0, flow=flow)["logging"], list(range(2, 13)))
        self.assertEqual(run_flow(args, step=3.0, flow=flow)["logging"], list(range(2, 13)))  # a new run starts over

    def test_interval_counts_from_the_end_of_the_previous_event(self):
        # 10s evaluations every 3s never come back to back; the save interval runs on during them (a save at step 5)
        args = time_args(eval_strategy="time", eval_time=3, save_strategy="time", save_time=5)
        expected = {"logging": [], "eval": [4, 7, 10, 12], "save": [5, 8, 11, 12]}
        self.assertEqual(run_flow(args, eval_seconds=10), expected)

    def test_training_ends_with_an_evaluation_and_a_save(self):
        args = time_args(logging_strategy="time", logging_time=60, eval_strategy="time", eval_time=60)
        args.set_save(strategy="time", time=60)
        self.assertEqual(run_flow(args, max_steps=1), {"logging": [], "eval": [1], "save": [1]})

    def test_requested_event_restarts_the_interval(self):
        for kind in ("logging", "eval", "save"):
            events = run_flow(time_args(**{f"{kind}_strategy": "time", f"{kind}_time": 5}), requests=[(kind, 3)])
            self.assertEqual(events[kind], [3, 8] if kind == "logging" else [3, 8, 12])
        # The log of an evaluation is not a training log
        events = run_flow(time_args(logging_strategy="time", logging_time=5), requests=[("eval", 3)])
        self.assertEqual(events["logging"], [6, 11])

    def test_eval_delay(self):
        # 9s after the end of step 1 (2s) are over at the end of step 6 (12s)
        args = time_args(eval_strategy="time", eval_time=3, eval_delay=9)
        self.assertEqual(run_flow(args, step=2.0)["eval"], [6, 8, 10, 12])
        args = time_args(eval_strategy="time", eval_time=3, eval_delay=100)
        self.assertEqual(run_flow(args)["eval"], [])  # not even at the end of training

    def test_save_brings_its_evaluation_with_load_best_model_at_end(self):
        args = time_args(eval_strategy="time", eval_time=2, eval_delay=7, save_strategy="time", save_time=5)
        args.load_best_model_at_end = True
        # During eval_delay saves come without evaluations; after it, each save brings one, but no evaluation a save
        self.assertEqual(run_flow(args), {"logging": [], "eval": [8, 10, 11, 12], "save": [6, 11, 12]})

    def test_hooks_that_do_not_reach_the_schedule(self):
        # A subclass overriding the hooks without `super()`: intervals restart when their events fire
        class Flow(DefaultFlowCallback):
            def on_step_begin(self, *args, **kwargs):
                pass

            on_log = on_evaluate = on_save = on_step_begin

        args = time_args(logging_strategy="time", logging_time=3, eval_strategy="time", eval_time=4)
        args.set_save(strategy="time", time=5)
        self.assertEqual(run_flow(args, flow=Flow()), {"logging": [4, 7, 10], "eval": [5, 9, 12], "save": [6, 11, 12]})

    def test_slow_event_warns_once(self):
        args = time_args(eval_strategy="time", eval_time=3, save_strategy="time", save_time=3)
        with self.assertLogs("transformers.trainer_callback", level="WARNING") as logs:
            run_flow(args, eval_seconds=10, save_seconds=1)  # the save after each evaluation is timed on its own
        self.assertEqual(len(logs.output), 1)
        self.assertIn("An evaluation took 10.0s, longer than `eval_time` (3.0s)", logs.output[0])
        with self.assertNoLogs("transformers.trainer_callback", level="WARNING"):
            run_flow(args, eval_seconds=10, main=False)  # only the main process of each node warns

    @require_torch
    def test_agreed_checks(self):
        # One process stands for all (the all-reduce leaves its values). Steps get twice as slow from step 60 on.
        def saves_and_checks(world_size):
            args, state = time_args(save_strategy="time", save_time=100), TrainerState(global_step=1)
            clock, saves, checks = FakeClock(), [], []
            with (
                patch_clock(clock),
                mock.patch.object(TrainingArguments, "world_size", world_size),
                mock.patch("torch.distributed.all_reduce", lambda *args, **kwargs: checks.append(state.global_step)),
            ):
                schedule = _TimeSchedule(args, state)
                for state.global_step in range(2, 300):
                    clock.advance(2.0 if state.global_step >= 60 else 1.0)
                    if "save" in schedule.due():
                        saves.append(state.global_step)
                        schedule.event_ended("save")
            return saves, checks

        (saves, checks), single_process = saves_and_checks(world_size=2), saves_and_checks(world_size=1)
        self.assertEqual(single_process, (saves, []))  # the same saves, and no collective
        # A few checks per interval of 100 steps or more, closer and closer before a save, down to every step
        self.assertLess(len(checks), 15 * len(saves))
        for save in saves:
            self.assertTrue({save - 1, save} <= set(checks))


@require_torch
class TimeTrainerTestCase(TestCasePlus):
    """Trainers on a tiny model whose update steps last 1s on a fake clock; evaluations and saves take no time."""

    def setUp(self):
        super().setUp()
        self.output_dir, self.clock = self.get_auto_remove_tmp_dir(), FakeClock()
        patcher = patch_clock(self.clock)
        patcher.start()
        self.addCleanup(patcher.stop)

    def trainer(self, scores=(), callbacks=(), **kwargs):
        """A `Trainer` and its `Ticks`. Evaluations return the next of `scores` as their `score`, if given."""
        defaults = {"max_steps": 12, "per_device_train_batch_size": 2, "save_strategy": "no", "disable_tqdm": True}
        args = TrainingArguments(self.output_dir, report_to=[], use_cpu=True, **{**defaults, **kwargs})
        ticks, scores = Ticks(self.clock), iter(scores)
        data = {"train_dataset": RandomTokenDataset(16), "eval_dataset": RandomTokenDataset(4, seed=1)}
        trainer = Trainer(tiny_model(), args, callbacks=[ticks, *callbacks], **data)
        trainer.compute_metrics = lambda prediction: {"score": next(scores, 0.0)}
        return trainer, ticks


class TimeTrainingTest(TimeTrainerTestCase):
    def test_log_evaluate_and_save(self):
        trainer, ticks = self.trainer(
            **{"logging_strategy": "time", "logging_time": 4, "eval_strategy": "time", "eval_time": 5},
            **{"save_strategy": "time", "save_time": 6},
        )
        trainer.train()
        self.assertEqual(ticks.steps, {"log": [5, 9], "evaluate": [6, 11, 12], "save": [7, 12]})
        self.assertEqual(sorted(os.listdir(self.output_dir)), ["checkpoint-12", "checkpoint-7"])

    def test_resume(self):
        steps = {"logging_steps": 2, "eval_strategy": "steps", "eval_steps": 3, "save_strategy": "steps"}
        self.trainer(max_steps=6, save_steps=6, **steps)[0].train()
        trainer, ticks = self.trainer(
            **{"max_steps": 16, "logging_strategy": "time", "logging_time": 3, "eval_strategy": "time"},
            **{"eval_time": 4, "save_strategy": "time", "save_time": 5},
        )
        with self.assertNoLogs("transformers.trainer_utils", level="WARNING"):  # step intervals are not compared
            trainer.train(resume_from_checkpoint=os.path.join(self.output_dir, "checkpoint-6"))
        # Intervals count from the end of step 7, the first of this `train()` call
        self.assertEqual(ticks.steps, {"log": [10, 13, 16], "evaluate": [11, 15, 16], "save": [12, 16]})

    def test_values_set_after_construction_are_checked_by_train(self):
        trainer, ticks = self.trainer(save_strategy="time", save_time=60)
        trainer.args.eval_strategy = "time"
        with self.assertRaisesRegex(ValueError, '`eval_strategy="time"` requires `eval_time`'):
            trainer.train()
        self.assertEqual(self.clock(), 0)  # before the first step
        trainer.args.eval_strategy = "no"
        trainer.hp_search_backend = HPSearchBackend.WANDB  # a backend whose trials are plain dicts
        trainer._hp_search_setup({"save_time": "3s"})
        trainer.hp_search_backend = None
        trainer.train()
        self.assertEqual(ticks.steps["save"], [4, 7, 10, 12])

    def test_several_processes_need_a_process_group(self):
        trainer, _ = self.trainer(save_strategy="time", save_time=3)
        with mock.patch.object(TrainingArguments, "world_size", 2):
            with self.assertRaisesRegex(ValueError, "2 processes need a `torch.distributed` process group"):
                trainer.train()
        self.assertEqual(self.clock(), 0)


class TimeBestModelTest(TimeTrainerTestCase):
    def train(self, scores, **kwargs):
        kwargs.update(eval_strategy="time", eval_time=2, save_strategy="time", load_best_model_at_end=True)
        trainer, ticks = self.trainer(scores, metric_for_best_model="score", greater_is_better=False, **kwargs)
        trainer.train()
        return trainer, ticks

    def test_load_best_model_at_end(self):
        # Saves every 5s bring their evaluations. The best evaluation (0.1 at step 8) falls between two saves: it is
        # `best_metric`, as under "steps", and the best saved checkpoint (0.3 at step 11; 6's is NaN) is the best model
        trainer, ticks = self.train([1.0, 0.9, math.nan, 0.1, 0.2, 0.3, 0.4], save_time=5)
        self.assertEqual((ticks.steps["evaluate"], ticks.steps["save"]), ([3, 5, 6, 8, 10, 11, 12], [6, 11, 12]))
        self.assertEqual(trainer.state.best_metric, 0.1)
        self.assertEqual(trainer.state.best_model_checkpoint, os.path.join(self.output_dir, "checkpoint-11"))

    def test_early_stopping(self):
        # No save before the end: EarlyStoppingCallback compares each evaluation with the best one, saved or not
        patience = EarlyStoppingCallback(early_stopping_patience=2)
        trainer, ticks = self.train([1.0, 0.5, 0.6, 0.7, 0.8], save_time=60, callbacks=[patience])
        self.assertEqual((ticks.steps["evaluate"], trainer.state.global_step), ([3, 5, 7, 9], 9))
        self.assertEqual(trainer.state.best_metric, 0.5)
