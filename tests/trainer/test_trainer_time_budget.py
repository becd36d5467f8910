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
"""`TrainingArguments.max_train_time` and `TimeBudgetCallback`, on a fake clock (nothing sleeps)."""

import os
from datetime import timedelta
from types import SimpleNamespace
from unittest import mock

from parameterized import parameterized

from transformers import (
    HfArgumentParser,
    Trainer,
    TrainerControl,
    TrainerState,
    TrainingArguments,
    is_torch_available,
)
from transformers.testing_utils import CaptureLogger, TestCasePlus, require_torch
from transformers.trainer_time_budget import TimeBudgetCallback
from transformers.trainer_utils import get_last_checkpoint
from transformers.utils import logging

from .time_strategy_testing import FakeClock, RandomTokenDataset, Ticks, tiny_model


if is_torch_available():
    import torch
    from safetensors.torch import load_file

LOGGER = "transformers.trainer_time_budget"
ARGS = {"max_steps": 1000, "per_device_train_batch_size": 2, "save_strategy": "no", "use_cpu": True, "report_to": []}
EVAL = {"eval_strategy": "steps", "per_device_eval_batch_size": 2}
EVAL_SAVE = {"eval_strategy": "steps", "save_strategy": "steps", "events": range(10, 1000, 10)}


class SlowEvents(Ticks):
    """`Ticks`, and each evaluation and save lasts 3s (before `TimeBudgetCallback`, added when training starts)."""

    def on_evaluate(self, args, state, control, **kwargs):
        super().on_evaluate(args, state, control, **kwargs)
        self.clock.advance(3)

    def on_save(self, args, state, control, **kwargs):
        super().on_save(args, state, control, **kwargs)
        self.clock.advance(3)


@require_torch
class TimeBudgetCallbackTest(TestCasePlus):
    def run_budget(
        self,
        budget=100,
        events=(),
        first_step=1,
        log=0,
        evals=(4,),
        epoch_steps=10**6,
        slow_steps=(),
        cancel_saves=False,
        **kwargs,
    ):
        """
        Drives the callback's hooks as `Trainer` calls them, until it stops training: 1s update steps (5s at
        `slow_steps`), and at the steps `events` a training log of `log`s, evaluations of `evals`s (one per dataset) and
        a save of 2s, as configured. With `cancel_saves`, a callback after it cancels every save before the stop.
        """
        hooks = {name: kwargs.pop(name, None) for name in ("model", "optimizer")}
        trainer = {name: kwargs.pop(name, None) for name in ("eval_dataset", "accelerator")}
        args = TrainingArguments(self.get_auto_remove_tmp_dir(), max_train_time=budget, **{**ARGS, **kwargs})
        state, control = TrainerState(max_steps=args.max_steps), TrainerControl()
        clock, callback = FakeClock(), TimeBudgetCallback()
        callback.set_trainer(SimpleNamespace(**trainer))
        with mock.patch.object(TimeBudgetCallback, "clock", clock):
            callback.on_train_begin(args, state, control)
            while state.global_step < args.max_steps and not control.should_training_stop:
                clock.advance(first_step if not state.global_step else 5 if state.global_step + 1 in slow_steps else 1)
                state.global_step += 1
                state.epoch = state.global_step / epoch_steps
                due = state.global_step in events
                eval_due, save_due = due and args.eval_strategy == "steps", due and args.save_strategy == "steps"
                control = TrainerControl(should_evaluate=eval_due, should_save=save_due)
                callback.on_step_end(args, state, control, **hooks)
                control.should_save &= control.should_training_stop or not cancel_saves
                if due:
                    clock.advance(log)
                    callback.on_log(args, state, control, logs={"loss": 1.0})
                for seconds in evals if control.should_evaluate else ():
                    clock.advance(seconds)
                    callback.on_log(args, state, control, logs={"eval_loss": 1.0})  # before `on_evaluate`, as usual
                    callback.on_evaluate(args, state, control)
                if control.should_save or (args.save_strategy == "epoch" and state.epoch.is_integer()):
                    clock.advance(2)
                    callback.on_save(args, state, control)
                for seconds in evals if args.eval_strategy == "epoch" and state.epoch.is_integer() else ():
                    clock.advance(seconds)  # the epoch's evaluation, after the events of its last step
                    callback.on_evaluate(args, state, control)
        return state.global_step, control, clock()

    @parameterized.expand(
        [
            # Evaluations of 4s and saves of 2s every 10 steps: 2 * (1 + 4 + 2)s kept, 2 * (1 + 4 + 2 + 4 + 2)s at a
            # step with events. Step 57 ends at 87 > 100 - 14, step 50 at 74 > 99 - 26 (its events are the final ones)
            ("timed_events", {**EVAL_SAVE, "budget": 100}, 57),
            ("events_due_now", {**EVAL_SAVE, "budget": 99}, 50),
            # Epoch-level saves of 2s: 2 * (1 + 2)s kept, 2 * (1 + 2 + 2)s at an epoch's end: step 80 ends at 94 > 90
            ("epoch_end", {"save_strategy": "epoch", "epoch_steps": 10}, 80),
            # A first step of 50s is not timed (step 50 ends at 99 > 100 - 2), nor a stop
            ("first_step_not_timed", {"first_step": 50}, 50),
            ("first_step_not_a_stop", {"first_step": 50, "budget": 10}, 2),
            # An evaluation not timed yet: its batches at a third of a step each, kept twice. 4 batches of 2:
            # 2 * (1 + 4/3)s kept, step 96 ends at 96 > 95.3; batches of 4 count twice; with gradient accumulation of
            # 2, a step counts 4 samples: step 97 ends at 97 > 96.7; two datasets, 8 batches: step 93 ends at 93 > 92.7
            ("untimed_eval", {**EVAL, "eval_dataset": [0] * 8}, 96),
            ("untimed_eval_larger_batches", {**EVAL, "eval_dataset": [0] * 8, "per_device_eval_batch_size": 4}, 96),
            ("untimed_eval_accumulation", {**EVAL, "eval_dataset": [0] * 8, "gradient_accumulation_steps": 2}, 97),
            ("untimed_eval_datasets", {**EVAL, "eval_dataset": {"a": [0] * 8, "b": [0] * 8}}, 93),
            ("untimed_eval_no_length", {**EVAL, "eval_dataset": iter([0] * 8)}, 89),  # a tenth of the budget
            # A 5s step at 3: 2 * 5s kept from then on, step 87 ends at 91 > 90. An untimed evaluation takes the mean
            # step, not the slowest: 2 * (5 + 4/3 * 87/83)s kept at step 84, which ends at 88 > 87.2 (73 by the slowest)
            ("slowest_step", {"slow_steps": {3}}, 87),
            ("untimed_eval_mean_step", {**EVAL, "eval_dataset": [0] * 8, "slow_steps": {3}}, 84),
            # One evaluation at step 10, 4s after a training log of 20s: 2 * (1 + 4)s kept, step 67 ends at 91 > 90
            ("eval_without_training_log", {**EVAL, "events": {10}, "log": 20}, 67),
            # Two evaluation datasets of 4s each: 2 * (1 + 8)s kept, step 75 ends at 83 > 82
            ("eval_datasets_add_up", {**EVAL, "events": {10}, "evals": (4, 4)}, 75),
        ]
    )
    def test_stop_step(self, _, kwargs, stop):
        self.assertEqual(self.run_budget(**kwargs)[0], stop)

    def test_untimed_save_is_estimated_from_the_bytes_written(self):
        # 1s, plus 100 MB of model and 200 MB of optimizer state at 100 MB/s: 2 * 1 + 4s kept, step 95 ends at 95 > 94
        model = SimpleNamespace(parameters=lambda: [], buffers=lambda: [torch.empty(25_000_000)])
        optimizer = SimpleNamespace(state={0: {"exp_avg": torch.empty(50_000_000), "step": 3}})
        self.assertEqual(self.run_budget(model=model, optimizer=optimizer, save_strategy="steps")[0], 95)

    @parameterized.expand(
        [
            # Saves of 2s, the first not timed yet kept at 4s (1s + 300 MB at 100 MB/s). At step 10, 10 + 2 * 1 + 4 + 4
            # > 19: the save due there runs first, and once timed, 12 + 2 * (1 + 2) <= 19: training goes on to step 12
            ("goes_on_once_timed", {"budget": 19}, 12, []),
            # 12 + 2 * (1 + 2) > 17: the save of step 10 is the final one
            ("stops_at_the_save", {"budget": 17}, 10, []),
            # The stop's evaluation, of 0.5s, runs there too (not timed, it was kept at 2 * 4/3s): then 12.5 + 2 * (1 +
            # 0.5 + 2) <= 21, training goes on to step 12, whose end at 14.5 + 7 > 21
            ("runs_the_final_evaluation_too", {"budget": 21, "eval_strategy": "time", "eval_time": 60}, 12, [10, 12]),
        ]
    )
    def test_first_save_due_at_a_stop_runs_with_its_evaluation_before_deciding(self, _, kwargs, stop, evaluated):
        model = SimpleNamespace(parameters=lambda: [], buffers=lambda: [torch.empty(25_000_000)])
        optimizer = SimpleNamespace(state={0: {"exp_avg": torch.empty(50_000_000)}})
        hooks = {"model": model, "optimizer": optimizer, "save_strategy": "steps", "events": {10}, "evals": (0.5,)}
        steps_evaluated, on_evaluate = [], TimeBudgetCallback.on_evaluate

        def evaluate(callback, args, state, control, **kwargs):
            steps_evaluated.append(state.global_step)
            on_evaluate(callback, args, state, control, **kwargs)

        with mock.patch.object(TimeBudgetCallback, "on_evaluate", evaluate):
            step, control, _ = self.run_budget(**hooks, eval_dataset=[0] * 8, **kwargs)
        self.assertEqual((step, control.should_training_stop, steps_evaluated), (stop, True, evaluated))

    def test_first_save_decides_with_the_evaluation_of_its_epoch(self):
        # 4-step epochs evaluated in 3s, the first save (kept at 4s) at step 8, the end of an epoch. At 11, 4 + 6 + 2 +
        # 6 + 4 > 28 - 11: the save runs, then at 13, the epoch's evaluation, a step and the final evaluation and save
        # (6 + 2 + 6 + 4) could overrun: the save is the final one
        model = SimpleNamespace(parameters=lambda: [], buffers=lambda: [torch.empty(75_000_000)])
        budget = {"budget": 28, "model": model, "save_strategy": "steps", "eval_strategy": "epoch", "evals": (3,)}
        self.assertEqual(self.run_budget(**budget, events={8}, epoch_steps=4)[0], 8)

    def test_first_save_that_does_not_come_puts_the_stop_off_once(self):
        # A save due at every step, cancelled by a later callback unless training stops. At step 2, 2 + 4 + 2 + 4 > 10
        model = SimpleNamespace(parameters=lambda: [], buffers=lambda: [torch.empty(75_000_000)])
        budget = {"budget": 10, "model": model, "save_strategy": "steps", "events": range(2, 1000)}
        self.assertEqual(self.run_budget(**budget, cancel_saves=True)[0], 3)

    def test_stop_at_the_first_save_is_agreed_and_said(self):
        model = SimpleNamespace(parameters=lambda: [], buffers=lambda: [torch.empty(75_000_000)])
        budget = {"budget": 19, "model": model, "save_strategy": "steps", "events": {10}}
        others = iter([0.0] * 9 + [1.0])  # another process's budget is spent at the 10th decision: the save's
        accelerator = mock.Mock(reduce=mock.Mock(side_effect=lambda local: local + next(others)))
        with mock.patch.object(TrainingArguments, "world_size", new_callable=mock.PropertyMock, return_value=2):
            self.assertEqual(self.run_budget(accelerator=accelerator, **budget)[0], 10)
        with self.assertLogs(LOGGER, level="WARNING") as logs:
            self.run_budget(**{**budget, "budget": 17})
        message = "Stopping training at step 10 of 1000: 5.0s are left of the time budget (`max_train_time`, 17s)"
        self.assertEqual(
            logs.output,
            [f"WARNING:{LOGGER}:{message}, too few for one more step and the final save (6.0s kept in hand)."],
        )

    @parameterized.expand(
        [
            ("save_steps", {"save_strategy": "steps"}, True, False),
            ("save_time", {"save_strategy": "time", "save_time": 60}, True, False),
            ("save_epoch", {"save_strategy": "epoch"}, False, False),
            ("eval_steps", {"eval_strategy": "steps"}, False, True),
            ("eval_steps_delay", {"eval_strategy": "steps", "eval_delay": 3}, False, False),
            ("eval_time", {"eval_strategy": "time", "eval_time": 60}, False, True),
            # Under "time", `eval_delay` is over once an evaluation ran: the same on every process, whatever its clock
            ("eval_time_delay", {"eval_strategy": "time", "eval_time": 60, "eval_delay": 5}, False, False),
            ("eval_epoch", {"eval_strategy": "epoch"}, False, False),
        ]
    )
    def test_stop_sets_the_final_save_and_evaluation(self, _, strategies, should_save, should_evaluate):
        step, control, _ = self.run_budget(budget=2, first_step=5, **strategies)  # stops at step 2, at 6s
        self.assertEqual((step, control.should_training_stop), (2, True))
        self.assertEqual((control.should_save, control.should_evaluate), (should_save, should_evaluate))

    @parameterized.expand(
        [
            # Kept: a step (2 * 1s), an untimed evaluation (a tenth of the budget) and save (1s for no bytes)
            ("eval_and_save", EVAL_SAVE, " and the final evaluation and save (3.2s kept in hand)"),
            ("save", {"save_strategy": "steps"}, " and the final save (3.0s kept in hand)"),
            ("nothing", {}, " (2.0s kept in hand)"),
        ]
    )
    def test_stop_warning(self, _, strategies, final):
        with self.assertLogs(LOGGER, level="WARNING") as logs:
            self.run_budget(budget=2, **strategies)
        message = "Stopping training at step 2 of 1000: 0.0s are left of the time budget (`max_train_time`, 2s)"
        self.assertEqual(logs.output, [f"WARNING:{LOGGER}:{message}, too few for one more step{final}."])

    def test_last_step_is_not_a_stop(self):
        with self.assertNoLogs(LOGGER, level="WARNING"):
            self.assertFalse(self.run_budget(budget=2, max_steps=2, save_strategy="steps")[1].should_save)

    def test_stop_agreed_elsewhere_is_said_where_it_was_decided(self):
        others = iter([0.0] * 3 + [1.0])  # another process's clock runs out at the 4th check
        accelerator = mock.Mock(reduce=mock.Mock(side_effect=lambda local: local + next(others)))
        with mock.patch.object(TrainingArguments, "world_size", new_callable=mock.PropertyMock, return_value=2):
            with CaptureLogger(logging.get_logger(LOGGER)) as captured:
                self.run_budget(accelerator=accelerator)
        self.assertNotIn("Stopping training", captured.out)

    def test_stop_decided_by_another_callback_adds_nothing(self):
        # A SIGTERM's JIT save stops training at the step where the budget would: no second save there
        callback, args = TimeBudgetCallback(), TrainingArguments(self.get_auto_remove_tmp_dir(), max_train_time=1)
        callback.set_trainer(SimpleNamespace(eval_dataset=None))
        state, clock = TrainerState(max_steps=10), FakeClock()
        with mock.patch.object(TimeBudgetCallback, "clock", clock):
            callback.on_train_begin(args, state, TrainerControl())
            for step in (1, 2):
                state.global_step, control = step, TrainerControl(should_training_stop=step == 2)
                clock.advance(5)
                callback.on_step_end(args, state, control)
        self.assertFalse(control.should_save)

    def test_processes_agree_at_every_step_end_after_the_first(self):
        # Another process's clock ran out at step 5 (the 4th check): this one stops too
        others = iter([0.0] * 3 + [1.0])
        accelerator = mock.Mock(reduce=mock.Mock(side_effect=lambda local: local + next(others)))
        with mock.patch.object(TrainingArguments, "world_size", new_callable=mock.PropertyMock, return_value=2):
            self.assertEqual(self.run_budget(accelerator=accelerator)[0], 5)
            # Its own runs out at 99: it tells the others, whose sum then says to stop
            accelerator.reduce.side_effect = lambda local: local
            self.assertEqual(self.run_budget(accelerator=accelerator)[0], 99)


@require_torch
class MaxTrainTimeTest(TestCasePlus):
    @parameterized.expand([("3h50m", 13800.0), ("71:00:00", 255600.0), (timedelta(minutes=2), 120.0), (None, None)])
    def test_value_in_seconds(self, value, seconds):
        args = TrainingArguments(self.get_auto_remove_tmp_dir(), max_train_time=value)
        self.assertEqual(args.max_train_time, seconds)

    @parameterized.expand([("soon", "`max_train_time` is not a duration"), (0, "`max_train_time` must be positive")])
    def test_invalid_value(self, value, message):
        with self.assertRaisesRegex(ValueError, message):
            TrainingArguments(self.get_auto_remove_tmp_dir(), max_train_time=value)

    def test_command_line(self):
        command_line = ["--output_dir", self.get_auto_remove_tmp_dir(), "--max_train_time", "23:30:00"]
        (args,) = HfArgumentParser(TrainingArguments).parse_args_into_dataclasses(command_line)
        self.assertEqual(args.max_train_time, 84600.0)

    def test_value_set_late_is_checked_when_training_starts(self):
        args = TrainingArguments(self.get_auto_remove_tmp_dir(), max_train_time=60, **ARGS)
        trainer = Trainer(tiny_model(), args, train_dataset=RandomTokenDataset(4))
        trainer.args.max_train_time = "soon"
        with self.assertRaisesRegex(ValueError, "`max_train_time` is not a duration"):
            trainer.train()
        self.assertEqual(trainer.state.global_step, 0)

    def test_callback_given_by_the_user_keeps_the_budget(self):
        # Its constants changed: `Trainer` hands it what it needs, as to the one it adds
        args, clock = TrainingArguments(self.get_auto_remove_tmp_dir(), max_train_time=10, **ARGS), FakeClock()
        budget = TimeBudgetCallback()
        budget.margin = 1.0
        trainer = Trainer(tiny_model(), args, train_dataset=RandomTokenDataset(4), callbacks=[Ticks(clock), budget])
        with mock.patch.object(TimeBudgetCallback, "clock", clock):
            self.assertEqual(trainer.train().global_step, 10)  # 1s steps, 1 * 1s kept: step 10 ends at 10 > 9 (2: 9)
        self.assertEqual(sum(isinstance(cb, TimeBudgetCallback) for cb in trainer.callback_handler.callbacks), 1)

    def test_budget_set_or_unset_late_applies_when_training_starts(self):
        args, clock = TrainingArguments(self.get_auto_remove_tmp_dir(), **{**ARGS, "max_steps": 100}), FakeClock()
        trainer = Trainer(tiny_model(), args, train_dataset=RandomTokenDataset(4), callbacks=[Ticks(clock)])
        trainer.args.max_train_time = 10
        with mock.patch.object(TimeBudgetCallback, "clock", clock):
            self.assertLess(trainer.train().global_step, 10)
            trainer.args.max_train_time = None
            self.assertEqual(trainer.train().global_step, 100)

    def test_training_ends_within_the_budget_with_a_complete_checkpoint_and_the_best_model(self):
        # 1s steps; every 10 steps, an evaluation and a save of 3s each. The first evaluation stays the best
        output_dir, clock = self.get_auto_remove_tmp_dir(), FakeClock()
        strategies = {"eval_strategy": "steps", "eval_steps": 10, "save_strategy": "steps", "save_steps": 10}
        best = {"load_best_model_at_end": True, "metric_for_best_model": "loss", "greater_is_better": True}
        args = TrainingArguments(output_dir, max_train_time=36, **{**ARGS, **strategies, **best})
        datasets = {"train_dataset": RandomTokenDataset(2000), "eval_dataset": RandomTokenDataset(4, seed=1)}
        trainer = Trainer(tiny_model(), args, callbacks=[SlowEvents(clock)], **datasets)
        with mock.patch.object(TimeBudgetCallback, "clock", clock):
            output = trainer.train()
        # After step 10, 2 * (1 + 6 + 0)s are kept (its evaluation ends with the save): step 17 ends at 23 > 36 - 14
        self.assertEqual((output.global_step, clock()), (17, 29))
        self.assertEqual(get_last_checkpoint(output_dir), os.path.join(output_dir, "checkpoint-17"))
        self.assertEqual(trainer.state.best_model_checkpoint, os.path.join(output_dir, "checkpoint-10"))
        saved = load_file(os.path.join(output_dir, "checkpoint-10", "model.safetensors"))
        for name, tensor in trainer.model.state_dict().items():
            torch.testing.assert_close(tensor, saved[name])
