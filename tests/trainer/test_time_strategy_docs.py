"""The guide to time-based strategies (docs/source/en/time_based_strategies.md) runs as written and stays complete.

Every ```py block of the page is executed on its own, in a fresh temporary working directory, so that examples can
write files such as `out/` or `config.yaml`. Illustrations that must not run (shell commands, log lines) are ```bash
blocks and are left alone.
"""

import os
import re
import tempfile
import unittest
from pathlib import Path

from parameterized import parameterized

from transformers.trainer_utils import _parse_duration


PAGE = Path(__file__).resolve().parents[2] / "docs" / "source" / "en" / "time_based_strategies.md"
PY_BLOCK = re.compile(r"^```py\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def python_blocks(page: Path = PAGE) -> list[tuple[str, str]]:
    """(name, code) of each ```py block of `page`, named after the line where it starts."""
    text = page.read_text(encoding="utf-8")
    return [(f"line_{text.count(chr(10), 0, match.start()) + 1}", match.group(1)) for match in PY_BLOCK.finditer(text)]


def run_python_block(page: Path, name: str, code: str):
    """Runs a ```py block of `page` as a script, in a new empty folder (the examples write files such as `out/`)."""
    previous_directory = os.getcwd()
    with tempfile.TemporaryDirectory() as directory:
        os.chdir(directory)
        try:
            exec(compile(code, f"{page.name}:{name}", "exec"), {"__name__": "__main__"})
        finally:
            os.chdir(previous_directory)


def accepted_formats() -> list[str]:
    """Each example or form that _parse_duration's error message lists as accepted."""
    try:
        _parse_duration("", "interval")
    except ValueError as error:
        accepted = str(error).split("Accepted:", 1)[1]
    # '... seconds as a number (90, 1.5, "90"), a string with units ... ("90s", "30m", ...), "HH:MM:SS", ... or a
    # datetime.timedelta.': every item inside parentheses, every quoted form, and the type named at the end
    in_parentheses = [item.strip() for group in re.findall(r"\(([^)]*)\)", accepted) for item in group.split(",")]
    quoted = re.findall(r'"([^"]+)"', accepted)
    named_types = re.findall(r"\bdatetime\.\w+", accepted)
    return sorted(set(in_parentheses + quoted + named_types))


class TimeStrategyDocsTest(unittest.TestCase):
    def test_page_has_python_examples(self):
        self.assertGreaterEqual(len(python_blocks()), 5)

    @parameterized.expand(python_blocks())
    def test_python_block_runs(self, name, code):
        run_python_block(PAGE, name, code)

    def test_page_mentions_every_accepted_format(self):
        formats = accepted_formats()
        # The parsing above must have found the forms, not silently nothing
        for expected in ("90", '"90"', "90s", "1h30m", "HH:MM:SS", "DD:HH:MM:SS", "datetime.timedelta"):
            self.assertIn(expected, formats)
        text = PAGE.read_text(encoding="utf-8")
        for accepted in formats:
            with self.subTest(accepted=accepted):
                self.assertRegex(text, rf"(?<![\w.:]){re.escape(accepted)}(?![\w.:])")


if __name__ == "__main__":
    unittest.main()
