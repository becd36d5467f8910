"""`make pr`: a stack of pull requests, each diff rebuilding its tested tree from the pristine release on top of the
ones before it.

The stack's rules run against a throwaway project (the fake sdist of fake_project.py, real git, real pytest on each
tree); one test checks the real project's stack, without running its tests (`make test` runs them).
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest


sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import series  # noqa: E402
import upstream_pr  # noqa: E402
from fake_project import FIRST_EDIT, INIT, SDIST, TEAMMATE_EDIT, commit_edit, error_line, git  # noqa: E402


# The second patch changes the line the first one wrote: its diff needs the first pull request. The third (the
# teammate's edit of another function) does not.
STRIP_EDIT = ('return f"hello {name}"', 'return f"hello {name.strip()}"', "Strip names before greeting")
NEW_FILES = {
    "tests/__init__.py": "",
    "tests/trainer/__init__.py": "",
    "tests/trainer/test_greet.py": 'from transformers import greet\n\n\ndef test_greets():\n    assert greet("you") == "hello you"\n',
    "tests/trainer/test_strip.py": (
        'from transformers import greet\n\n\ndef test_strips_names():\n    assert greet(" you ") == "hello you"\n'
    ),
    "docs/source/en/greeting.md": "# Greeting\n",
    "pr/f_string.md": "# What does this PR do?\n\nGreets with an f-string.\n",
    "pr/strip.md": "# What does this PR do?\n\nStrips names.\n",
}
STACK = """\
scaffold = {scaffold}

[[pr]]
slug = "f-string"
title = "Greet with an f-string"
patches = {counts[0]}
files = [{first_files}]
description = "pr/f_string.md"
tests = [{first_files}]

[[pr]]
slug = "strip"
title = "Strip names before greeting"
patches = {counts[1]}
files = {strip_files}
description = "pr/strip.md"
tests = ["tests/trainer/test_strip.py"]

[[pr]]
slug = "part"
title = "Strip parts"
patches = {counts[2]}
files = []
description = "pr/strip.md"
tests = []
"""


def write_stack(
    root: Path,
    counts=(1, 1, 1),
    first_files=("tests/trainer/test_greet.py",),
    strip_files=("tests/trainer/test_strip.py", "docs/source/en/*.md"),
    scaffold=("tests/__init__.py", "tests/trainer/__init__.py"),
):
    """pr/stack.toml of three pull requests: the patch counts, the new files (and tests) of the first, those of the
    second; the scaffold."""
    text = STACK.format(
        scaffold="[" + ", ".join(f'"{file}"' for file in scaffold) + "]",
        counts=counts,
        first_files=", ".join(f'"{file}"' for file in first_files),
        strip_files="[" + ", ".join(f'"{file}"' for file in strip_files) + "]",
    )
    (root / "pr" / "stack.toml").write_text(text, encoding="utf-8")


@pytest.fixture
def stacked(root) -> Path:
    """A project of three patches and our new files, in a stack of three pull requests."""
    assert series.main(["fork", "--root", str(root)]) == 0
    for edit in (FIRST_EDIT, STRIP_EDIT, TEAMMATE_EDIT):
        commit_edit(root / "fork", edit)
    assert series.main(["export", "--root", str(root)]) == 0
    for name, text in NEW_FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    write_stack(root)
    return root


def make_pr(root: Path, out: Path, python: str | None = sys.executable) -> int:
    return series.exit_status(lambda: upstream_pr.command_pr(series.Project(root), out, python))


def pristine(root: Path, dest: Path) -> Path:
    series.unpack_pristine(root / ".cache" / "sdist" / SDIST, dest, "pristine")
    return dest


def test_each_diff_applied_on_top_of_the_ones_before_it_gives_its_tree_and_its_tests_pass_there(
    stacked, tmp_path, capsys
):
    assert make_pr(stacked, tmp_path / "out") == 0
    lines = capsys.readouterr().out.splitlines()
    assert re.match(r"01-f-string: 1 commit, 2 files changed.*; tests of 01: 1 passed", lines[0]), lines[0]
    assert re.match(r"02-strip: 1 commit, 3 files changed.*; tests of 01, 02: 2 passed", lines[1]), lines[1]
    assert re.match(r"03-part: 1 commit, 1 file changed.*; tests of 01, 02, 03: 2 passed", lines[2]), lines[2]

    readme = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "tree with upstream's `tests/__init__.py`, `tests/trainer/__init__.py` (not in the sdist)" in readme
    tree = pristine(stacked, tmp_path / "applied")
    folders = re.findall(r"`(\d\d-[a-z-]+)/", readme)
    assert folders == ["01-f-string", "02-strip", "03-part"]
    present = []
    for folder, new_files in zip(folders, (["test_greet.py"], ["test_strip.py"], [])):
        diff = tmp_path / "out" / folder / f"{folder[3:]}.diff"
        assert "b/tests/__init__.py" not in diff.read_text(encoding="utf-8")  # the scaffold is in no diff
        assert "b/tests/trainer/__init__.py" not in diff.read_text(encoding="utf-8")
        git(tree, "apply", "--index", str(diff))
        present += new_files
        assert sorted(p.name for p in (tree / "tests" / "trainer").glob("test_*.py")) == sorted(present)
    assert (tree / INIT).read_text(encoding="utf-8") == (stacked / "fork" / INIT).read_text(encoding="utf-8")

    description = (tmp_path / "out" / "02-strip" / "PR.md").read_text(encoding="utf-8")
    assert "Strips names." in description and "1. Strip names before greeting" in description
    assert "Greet with an f-string" not in description.split("## Commits")[1]  # 01's commit is 01's alone
    assert "docs/source/en/greeting.md" in description


def test_a_pull_request_that_builds_on_an_earlier_one_is_said_to_and_its_diff_does_not_apply_alone(
    stacked, tmp_path, capsys
):
    assert make_pr(stacked, tmp_path / "out", python=None) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "applies to 5.24.0 only on top of 01;" in lines[1]
    assert "applies to 5.24.0 alone;" in lines[2]  # the third touches another function

    tree = pristine(stacked, tmp_path / "alone")
    alone = ["git", "apply", "--check", str(tmp_path / "out" / "02-strip" / "strip.diff")]
    assert subprocess.run(alone, cwd=tree, capture_output=True).returncode != 0
    git(tree, "apply", "--check", str(tmp_path / "out" / "03-part" / "part.diff"))


def test_patch_counts_that_do_not_add_up_to_the_series_are_refused(stacked, tmp_path, capsys):
    write_stack(stacked, counts=(1, 1, 2))
    assert make_pr(stacked, tmp_path / "out") == 1
    assert "take 1 + 1 + 2 patches, but patches/ holds 3" in error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_a_new_file_in_no_pull_request_is_refused(stacked, tmp_path, capsys):
    (stacked / "tests" / "trainer" / "test_forgotten.py").write_text("", encoding="utf-8")
    assert make_pr(stacked, tmp_path / "out") == 1
    assert "tests/trainer/test_forgotten.py in no pull request" in error_line(capsys)


def test_a_new_file_in_two_pull_requests_is_refused(stacked, tmp_path, capsys):
    write_stack(stacked, strip_files=("tests/trainer/test_*.py", "docs/source/en/*.md"))
    assert make_pr(stacked, tmp_path / "out") == 1
    assert "tests/trainer/test_greet.py is in the files of 01-f-string and in the files of 02-strip" in error_line(
        capsys
    )


def test_a_scaffold_file_in_a_pull_request_too_is_refused(stacked, tmp_path, capsys):
    write_stack(stacked, first_files=("tests/trainer/__init__.py", "tests/trainer/test_greet.py"))
    assert make_pr(stacked, tmp_path / "out", python=None) == 1
    assert "tests/trainer/__init__.py is in the scaffold and in the files of 01-f-string" in error_line(capsys)


def test_a_scaffold_entry_that_is_none_of_our_new_files_is_refused(stacked, tmp_path, capsys):
    write_stack(stacked, scaffold=("tests/__init__.py", "tests/trainer/__init__.py", "tests/utils/__init__.py"))
    assert make_pr(stacked, tmp_path / "out", python=None) == 1
    assert "'tests/utils/__init__.py' in the scaffold matches none of our new files" in error_line(capsys)


def test_a_pull_request_whose_tests_fail_on_its_own_tree_is_refused(stacked, tmp_path, capsys):
    # test_strip.py moved into the first pull request, whose tree does not strip yet
    write_stack(
        stacked,
        first_files=("tests/trainer/test_greet.py", "tests/trainer/test_strip.py"),
        strip_files=("docs/source/en/*.md",),
    )
    assert make_pr(stacked, tmp_path / "out") == 1
    line = error_line(capsys)
    assert line.startswith("error: 01-f-string: tests of its tree: 1 failed, 1 passed"), line
    assert "test_strip.py::test_strips_names" in line
    assert not (tmp_path / "out").exists()


def test_the_projects_stack_touches_only_upstream_paths_and_each_commit_is_in_its_own_pull_request(tmp_path):
    project = series.Project(series.PROJECT_ROOT)
    upstream_pr.command_pr(project, tmp_path, python=None)  # raises unless each diff rebuilds its tree

    scaffold, stack = upstream_pr.load_stack(project)
    assert "tests/__init__.py" in scaffold
    for pr in stack:
        diff = (tmp_path / pr.name / f"{pr.slug}.diff").read_text(encoding="utf-8")
        touched = re.findall(r"^diff --git a/(\S+) b/", diff, re.MULTILINE)
        assert touched, f"{pr.name}: the diff is empty"
        assert not set(touched) & set(scaffold), f"{pr.name} adds files upstream's repository has"
        assert all(path.startswith(("src/transformers/", "tests/", "docs/source/en/")) for path in touched), touched
        assert f'version="{project.version}' not in diff and project.local_version not in diff  # no build label
        description = (tmp_path / pr.name / "PR.md").read_text(encoding="utf-8")
        commits = description.split("\n## Commits\n")[1].split("\n## Files\n")[0]
        assert re.findall(r"^\d+\. (.+)$", commits, re.MULTILINE) == upstream_pr.subjects(pr.patches)
    assert sum(len(pr.patches) for pr in stack) == len(project.patch_files())
    time_strategies = next(pr for pr in stack if pr.slug == "time-strategies")
    assert "#36310" in (tmp_path / time_strategies.name / "PR.md").read_text(encoding="utf-8")
