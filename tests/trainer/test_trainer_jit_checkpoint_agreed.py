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
`JITCheckpointCallback` with several processes decides at step ends only, all processes together; with one process,
it acts as before. (Upstream, these would join tests/trainer/test_trainer_jit_checkpoint.py.) The 2-process run is in
tests/trainer/distributed/test_trainer_jit_checkpoint_distributed.py.
"""

import os
from types import SimpleNamespace
from unittest import mock

from parameterized import parameterized

from transformers import TrainerControl, TrainerState
from transformers.testing_utils import TestCasePlus
from transformers.trainer_jit_checkpoint import CheckpointManager, JITCheckpointCallback


HOOKS = ["on_step_begin", "on_pre_optimizer_step", "on_step_end", "on_epoch_end"]


class JITCheckpointCallbackTest(TestCasePlus):
    def make_callback(self, world_size, requested, any_process_requested=False, should_save=True):
        trainer = mock.Mock()
        trainer.args = SimpleNamespace(world_size=world_size, should_save=should_save)
        # Summed over the processes: this one's request, and 1 more if another process was asked
        trainer.accelerator.device = "cpu"
        trainer.accelerator.reduce.side_effect = lambda requested: requested + float(any_process_requested)
        trainer.state.global_step = 4
        trainer._get_output_dir.return_value = self.get_auto_remove_tmp_dir()
        callback = JITCheckpointCallback()
        callback.trainer, callback.jit_manager = trainer, CheckpointManager(trainer)
        callback.jit_manager.is_checkpoint_requested = requested
        return callback

    def call(self, callback, hook):
        control = TrainerControl(should_save=True)  # a save due at this step, which the JIT save replaces
        getattr(callback, hook)(callback.trainer.args, TrainerState(), control)
        return control

    @parameterized.expand(HOOKS)
    def test_one_process_saves_at_the_next_hook(self, hook):
        callback = self.make_callback(world_size=1, requested=True)
        control = self.call(callback, hook)
        self.assertTrue(control.should_training_stop)
        callback.trainer._save_checkpoint.assert_called_once()
        callback.trainer.accelerator.reduce.assert_not_called()

    @parameterized.expand([hook for hook in HOOKS if hook != "on_step_end"])
    def test_several_processes_never_save_alone(self, hook):
        callback = self.make_callback(world_size=2, requested=True, any_process_requested=True)
        self.assertFalse(self.call(callback, hook).should_training_stop)
        callback.trainer._save_checkpoint.assert_not_called()

    @parameterized.expand([("signalled", True), ("signalled_elsewhere", False)])
    def test_several_processes_save_together_at_a_step_end(self, _, requested):
        callback = self.make_callback(world_size=2, requested=requested, any_process_requested=True)
        control = self.call(callback, "on_step_end")
        (sent,), _ = callback.trainer.accelerator.reduce.call_args
        self.assertEqual(sent.item(), float(requested))
        self.assertTrue(control.should_training_stop)
        self.assertFalse(control.should_save)  # the callback saved: no second save at this step
        callback.trainer._save_checkpoint.assert_called_once()

    def test_several_processes_go_on_when_none_was_signalled(self):
        callback = self.make_callback(world_size=2, requested=False, any_process_requested=False)
        self.assertFalse(self.call(callback, "on_step_end").should_training_stop)
        callback.trainer.accelerator.reduce.assert_called_once()  # every step end, on every process
        callback.trainer._save_checkpoint.assert_not_called()

    def test_sentinel_written_by_the_processes_that_save(self):
        for should_save in (True, False):
            callback = self.make_callback(world_size=2, requested=True, any_process_requested=True, should_save=False)
            callback.trainer.args.should_save = should_save
            folder = os.path.join(callback.trainer._get_output_dir.return_value, "checkpoint-4")
            written = []
            callback.trainer._save_checkpoint.side_effect = lambda *args, **kwargs: written.append(os.listdir(folder))
            self.call(callback, "on_step_end")
            self.assertEqual(written, [["checkpoint-is-incomplete.txt"] if should_save else []])
            self.assertEqual(os.listdir(folder), [])  # removed once saved
