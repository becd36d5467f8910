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
Tests for the SIGTERM stop of `enable_jit_checkpoint`: every process stops at the same step with one complete
checkpoint, then `train()` returns.
"""

import os
import signal
from unittest import mock

from parameterized import parameterized

from transformers import TrainerCallback, TrainerControl, TrainerState, is_torch_available
from transformers.testing_utils import TestCasePlus, require_torch
from transformers.trainer_callback import _TimeSchedule
from transformers.trainer_utils import get_last_checkpoint

from .time_strategy_testing import FakeClock, make_timed_trainer, patch_clock, time_training_arguments


if is_torch_available():
    import torch

    from transformers.trainer_jit_checkpoint import JITCheckpointCallback


class SigtermAt(TrainerCallback):
    """Sends SIGTERM to this process at the end of update step `step`."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


class ImmediateTimer:
    """Stands for `threading.Timer`: runs its function at `start()`, so the JIT kill wait passes at once."""

    def __init__(self, interval, function):
        self.function = function

    def start(self):
        self.function()


@require_torch
class SignalStopTest(TestCasePlus):
    def setUp(self):
        super().setUp()
        self.output_dir = self.get_auto_remove_tmp_dir()
        timer = mock.patch("transformers.trainer_jit_checkpoint.threading.Timer", ImmediateTimer)
        timer.start()
        self.addCleanup(timer.stop)

    @parameterized.expand([("steps", {"save_strategy": "steps", "save_steps": 1000}), ("no", {"save_strategy": "no"})])
    def test_sigterm_stops_at_the_next_step_with_one_complete_checkpoint_and_no_evaluation(self, _, save_strategy):
        handler = signal.getsignal(signal.SIGTERM)
        trainer, recorder = make_timed_trainer(
            self.output_dir, max_steps=1000, enable_jit_checkpoint=True, eval_strategy="steps", eval_steps=1000,
            callbacks=[SigtermAt(step=3)], **save_strategy,
        )  # fmt: skip
        output = trainer.train()
        # The signal comes after the hooks of step 3 ran: step 4 is the next decision
        self.assertEqual(output.global_step, 4)
        self.assertEqual(output.metrics["train_stopped_early"], 1.0)
        self.assertEqual(_TimeSchedule.of(trainer.state).stop_reason, "SIGTERM")
        self.assertEqual(recorder.steps("on_save"), [4])
        self.assertEqual(recorder.steps("on_evaluate"), [])
        checkpoint = os.path.join(self.output_dir, "checkpoint-4")
        self.assertEqual(get_last_checkpoint(self.output_dir), checkpoint)
        self.assertFalse(os.path.exists(os.path.join(checkpoint, "checkpoint-is-incomplete.txt")))
        self.assertEqual(signal.getsignal(signal.SIGTERM), handler)

    def test_checkpoint_is_marked_incomplete_while_it_is_saved(self):
        # Tools that watch the output folder (Kubeflow's trainer) key on upstream's marker file
        trainer, _ = make_timed_trainer(
            self.output_dir, max_steps=1000, enable_jit_checkpoint=True, callbacks=[SigtermAt(step=3)]
        )
        marker = os.path.join(self.output_dir, "checkpoint-4", "checkpoint-is-incomplete.txt")
        marked_during_save = []
        save_checkpoint = trainer._save_checkpoint

        def record_marker(*args, **kwargs):
            marked_during_save.append(os.path.isfile(marker))
            return save_checkpoint(*args, **kwargs)

        with mock.patch.object(trainer, "_save_checkpoint", record_marker):
            trainer.train()
        self.assertEqual(marked_during_save, [True])
        self.assertFalse(os.path.exists(marker))

    @parameterized.expand(
        [
            ("time", {"eval_strategy": "time", "eval_time": 3, "save_strategy": "time", "save_time": 3}),
            ("epoch", {"eval_strategy": "epoch", "save_strategy": "epoch"}),
        ]
    )
    def test_sigterm_skips_the_evaluations_due_at_the_stop(self, _, strategies):
        # Update steps of 1s: time-based events are due at step 4, and an epoch of 8 steps is cut short there
        trainer, recorder = make_timed_trainer(
            self.output_dir, max_steps=1000, enable_jit_checkpoint=True, callbacks=[SigtermAt(step=3)], **strategies
        )
        output = trainer.train()
        self.assertEqual(output.global_step, 4)
        self.assertEqual(recorder.steps("on_evaluate"), [])
        self.assertEqual(recorder.steps("on_save"), [4])

    def test_sigterm_is_reported_on_every_process(self):
        # Processes other than the main one log at the warning level by default (`log_level_replica`)
        self.addCleanup(signal.signal, signal.SIGTERM, signal.getsignal(signal.SIGTERM))  # the trainer's handler
        trainer, _ = make_timed_trainer(self.output_dir, max_steps=10, enable_jit_checkpoint=True)
        (callback,) = [cb for cb in trainer.callback_handler.callbacks if isinstance(cb, JITCheckpointCallback)]
        with self.assertLogs("transformers.trainer_jit_checkpoint", level="WARNING") as logs:
            callback.jit_manager._sigterm_handler(signal.SIGTERM, None)
        self.assertIn("SIGTERM received", logs.output[0])

    @parameterized.expand(["on_step_begin", "on_pre_optimizer_step", "on_step_end", "on_epoch_end"])
    def test_callback_hands_the_request_to_the_schedule_or_saves_alone_without_one(self, hook):
        self.addCleanup(signal.signal, signal.SIGTERM, signal.getsignal(signal.SIGTERM))  # the trainer's handler
        trainer, _ = make_timed_trainer(self.output_dir, max_steps=10, enable_jit_checkpoint=True)
        (callback,) = [cb for cb in trainer.callback_handler.callbacks if isinstance(cb, JITCheckpointCallback)]
        callback.jit_manager.is_checkpoint_requested = True
        with mock.patch.object(callback.jit_manager, "execute_jit_checkpoint") as execute:
            # One process and no schedule (a replaced DefaultFlowCallback, or the first step): it saves, as before
            control = TrainerControl()
            getattr(callback, hook)(trainer.args, TrainerState(), control)
            self.assertTrue(control.should_training_stop)
            execute.assert_called_once()
            # With the schedule: the request goes to the decision every process agrees on
            state, control = TrainerState(), TrainerControl()
            with patch_clock(FakeClock()):
                schedule = _TimeSchedule(trainer.args, state)
            getattr(callback, hook)(trainer.args, state, control)
            self.assertTrue(schedule.signalled)
            self.assertFalse(control.should_training_stop)
            execute.assert_called_once()

    def test_with_several_processes_checks_come_at_least_every_second_and_act_on_a_signal(self):
        # Steps of 0.1s, no time strategy: a signal has no deadline, so the checks come once a second
        args = time_training_arguments(self.output_dir, enable_jit_checkpoint=True)
        state, clock, checks = TrainerState(global_step=1, max_steps=1000), FakeClock(), []
        with (
            patch_clock(clock),
            mock.patch.object(type(args), "world_size", new_callable=mock.PropertyMock, return_value=2),
            mock.patch("transformers.trainer_callback._is_torch_distributed_initialized", return_value=True),
            mock.patch.object(torch.distributed, "all_reduce", lambda *a, **k: checks.append(state.global_step)),
        ):
            schedule = _TimeSchedule(args, state)
            for step in range(2, 1000):
                state.global_step = step
                clock.advance(0.1)
                if step == 500:
                    schedule.signalled = True
                if "stop" in schedule.due():
                    break
        self.assertLessEqual(max(b - a for a, b in zip(checks, checks[1:])), 10)
        self.assertLessEqual(step, 510)
        self.assertEqual(schedule.stop_reason, "SIGTERM")
