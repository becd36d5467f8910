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

from transformers import Trainer, TrainingArguments, is_torch_available
from transformers.testing_utils import TestCasePlus, require_torch


if is_torch_available():
    import torch
    from torch import nn

    class TinyRegressionModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(1, 1)

        def forward(self, x, labels=None):
            prediction = self.linear(x)
            return {"loss": nn.functional.mse_loss(prediction, labels), "logits": prediction}


@require_torch
class SetEvaluateTest(TestCasePlus):
    def test_set_evaluate_without_delay_keeps_eval_delay_numeric_and_training_evaluates_by_steps(self):
        args = TrainingArguments(
            self.get_auto_remove_tmp_dir(), max_steps=4, save_strategy="no", report_to="none", use_cpu=True
        ).set_evaluate(strategy="steps", steps=2)
        self.assertEqual(args.eval_delay, 0)

        data = [{"x": torch.tensor([float(i)]), "labels": torch.tensor([2.0 * i])} for i in range(8)]
        trainer = Trainer(model=TinyRegressionModel(), args=args, train_dataset=data, eval_dataset=data)
        trainer.train()  # compared eval_delay with the step, and raised a TypeError on None at step 1
        evaluated_at = [log["step"] for log in trainer.state.log_history if "eval_loss" in log]
        self.assertEqual(evaluated_at, [2, 4])
