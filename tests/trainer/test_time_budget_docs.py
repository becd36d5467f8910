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
"""The guide to time budgets (docs/source/en/time_budget.md): its examples run, and it shows what training does."""

import os
import re
import shlex
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

from parameterized import parameterized

from transformers import HfArgumentParser, Trainer, TrainerControl, TrainerState, TrainingArguments
from transformers.testing_utils import TestCasePlus, require_torch
from transformers.trainer_time_budget import TimeBudgetCallback

from .test_time_strategy_docs import python_blocks, run_python_block
from .test_trainer_time_budget import ARGS, LOGGER
from .time_strategy_testing import FakeClock, RandomTokenDataset, Ticks, tiny_model


PAGE = Path(__file__).resolve().parents[2] / "docs" / "source" / "en" / "time_budget.md"
TEXT = PAGE.read_text(encoding="utf-8")
(BATCH_SCRIPT,) = [block for block in re.findall(r"```bash\n(.*?)```", TEXT, re.DOTALL) if "#SBATCH" in block]


class TimeBudgetDocsTest(TestCasePlus):
    @parameterized.expand(python_blocks(PAGE))
    def test_python_block_runs(self, name, code):
        run_python_block(PAGE, name, code)

    def test_constants_are_the_ones_explained(self):
        callback = TimeBudgetCallback
        constants = (callback.margin, callback.untimed_save_seconds, callback.untimed_save_bytes_per_second)
        self.assertEqual((*constants, callback.untimed_eval_share), (2.0, 1.0, 100e6, 0.1))

    def test_log_lines_are_the_ones_training_writes(self):
        args = TrainingArguments(self.get_auto_remove_tmp_dir(), max_train_time="23h30m", eval_strategy="steps")
        state, control = TrainerState(global_step=41249, max_steps=100000, epoch=0.5), TrainerControl()
        clock, callback = FakeClock(), TimeBudgetCallback()
        callback.set_trainer(SimpleNamespace(eval_dataset=None))
        with mock.patch.object(TimeBudgetCallback, "clock", clock), self.assertLogs(LOGGER, level="INFO") as logs:
            callback.on_train_begin(args, state, control)
            callback.on_step_end(args, state, control)
            state.global_step += 1
            clock.advance(84000)
            callback.on_step_end(args, state, control)
        shown = re.sub(r"\d+", "N", "\n".join(re.findall(r"```text\n(.*?)```", TEXT, re.DOTALL)))
        self.assertEqual(len(logs.records), 2)
        for record in logs.records:
            self.assertIn(re.sub(r"\d+", "N", record.getMessage()), shown)

    def test_batch_script_computes_the_budget_and_passes_it(self):
        lines = [line for line in BATCH_SCRIPT.splitlines() if line.startswith(("END=", "BUDGET="))]
        env = {**os.environ, "SLURM_JOB_END_TIME": str(int(time.time()) + 3600)}
        budget = subprocess.run(
            ["bash", "-c", "\n".join([*lines, "echo $BUDGET"])], env=env, capture_output=True, text=True
        )
        self.assertIn(int(budget.stdout), (2999, 3000))
        command = re.sub(r"\\\n\s*", "", BATCH_SCRIPT.split("train.py", 1)[1].split("\n\n", 1)[0])
        (args,) = HfArgumentParser(TrainingArguments).parse_args_into_dataclasses(
            shlex.split(command.replace("$BUDGET", "3000"))
        )
        self.assertEqual((args.max_train_time, args.enable_jit_checkpoint), (3000.0, True))

    @require_torch
    def test_recipe_resumes_until_training_is_done(self):
        (code,) = [code for _, code in python_blocks(PAGE) if "train_in_this_allocation" in code]
        namespace, output_dir = {}, self.get_auto_remove_tmp_dir()
        exec(code, namespace)
        for done in (False, True):
            # 1s steps and a 12s budget: the first allocation stops at step 9 (9 + 2 * 1 + 1 > 12), the second ends at 12
            clock = FakeClock()
            args = TrainingArguments(
                output_dir, max_train_time=12, **{**ARGS, "max_steps": 12, "save_strategy": "steps"}
            )
            trainer = Trainer(tiny_model(), args, train_dataset=RandomTokenDataset(64), callbacks=[Ticks(clock)])
            with mock.patch.object(TimeBudgetCallback, "clock", clock):
                namespace["train_in_this_allocation"](trainer)
            self.assertEqual(trainer.state.global_step, 12 if done else 9)
            self.assertEqual(os.path.exists(os.path.join(output_dir, "TRAINING_DONE")), done)
