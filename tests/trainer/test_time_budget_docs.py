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
The guide to time budgets (docs/source/en/time_budget.md) runs as written, and the command lines, log lines and
progress text it shows are the ones training takes and writes.
"""

import re
import shlex
import unittest
from pathlib import Path

from parameterized import parameterized

from transformers import HfArgumentParser, TrainerState, TrainingArguments
from transformers.testing_utils import TestCasePlus
from transformers.trainer_callback import _TimeSchedule

from .test_time_strategy_docs import python_blocks, run_python_block
from .time_strategy_testing import FakeClock, patch_clock


PAGE = Path(__file__).resolve().parents[2] / "docs" / "source" / "en" / "time_budget.md"
BASH_BLOCK = re.compile(r"^ *```bash\n(.*?)^ *```$", re.DOTALL | re.MULTILINE)
TEXT_BLOCK = re.compile(r"^```text\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def masked(text: str) -> str:
    """`text` with every number (and so every date, duration and step) replaced by `N`."""
    return re.sub(r"\d+", "N", text)


def train_command_lines() -> list[str]:
    """The arguments given to `train.py` in the page's shell blocks, continuation lines joined."""
    commands = []
    for block in BASH_BLOCK.findall(PAGE.read_text(encoding="utf-8")):
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            if "train.py" in line:
                commands.append(line.split("train.py", 1)[1].rstrip("'"))
    return commands


class TimeBudgetDocsTest(TestCasePlus):
    def test_page_has_python_examples(self):
        self.assertGreaterEqual(len(python_blocks(PAGE)), 2)

    @parameterized.expand(python_blocks(PAGE))
    def test_python_block_runs(self, name, code):
        run_python_block(PAGE, name, code)

    def test_training_command_lines_parse(self):
        commands = train_command_lines()
        self.assertGreaterEqual(len(commands), 3)
        for command in commands:
            with self.subTest(command=command):
                # A budget computed by the shell, `$(( ... ))`, is a number of seconds
                arguments = shlex.split(re.sub(r"\$\(\(.*\)\)", "3600", command))
                (args,) = HfArgumentParser(TrainingArguments).parse_args_into_dataclasses(arguments)
                self.assertIsNotNone(args.max_time)

    def test_log_lines_and_progress_are_the_ones_training_writes(self):
        clock = FakeClock()
        args = TrainingArguments(
            self.get_auto_remove_tmp_dir(),
            max_time="23h30m",
            eval_strategy="time",
            eval_time="1h",
            save_strategy="time",
            save_time="30m",
            report_to=[],
        )
        state = TrainerState(global_step=41250, max_steps=100000)
        state.train_start = clock()
        with patch_clock(clock), self.assertLogs("transformers.trainer_callback", level="INFO") as logs:
            schedule = _TimeSchedule(args, state)
            progress = schedule.progress()
            schedule.stop("time budget", clock())
            _TimeSchedule(args, TrainerState(global_step=41250, max_steps=100000)).stop("SIGTERM", clock())
        page = masked("\n".join(TEXT_BLOCK.findall(PAGE.read_text(encoding="utf-8"))))
        # The progress text, when training stops at the latest (logged by each schedule), the two reasons to stop
        lines = list(dict.fromkeys([progress] + [record.getMessage() for record in logs.records]))
        self.assertEqual(len(lines), 4)
        for line in lines:
            with self.subTest(line=line):
                self.assertIn(masked(line), page)


if __name__ == "__main__":
    unittest.main()
