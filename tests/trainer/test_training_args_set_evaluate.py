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
"""`TrainingArguments.set_evaluate()` called without a delay means no delay."""

from transformers import TrainingArguments
from transformers.testing_utils import TestCasePlus
from transformers.trainer_callback import DefaultFlowCallback, TrainerControl, TrainerState


class SetEvaluateTest(TestCasePlus):
    def test_set_evaluate_without_delay(self):
        args = TrainingArguments(self.get_auto_remove_tmp_dir()).set_evaluate(strategy="steps", steps=2)
        self.assertEqual(args.eval_delay, 0)
        # DefaultFlowCallback compares the delay with the step: with `None` it raised a TypeError
        state = TrainerState(global_step=2, max_steps=10, eval_steps=2)
        control = DefaultFlowCallback().on_step_end(args, state, TrainerControl())
        self.assertTrue(control.should_evaluate)
