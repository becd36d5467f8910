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
Tests for the time budget left and the next time-based save shown in the progress bars.
"""

import io
import logging
from unittest import mock

from tqdm.auto import tqdm

from transformers import TrainerControl, TrainerState, is_torch_available
from transformers.testing_utils import TestCasePlus, require_torch
from transformers.trainer_callback import ProgressCallback, _TimeSchedule
from transformers.utils import logging as transformers_logging

from .time_strategy_testing import FakeClock, patch_clock, time_training_arguments


if is_torch_available():
    from transformers.utils.notebook import NotebookProgressCallback


@require_torch
class ProgressDisplayTest(TestCasePlus):
    def setUp(self):
        super().setUp()
        self.output_dir = self.get_auto_remove_tmp_dir()
        self.schedules = []

    def schedule(self, clock, state=None, **kwargs):
        args = time_training_arguments(self.output_dir, **kwargs)
        state = state or TrainerState(global_step=1, max_steps=100)
        with patch_clock(clock):
            # `_TimeSchedule.of` holds schedules weakly (`DefaultFlowCallback` keeps its own): this test keeps them
            self.schedules.append(_TimeSchedule(args, state, train_start=clock()))
        return self.schedules[-1]

    def test_progress_shows_the_budget_left_and_the_next_time_based_save(self):
        clock = FakeClock()
        schedule = self.schedule(clock, max_time="2h", save_strategy="time", save_time="30m")
        clock.advance(65)
        with patch_clock(clock):
            self.assertEqual(schedule.progress(), "budget left 1:58:55, next save in 28:55")

    def test_countdowns_round_up_until_the_time_is_up(self):
        clock = FakeClock()
        schedule = self.schedule(clock, max_time=90, save_strategy="time", save_time=60)
        with patch_clock(clock):
            clock.advance(59.6)
            self.assertEqual(schedule.progress(), "budget left 00:31, next save in 00:01")
            clock.advance(40)
            self.assertEqual(schedule.progress(), "budget left 00:00, next save in 00:00")

    def test_progress_without_a_time_based_save_shows_the_budget_only(self):
        clock = FakeClock()
        schedule = self.schedule(clock, max_time=90, save_strategy="steps")
        with patch_clock(clock):
            self.assertEqual(schedule.progress(), "budget left 01:30")

    def test_progress_bars_show_the_schedule(self):
        clock = FakeClock()
        args = time_training_arguments(self.output_dir, max_time="2h")
        state = TrainerState(global_step=1, max_steps=100, epoch=0.5, num_train_epochs=1)
        self.schedule(clock, state=state, max_time="2h")
        bar = ProgressCallback()
        bar.on_train_begin(args, state, TrainerControl())
        with patch_clock(clock):
            bar.on_step_end(args, state, TrainerControl())
        self.assertEqual(bar.training_bar.postfix, "budget left 2:00:00")
        bar.on_train_end(args, state, TrainerControl())

        notebook = NotebookProgressCallback()
        notebook.training_tracker, notebook._force_next_update = mock.Mock(), False
        with patch_clock(clock):
            notebook.on_step_end(args, state, TrainerControl())
        self.assertEqual(
            notebook.training_tracker.update.call_args.kwargs["comment"], "Epoch 0.50/1, budget left 2:00:00"
        )

    def bar_under_budget(self, clock, state, **kwargs):
        """A `ProgressCallback` at the end of the first step of a `train()` call with `max_time=100`."""
        args = time_training_arguments(self.output_dir, max_time=100, **kwargs)
        train_start = clock()
        bar = ProgressCallback()
        bar.on_train_begin(args, state, TrainerControl())
        self.addCleanup(lambda: bar.training_bar is not None and bar.training_bar.close())
        state.global_step += 1
        with patch_clock(clock):
            self.schedules.append(_TimeSchedule(args, state, train_start=train_start))
            bar.on_step_end(args, state, TrainerControl())
        return args, bar

    def test_bar_ends_where_the_budget_is_expected_to_stop_training(self):
        clock, state = FakeClock(), TrainerState(global_step=0, max_steps=100000)
        args, bar = self.bar_under_budget(clock, state)
        # Steps of 1s: 10 steps, then 90s left of the budget, about 90 more steps
        clock.advance(10)
        state.global_step = 11
        with patch_clock(clock):
            bar.on_step_end(args, state, TrainerControl())
        self.assertEqual(bar.training_bar.total, 101)

    def test_bar_of_a_resumed_run_counts_from_its_checkpoint(self):
        clock, state = FakeClock(), TrainerState(global_step=5000, max_steps=100000)
        _, bar = self.bar_under_budget(clock, state)
        self.assertEqual((bar.training_bar.n, bar.training_bar.initial), (5001, 5000))

    def test_final_save_of_an_early_stop_completes_the_bar_and_says_why(self):
        clock, state = FakeClock(), TrainerState(global_step=0, max_steps=100000)
        args, bar = self.bar_under_budget(clock, state, save_strategy="time", save_time=30)
        _TimeSchedule.of(state).stop_reason = "time budget"
        bar.on_save(args, state, TrainerControl(should_training_stop=True))
        self.assertEqual(bar.training_bar.total, bar.training_bar.n)
        self.assertEqual(bar.training_bar.postfix, "stopped early: time budget")

    def test_stop_warning_is_written_on_a_line_of_its_own(self):
        clock, stream = FakeClock(), io.StringIO()
        handler = logging.StreamHandler(stream)
        transformers_logging.get_logger("transformers.trainer_callback").addHandler(handler)
        self.addCleanup(transformers_logging.get_logger("transformers.trainer_callback").removeHandler, handler)
        schedule = self.schedule(clock, max_time=100)
        with mock.patch("sys.stderr", stream):
            bar = tqdm(total=100)
            bar.update(1)
            schedule.stop("time budget", clock())
            bar.close()
        before, _ = stream.getvalue().split("Stopping training", 1)
        # The bar's line is cleared first (tqdm moves up past other bars still open, as in a full test run)
        self.assertRegex(before, r"\r(\x1b\[A)*$")
