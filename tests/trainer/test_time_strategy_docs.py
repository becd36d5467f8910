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
The guide docs/source/en/time_based_strategies.md says what the code does: each ```py block runs, in a fresh folder,
printing what its comments say, and the page names every duration form that `_parse_duration` accepts.
"""

import functools
import io
import os
import re
import tempfile
import unittest
from pathlib import Path

from parameterized import parameterized

from transformers.trainer_utils import _parse_duration


PAGE = Path(__file__).resolve().parents[2] / "docs" / "source" / "en" / "time_based_strategies.md"


def python_blocks(page: Path = PAGE) -> list[tuple[str, str]]:
    """(name, code) of each ```py block of `page`, named after the line where it starts."""
    text = page.read_text(encoding="utf-8")
    blocks = re.finditer(r"^```py\n(.*?)^```$", text, re.DOTALL | re.MULTILINE)
    return [(f"line_{text.count(chr(10), 0, block.start()) + 1}", block.group(1)) for block in blocks]


def run_python_block(page: Path, name: str, code: str) -> str:
    """Runs a ```py block of `page` in a new empty folder (examples write files such as `out/`); returns its output."""
    previous_directory, output = os.getcwd(), io.StringIO()
    # Its `print` writes to `output`: pytest's live logging replaces `sys.stdout` when a warning is logged
    namespace = {"__name__": "__main__", "print": functools.partial(print, file=output)}
    with tempfile.TemporaryDirectory() as directory:
        os.chdir(directory)
        try:
            exec(compile(code, f"{page.name}:{name}", "exec"), namespace)
        finally:
            os.chdir(previous_directory)
    return output.getvalue()


class TimeStrategyDocsTest(unittest.TestCase):
    @parameterized.expand(python_blocks())
    def test_python_block(self, name, code):
        output = run_python_block(PAGE, name, code)
        # `print(...)  # 1800.0`: the output holds what the comment says (up to a trailing "...")
        for expected in re.findall(r"^\s*print\(.*\)  # (.*?)(?:,? \.\.\.)?$", code, re.MULTILINE):
            self.assertIn(expected, output)

    def test_page_names_every_accepted_form(self):
        with self.assertRaisesRegex(ValueError, "Accepted: ") as context:
            _parse_duration("", "interval")
        text = PAGE.read_text(encoding="utf-8")
        for form in re.findall(r'"[^"]+"', str(context.exception)) + ["datetime.timedelta"]:
            self.assertIn(form, text)
