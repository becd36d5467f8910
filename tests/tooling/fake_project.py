"""A throwaway project for the tooling tests: a fake transformers 5.24.0 sdist, its pin, and git helpers."""

from __future__ import annotations

import hashlib
import io
import subprocess
import tarfile
from pathlib import Path


SDIST = "transformers-5.24.0.tar.gz"
INIT = "src/transformers/__init__.py"
FAKE_SOURCES = {
    "setup.py": (
        "from setuptools import find_packages, setup\n\n"
        'setup(name="transformers", version="5.24.0", package_dir={"": "src"}, packages=find_packages("src"))\n'
    ),
    "pyproject.toml": "[tool.ruff]\nline-length = 119\n",
    INIT: (
        '__version__ = "5.24.0"\n\n\n'
        'def greet(name):\n    return "hello " + name\n\n\n'
        "def part(name):\n    return name\n"
    ),
}
# The edit every project starts with as its one patch, and a later one a teammate pushes to patches/.
FIRST_EDIT = ('return "hello " + name', 'return f"hello {name}"', "Greet with an f-string")
TEAMMATE_EDIT = ("    return name\n", "    return name.strip()\n", "Strip names")


def fake_sdist(path: Path) -> Path:
    """A tar.gz laid out like the real sdist: the folder `transformers-5.24.0/` first, then everything inside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    top = "transformers-5.24.0"
    with tarfile.open(path, "w:gz") as archive:
        folders = sorted({f"{top}/{folder}" for name in FAKE_SOURCES for folder in Path(name).parents if folder.parts})
        for folder in [top, *folders]:
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            archive.addfile(info)
        for name, text in FAKE_SOURCES.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size, info.mode = len(data), 0o644
            archive.addfile(info, io.BytesIO(data))
    return path


def write_pin(root: Path, sdist: Path) -> None:
    sha256 = hashlib.sha256(sdist.read_bytes()).hexdigest()
    (root / "upstream.toml").write_text(
        f'[upstream]\nname = "transformers"\nversion = "5.24.0"\nsdist = "{SDIST}"\nsha256 = "{sha256}"\n'
        'local_version = "time.1"\n',
        encoding="utf-8",
    )


def git(repo: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=Test Author", "-c", "user.email=test@example.com", *args]
    return subprocess.run(command, cwd=repo, check=True, capture_output=True, text=True).stdout


def commit_edit(repo: Path, edit: tuple[str, str, str]) -> None:
    """Replace `old` by `new` in the package's __init__.py and commit it with `subject`."""
    old, new, subject = edit
    path = repo / INIT
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    git(repo, "commit", "--quiet", "--all", "-m", subject, "-m", "Why it helps, in a body line.")


def error_line(capsys) -> str:
    """What the failed command printed to stderr: exactly one line."""
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


# A folder laid out like shared/upstream-tests: upstream's test files under repo/ (the six that are run, some empty)
# and the ids that pass on the stock release. It has a test that fails on stock (not listed), a skipped one, one of
# the deselected ones (it would fail), a module-level test and a parametrized one whose id holds a dot and a space.
UPSTREAM_TESTS = {
    "repo/tests/__init__.py": "",
    "repo/tests/trainer/__init__.py": "",
    "repo/tests/utils/__init__.py": "",
    "repo/tests/trainer/test_trainer_callback.py": """\
import unittest

import pytest

from transformers import greet


class GreetTest(unittest.TestCase):
    def test_greets(self):
        self.assertEqual(greet("you"), "hello you")

    @unittest.skip("needs the Hub")
    def test_greets_from_the_hub(self):
        pass


@pytest.mark.parametrize("name", ["a.b c"])
def test_greets_any_name(name):
    assert greet(name) == "hello " + name
""",
    "repo/tests/trainer/test_training_args.py": "",
    "repo/tests/trainer/test_trainer_checkpointing.py": "def test_fails_on_stock_too():\n    assert False\n",
    "repo/tests/trainer/test_trainer_resume.py": "",
    "repo/tests/trainer/test_trainer_data.py": "",
    "repo/tests/utils/test_hf_argparser.py": """\
import unittest


class HfArgumentParserTest(unittest.TestCase):
    def test_parses(self):
        pass

    def test_17_union_dict_str_parsing(self):
        raise AssertionError("deselected: never runs")
""",
}
UPSTREAM_PASSING = [
    "tests/trainer/test_trainer_callback.py::GreetTest::test_greets",
    "tests/trainer/test_trainer_callback.py::test_greets_any_name[a.b c]",
    "tests/utils/test_hf_argparser.py::HfArgumentParserTest::test_parses",
]
# Passes on stock, fails once names are stripped (the second pull request of the stacked project)
KEEPS_SPACES = (
    "from transformers import greet\n\n\ndef test_keeps_spaces():\n" + '    assert greet(" a ") == "hello  a "\n'
)


def fake_upstream_tests(folder: Path, files: dict[str, str] = UPSTREAM_TESTS, passing=UPSTREAM_PASSING) -> Path:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "passing-on-stock.txt").write_text("".join(f"{test}\n" for test in passing), encoding="utf-8")
    return folder
