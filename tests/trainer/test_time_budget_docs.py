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

import json
import os
import re
import shlex
import subprocess
import sys
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
    """The arguments given to `train.py` or `run_clm.py` in the page's shell blocks, continuation lines joined."""
    commands = []
    for block in BASH_BLOCK.findall(PAGE.read_text(encoding="utf-8")):
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            script = re.search(r"(train|run_clm)\.py", line)
            if script:
                commands.append(line.split(script.group(0), 1)[1].rstrip("'"))
    return commands


def shell_function(name: str) -> str:
    """The definition of the shell function `name` in the page's SLURM recipe."""
    (block,) = [block for block in BASH_BLOCK.findall(PAGE.read_text(encoding="utf-8")) if "#SBATCH" in block]
    return re.search(rf"^{name}\(\) {{\n.*?^}}$", block, re.DOTALL | re.MULTILINE).group(0)


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
                # A budget computed by the shell, `$(( ... ))`, is a number of seconds; a checkpoint found, a path
                command = re.sub(r"\$\(\(.*\)\)", "3600", command)
                command = re.sub(r"\$\{CHECKPOINT:\+(.*?)\}", r"\1", command).replace(
                    "$CHECKPOINT", "out/checkpoint-8"
                )
                # The arguments of `run_clm.py`'s own dataclasses (model, data) are left over
                args, *_ = HfArgumentParser(TrainingArguments).parse_args_into_dataclasses(
                    shlex.split(command), return_remaining_strings=True
                )
                self.assertIsNotNone(args.max_time)
                if "CHECKPOINT" in command:
                    self.assertEqual(args.resume_from_checkpoint, "out/checkpoint-8")

    def test_slurm_recipe_resumes_from_the_newest_complete_checkpoint_until_the_last_step(self):
        output_dir = self.get_auto_remove_tmp_dir()
        # (step, trainer_state.json written, incomplete marker): 12 and 11 were cut short
        for step, state, marker in [(2, True, False), (10, True, False), (11, False, False), (12, True, True)]:
            os.makedirs(os.path.join(output_dir, f"checkpoint-{step}"))
            if state:
                with open(
                    os.path.join(output_dir, f"checkpoint-{step}", "trainer_state.json"), "w", encoding="utf-8"
                ) as f:
                    json.dump({"global_step": step, "max_steps": 20}, f)
            if marker:
                open(
                    os.path.join(output_dir, f"checkpoint-{step}", "checkpoint-is-incomplete.txt"),
                    "w",
                    encoding="utf-8",
                ).close()
        script = f"""{shell_function("last_checkpoint")}
{shell_function("is_final")}
python() {{ "{sys.executable}" "$@"; }}
CHECKPOINT=$(last_checkpoint "$1")
echo "$CHECKPOINT"
is_final "$CHECKPOINT" && echo final || echo not final
"""

        def run(directory):
            return subprocess.run(["bash", "-c", script, "recipe", directory], capture_output=True, text=True).stdout

        self.assertEqual(run(output_dir), f"{output_dir}/checkpoint-10\nnot final\n")
        os.makedirs(os.path.join(output_dir, "checkpoint-20"))
        with open(os.path.join(output_dir, "checkpoint-20", "trainer_state.json"), "w", encoding="utf-8") as f:
            json.dump({"global_step": 20, "max_steps": 20}, f)
        self.assertEqual(run(output_dir), f"{output_dir}/checkpoint-20\nfinal\n")
        self.assertEqual(run(os.path.join(output_dir, "missing")).splitlines()[0], "")

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
        with patch_clock(clock), self.assertLogs("transformers.trainer_callback", level="INFO") as logs:
            schedule = _TimeSchedule(args, state, train_start=clock())
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
