"""`make pr`: a stack of pull requests, each diff rebuilding its tested tree from the pristine release on top of the
ones before it, and on top of only those it names in `alone_on`; the table of their sizes.

The stack's rules run against a throwaway project (the fake sdist of fake_project.py, real git, real pytest on each
tree, and a fake folder of upstream's own tests); one test checks the real project's stack, without running its tests
(`make test` and `make upstream-tests` run them).
"""

import re
import sys
from pathlib import Path

import pytest


sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import series  # noqa: E402
import upstream_pr  # noqa: E402
from fake_project import (  # noqa: E402
    FIRST_EDIT,
    INIT,
    KEEPS_SPACES,
    SDIST,
    TEAMMATE_EDIT,
    UPSTREAM_PASSING,
    UPSTREAM_TESTS,
    commit_edit,
    error_line,
    fake_upstream_tests,
    git,
)


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
# A test of 03 that needs 02 too (greet strips the space after the part)
PART_TEST = (
    'from transformers import greet, part\n\n\ndef test_parts():\n    assert greet(part("a") + " ") == "hello a"\n'
)
STACK = """\
scaffold = {scaffold}

[[pr]]
slug = "f-string"
title = "Greet with an f-string"
patches = {counts[0]}{alone_on[0]}
files = [{first_files}]
description = "pr/f_string.md"
tests = [{first_files}]

[[pr]]
slug = "strip"
title = "Strip names before greeting"
patches = {counts[1]}{alone_on[1]}
files = {strip_files}
description = "pr/strip.md"
tests = ["tests/trainer/test_strip.py"]

[[pr]]
slug = "part"
title = "Strip parts"
patches = {counts[2]}{alone_on[2]}
files = [{part_files}]
description = "pr/strip.md"
tests = [{part_files}]
"""


def write_stack(
    root: Path,
    counts=(1, 1, 1),
    first_files=("tests/trainer/test_greet.py",),
    strip_files=("tests/trainer/test_strip.py", "docs/source/en/*.md"),
    scaffold=("tests/__init__.py", "tests/trainer/__init__.py"),
    part_files=(),
    alone_on=(None, None, None),
):
    """pr/stack.toml of three pull requests: the patch counts, the new files (and tests) of the first, those of the
    second, the new files (and tests) of the third; the scaffold; each one's alone_on (a list of slugs; None: none)."""
    quoted = lambda files: ", ".join(f'"{file}"' for file in files)  # noqa: E731
    text = STACK.format(
        scaffold=f"[{quoted(scaffold)}]",
        counts=counts,
        first_files=quoted(first_files),
        strip_files=f"[{quoted(strip_files)}]",
        part_files=quoted(part_files),
        alone_on=["" if slugs is None else f"\nalone_on = [{quoted(slugs)}]" for slugs in alone_on],
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


def make_pr(root: Path, out: Path, python: str | None = sys.executable, upstream_tests: Path | None = None) -> int:
    return series.exit_status(lambda: upstream_pr.command_pr(series.Project(root), out, python, upstream_tests))


def pristine(root: Path, dest: Path) -> Path:
    series.unpack_pristine(root / ".cache" / "sdist" / SDIST, dest, "pristine")
    return dest


def test_each_diff_applied_on_top_of_the_ones_before_it_gives_its_tree_and_its_tests_pass_there(
    stacked, tmp_path, capsys
):
    upstream = fake_upstream_tests(tmp_path / "upstream-tests")
    assert make_pr(stacked, tmp_path / "out", upstream_tests=upstream) == 0
    lines = capsys.readouterr().out.splitlines()
    upstream_summary = (
        "; upstream tests: 3 of 3 that pass on stock 5.24.0 pass (5 collected: 3 passed, 1 failed, 1 skipped)"
    )
    assert re.match(r"01-f-string: 1 commit, 2 files changed.*; tests of 01: 1 passed", lines[0]), lines[0]
    assert re.match(r"02-strip: 1 commit, 3 files changed.*; tests of 01, 02: 2 passed", lines[1]), lines[1]
    assert re.match(r"03-part: 1 commit, 1 file changed.*; tests of 01, 02, 03: 2 passed", lines[2]), lines[2]
    assert all(line.endswith(upstream_summary) for line in lines[:3]), lines
    readme = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert readme.count(upstream_summary) == 3
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


def test_a_pull_request_alone_on_earlier_ones_applies_on_them_alone_and_its_tests_theirs_and_upstreams_pass_there(
    stacked, tmp_path, capsys
):
    # 03 touches another function than 02. Two upstream tests that are not on the stock list pass on 01 alone only:
    # one needs 01's f-string (numbers), one fails once 02 strips names
    numbers = "from transformers import greet\n\n\ndef test_numbers():\n    assert greet(5) == 'hello 5'\n"
    files = {
        **UPSTREAM_TESTS,
        "repo/tests/trainer/test_trainer_data.py": KEEPS_SPACES,
        "repo/tests/trainer/test_training_args.py": numbers,
    }
    upstream = fake_upstream_tests(tmp_path / "upstream-tests", files)
    write_stack(stacked, alone_on=([], ["f-string"], ["f-string"]))
    assert make_pr(stacked, tmp_path / "dist" / "pr", upstream_tests=upstream) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "; applies to 5.24.0 alone; tests of 01: 1 passed" in lines[0]
    assert "; applies to 5.24.0 alone on 01; tests of 01, 02: 2 passed" in lines[1]
    assert re.search(
        r"; applies to 5.24.0 on top of 01, 02 and alone on 01; tests of 01, 02, 03: 2 passed in .*"
        r"\(7 collected: 3 passed, 3 failed, 1 skipped\); alone on 01: tests of 01, 03: 1 passed in .*"
        r"\(7 collected: 5 passed, 1 failed, 1 skipped\)$",
        lines[2],
    ), lines[2]
    assert (tmp_path / "dist" / "upstream-tests" / "03-part-alone.log").is_file()
    readme = (tmp_path / "dist" / "pr" / "README.md").read_text(encoding="utf-8")
    assert "`03-part/part.diff`, applies to 5.24.0 on top of 01, 02 and alone on 01; " in readme


def test_a_pull_request_whose_diff_does_not_apply_alone_on_the_ones_it_names_is_refused(stacked, tmp_path, capsys):
    write_stack(stacked, alone_on=(None, [], None))  # 02 changes the line 01 wrote
    assert make_pr(stacked, tmp_path / "out", python=None) == 1
    assert error_line(capsys) == (
        "error: 02-strip.diff does not apply to 5.24.0 alone (its alone_on in pr/stack.toml): "
        "02-strip.diff: error: patch failed: src/transformers/__init__.py:2"
    )
    assert not (tmp_path / "out").exists()


def test_a_pull_request_whose_tests_need_one_it_does_not_name_in_alone_on_is_refused(stacked, tmp_path, capsys):
    (stacked / "tests" / "trainer" / "test_part.py").write_text(PART_TEST, encoding="utf-8")
    write_stack(stacked, part_files=["tests/trainer/test_part.py"], alone_on=(None, None, ["f-string"]))
    assert make_pr(stacked, tmp_path / "out") == 1
    line = error_line(capsys)
    assert line.startswith("error: 03-part alone on 01: tests of its tree: 1 failed, 1 passed"), line
    assert "test_part.py::test_parts" in line


@pytest.mark.parametrize(
    "alone_on, problem",
    [
        ((None, None, ["strip", "f-string"]), "has alone_on ['strip', 'f-string'] in pr/stack.toml: name each"),
        ((None, ["part"], None), "has alone_on 'part' in pr/stack.toml, which is not the slug of a pull request"),
    ],
)
def test_alone_on_names_earlier_pull_requests_in_stack_order(stacked, tmp_path, capsys, alone_on, problem):
    write_stack(stacked, alone_on=alone_on)
    assert make_pr(stacked, tmp_path / "out", python=None) == 1
    assert problem in error_line(capsys)


def test_the_size_table_counts_the_lines_of_each_diff_by_folder_and_the_words_of_each_description(
    stacked, tmp_path, capsys
):
    assert make_pr(stacked, tmp_path / "out", python=None) == 0
    table = (
        "| pull request | library lines | test lines | docs lines | description words |\n"
        "| --- | --: | --: | --: | --: |\n"
        "| 01-f-string | 2 | 5 | 0 | 10 |\n"
        "| 02-strip | 2 | 5 | 1 | 8 |\n"
        "| 03-part | 2 | 0 | 0 | 8 |\n"
        "| total | 6 | 10 | 1 | 26 |"
    )
    assert table in capsys.readouterr().out
    assert f"\n\n{table}\n\n" in (tmp_path / "out" / "README.md").read_text(encoding="utf-8")


def test_a_description_longer_than_the_word_limit_is_refused(stacked, tmp_path, capsys):
    limit = upstream_pr.DESCRIPTION_WORDS
    (stacked / "pr" / "f_string.md").write_text("word " * (limit + 1), encoding="utf-8")
    (stacked / "pr" / "strip.md").write_text("word\n" * limit, encoding="utf-8")
    assert make_pr(stacked, tmp_path / "out", python=None) == 1
    assert error_line(capsys) == (
        f"error: descriptions longer than {limit} words (DESCRIPTION_WORDS in tools/upstream_pr.py, counted as `wc -w` "
        f"does): pr/f_string.md of 01-f-string has {limit + 1}; shorten them"
    )


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
    # upstream can merge 01 to 04 each on at most 01, and 05 without 04
    alone_on = {pr.slug: pr.alone_on for pr in stack}
    assert all(alone_on[slug] in ([], [1]) for slug in [pr.slug for pr in stack][:4]), alone_on
    assert alone_on["time-budget"] == [1, 2, 3]
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


# ---- upstream's own tests -----------------------------------------------------------------------------------


def files_in(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def test_upstream_tests_pass_when_every_test_that_passes_on_stock_passes_and_leave_their_folder_as_it_was(
    root, tmp_path
):
    upstream = fake_upstream_tests(tmp_path / "upstream-tests")
    before = files_in(upstream)
    log = tmp_path / "logs" / "upstream.log"
    summary = upstream_pr.run_upstream_tests(sys.executable, upstream, "5.24.0", log, pristine(root, tmp_path / "t"))
    # the deselected test is not collected; the test that fails on stock too does not count
    assert summary == (
        "upstream tests: 3 of 3 that pass on stock 5.24.0 pass (5 collected: 3 passed, 1 failed, 1 skipped)"
    )
    assert files_in(upstream) == before  # no cache, no bytecode: the real folder is read-only
    assert "test_fails_on_stock_too" in log.read_text(encoding="utf-8")


def test_upstream_tests_name_each_test_that_passes_on_stock_and_does_not_pass_now(stacked, tmp_path, capsys):
    files = {
        **UPSTREAM_TESTS,
        "repo/tests/trainer/test_trainer_data.py": KEEPS_SPACES,  # fails once names are stripped
        "repo/tests/trainer/test_trainer_resume.py": "import no_such_module\n\n\ndef test_resumes():\n    pass\n",
    }
    passing = [
        *UPSTREAM_PASSING,
        "tests/trainer/test_trainer_callback.py::GreetTest::test_greets_from_the_hub",
        "tests/trainer/test_trainer_data.py::test_keeps_spaces",
        "tests/trainer/test_trainer_resume.py::test_resumes",
    ]
    upstream = fake_upstream_tests(tmp_path / "upstream-tests", files, passing)
    log = tmp_path / "upstream.log"
    tree = stacked / "fork"  # all three patches: names are stripped
    run = lambda: print(upstream_pr.run_upstream_tests(sys.executable, upstream, "5.24.0", log, tree))  # noqa: E731
    assert series.exit_status(run) == 1
    assert error_line(capsys) == (
        "error: upstream tests: 3 of 6 that pass on stock 5.24.0 pass "
        "(7 collected: 3 passed, 2 failed, 1 error, 1 skipped); these do not: "
        "tests/trainer/test_trainer_callback.py::GreetTest::test_greets_from_the_hub (skipped), "
        "tests/trainer/test_trainer_data.py::test_keeps_spaces (failed), "
        f"tests/trainer/test_trainer_resume.py::test_resumes (not collected) (pytest's output: {log})"
    )


def test_a_pull_request_that_breaks_an_upstream_test_is_refused_at_its_level(stacked, tmp_path, capsys):
    files = {**UPSTREAM_TESTS, "repo/tests/trainer/test_trainer_data.py": KEEPS_SPACES}
    passing = [*UPSTREAM_PASSING, "tests/trainer/test_trainer_data.py::test_keeps_spaces"]
    upstream = fake_upstream_tests(tmp_path / "upstream-tests", files, passing)
    assert make_pr(stacked, tmp_path / "dist" / "pr", upstream_tests=upstream) == 1
    captured = capsys.readouterr()
    assert "upstream tests: 4 of 4 that pass on stock 5.24.0 pass" in captured.out.splitlines()[0]
    error = captured.err.strip()
    assert error.startswith("error: 02-strip: upstream tests: 3 of 4 that pass on stock 5.24.0 pass"), error
    assert "these do not: tests/trainer/test_trainer_data.py::test_keeps_spaces (failed)" in error
    assert (tmp_path / "dist" / "upstream-tests" / "02-strip.log").is_file()
    assert not (tmp_path / "dist" / "pr").exists()


def test_a_missing_folder_of_upstream_tests_is_named_with_its_make_variable(tmp_path, capsys):
    assert upstream_pr.main(["upstream-tests", "--upstream-tests", str(tmp_path / "nowhere")]) == 1
    assert error_line(capsys) == (
        f"error: UPSTREAM_TESTS is {tmp_path / 'nowhere'}, which does not exist: set it to the folder of upstream's "
        "tests (make upstream-tests UPSTREAM_TESTS=path)"
    )


def test_junit_outcomes_give_pytest_ids_for_classes_functions_parameters_and_teardown_errors(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text("", encoding="utf-8")
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="tests.test_a.Outer.Inner" name="test_x" />'
        '<testcase classname="tests.test_a" name="test_p[1.5 b]" />'
        '<testcase classname="tests.test_a" name="test_t" /><testcase classname="tests.test_a" name="test_t">'
        '<error message="teardown" /></testcase>'
        '<testcase classname="tests.test_a" name="test_s"><skipped message="xfail" /></testcase>'
        '<testcase classname="" name="tests.test_b"><error message="collection failure" /></testcase>'
        "</testsuite></testsuites>",
        encoding="utf-8",
    )
    assert upstream_pr.junit_outcomes(junit, tmp_path) == {
        "tests/test_a.py::Outer::Inner::test_x": "passed",
        "tests/test_a.py::test_p[1.5 b]": "passed",
        "tests/test_a.py::test_t": "error",
        "tests/test_a.py::test_s": "skipped",
        "tests.test_b": "error",
    }
