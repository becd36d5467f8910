#!/usr/bin/env python3
"""What upstream receives: a stack of pull requests, and upstream's style checks on what they touch.

pr              dist/pr/NN-slug/: one diff and one PR.md (description, commits, files) per pull request of
                pr/stack.toml, and dist/pr/README.md: a table of each one's size (library, test and docs lines,
                description words) and the list in order. Each diff is checked: applied with `git apply` to the
                pristine release (plus the stack's scaffold) on top of the diffs before it, it gives exactly that pull
                request's tree, on which its tests, those of the pull requests before it and upstream's own tests pass;
                where it names the earlier pull requests it needs (`alone_on`), it applies on top of theirs alone
                and the same tests pass on that tree too. No description is longer than DESCRIPTION_WORDS words
quality         upstream's ruff check and ruff format --check (the sdist's pyproject.toml) on every Python file the
                series touches or adds, and on our own scripts
upstream-tests  upstream's own tests of the code the series touches (shared/upstream-tests) against the virtualenv's
                transformers: every test that passes on the stock release must pass
"""

import argparse
import email
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import xml.etree.ElementTree as ElementTree
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from series import (
    EXPORT_CONFIG,
    PROJECT_ROOT,
    Project,
    SeriesError,
    apply_series,
    build_patched_tree,
    exit_status,
    fetch_sdist,
    git,
    unpack_pristine,
)


STACK = "pr/stack.toml"
NEW_FILES = ["tests/__init__.py", "tests/trainer/**/*", "docs/source/en/**/*"]  # ours, at their upstream paths
OWN_SCRIPT_FOLDERS = [
    "tools",
    "examples",
    "benchmarks",
    "tests/tooling",
    "tests/integration",
]  # ours alone, held to the same style
PR_KEYS = {"slug", "title", "patches", "files", "description", "tests"}
OPTIONAL_PR_KEYS = {"alone_on"}  # the earlier pull requests that are all it needs: it applies and passes on them alone
DESCRIPTION_WORDS = 600  # at most this many words (as `wc -w` counts them) in a pull request's description
# The size table's columns: the added plus removed lines of a diff under each folder
SIZE_AREAS = {"library": "src/", "test": "tests/", "docs": "docs/"}
TESTS_TIMEOUT = 1800  # seconds for the tests of one tree: a multi-process test that hangs must not hang `make pr`

# Upstream's tests of what the series touches, as the README of their folder (UPSTREAM_TESTS) runs them
UPSTREAM_TEST_FILES = [
    "tests/trainer/test_trainer_callback.py",
    "tests/trainer/test_training_args.py",
    "tests/trainer/test_trainer_checkpointing.py",
    "tests/trainer/test_trainer_resume.py",
    "tests/trainer/test_trainer_data.py",
    "tests/utils/test_hf_argparser.py",
]
UPSTREAM_DESELECTED = [  # why each: the folder's README (the Hub, or tests newer than the pinned release)
    "tests/trainer/test_trainer_checkpointing.py::TrainerCheckpointSaveTest::test_save_collator_tokenizer_by_default",
    "tests/trainer/test_trainer_checkpointing.py::TrainerSavingTest::test_trainer_saves_tokenizer",
    "tests/trainer/test_trainer_checkpointing.py::TrainerSavingTest::test_trainer_saves_feature_extractor",
    "tests/utils/test_hf_argparser.py::HfArgumentParserTest::test_17_union_dict_str_parsing",
    "tests/utils/test_hf_argparser.py::HfArgumentParserTest::test_18_lr_scheduler_kwargs_parsing",
]
PASSING_ON_STOCK = "passing-on-stock.txt"  # in the folder: the ids that pass on the stock release
UPSTREAM_TEST_TIMEOUT = 120  # seconds for one test (pytest-timeout), as upstream's CI
SHOWN_IDS = 20  # at most this many failing ids in the error line; the log has them all


@dataclass
class PullRequest:
    number: int
    slug: str
    title: str
    patches: list[Path]  # its share of patches/, in series order
    files: list[str]  # our new files it adds, relative to the project (and the tree)
    description: Path
    tests: list[str]  # paths or globs, relative to the tree
    alone_on: list[int] | None = None  # the numbers of the earlier pull requests it alone needs; None: its stack place

    @property
    def name(self) -> str:
        return f"{self.number:02d}-{self.slug}"

    def words(self) -> int:
        """The words of its description, as `wc -w` counts them."""
        return len(self.description.read_text(encoding="utf-8").split())


@dataclass
class BuiltPullRequest:
    pr: PullRequest
    diff: str
    stat: str
    numstat: str  # `git diff --numstat` of the diff: added and removed lines per file
    tree: str  # the git tree hash of the pristine release with this pull request and those before it

    def lines(self, prefix: str) -> int:
        """Added plus removed lines of the diff in files under `prefix` (binary files count none)."""
        counts = [line.split("\t", 2) for line in self.numstat.splitlines()]
        return sum(int(a) + int(r) for a, r, path in counts if path.startswith(prefix) and a.isdigit() and r.isdigit())


def our_new_files(root: Path) -> list[str]:
    """Every file of ours that upstream receives as a new file, relative to the project."""
    found = {path for pattern in NEW_FILES for path in root.glob(pattern) if path.is_file()}
    return sorted(p.relative_to(root).as_posix() for p in found if "__pycache__" not in p.parts)


def load_stack(project: Project) -> tuple[list[str], list[PullRequest]]:
    """pr/stack.toml, checked: every patch in exactly one pull request, every new file of ours in exactly one pull
    request or in the scaffold. The scaffold (files upstream's repository has and the sdist lacks) and the stack."""
    path = project.root / STACK
    if not path.exists():
        raise SeriesError(f"there is no {STACK}: it lists the pull requests `make pr` writes")
    table = tomllib.loads(path.read_text(encoding="utf-8"))
    entries, scaffold_patterns = table.get("pr", []), table.get("scaffold", [])
    if not entries:
        raise SeriesError(f"{STACK} lists no pull request ([[pr]] tables)")
    patches = project.patch_files()
    counts = [entry.get("patches") for entry in entries]
    for number, entry in enumerate(entries, 1):
        missing, unknown = PR_KEYS - set(entry), set(entry) - PR_KEYS - OPTIONAL_PR_KEYS
        if missing or unknown:
            problem = f"lacks {', '.join(sorted(missing))}" if missing else f"has unknown {', '.join(sorted(unknown))}"
            raise SeriesError(
                f"pull request {number} of {STACK} {problem} (each has: {', '.join(sorted(PR_KEYS))}; "
                f"it may have: {', '.join(sorted(OPTIONAL_PR_KEYS))})"
            )
        for key in ("files", "tests"):
            if not isinstance(entry[key], list):
                raise SeriesError(f"pull request {number} of {STACK} gives {key} as {entry[key]!r}: give a list")
        if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", entry["slug"]):
            raise SeriesError(f"pull request {number} of {STACK} has slug {entry['slug']!r}: use a-z, 0-9 and -")
    if not all(isinstance(count, int) and count >= 0 for count in counts) or sum(counts) != len(patches):
        raise SeriesError(
            f"the pull requests of {STACK} take {' + '.join(map(str, counts))} patches, but patches/ holds "
            f"{len(patches)}: give every patch to one pull request, in series order"
        )
    if not isinstance(scaffold_patterns, list) or not all(isinstance(p, str) for p in scaffold_patterns):
        raise SeriesError(f"{STACK} gives scaffold as {scaffold_patterns!r}: give a list of paths")
    new_files = our_new_files(project.root)
    owner: dict[str, str] = {}

    def claim(patterns: list[str], label: str) -> list[str]:
        """Our new files that `patterns` match, each claimed for `label`; refused if another claimed it first."""
        files = []
        for pattern in patterns:
            matched = sorted(p.relative_to(project.root).as_posix() for p in project.root.glob(pattern))
            matched = [file for file in matched if file in new_files]
            if not matched:
                raise SeriesError(f"{pattern!r} in {label} matches none of our new files ({STACK})")
            for file in matched:
                if owner.setdefault(file, label) != label:
                    raise SeriesError(
                        f"{file} is in {owner[file]} and in {label}: "
                        f"each new file belongs to exactly one pull request, or to the scaffold ({STACK})"
                    )
            files += [file for file in matched if file not in files]
        return files

    scaffold = claim(scaffold_patterns, "the scaffold")
    stack, start, numbers = [], 0, {}
    for number, entry in enumerate(entries, 1):
        name = f"{number:02d}-{entry['slug']}"
        files = claim(entry["files"], f"the files of {name}")
        description = project.root / entry["description"]
        if not description.is_file():
            raise SeriesError(f"the description of {name}, {entry['description']}, does not exist")
        stack.append(
            PullRequest(
                number,
                entry["slug"],
                entry["title"],
                patches[start : start + entry["patches"]],
                files,
                description,
                entry["tests"],
                alone_on(entry, name, numbers),
            )
        )
        numbers[entry["slug"]] = number
        start += entry["patches"]
    unassigned = [file for file in new_files if file not in owner]
    if unassigned:
        raise SeriesError(
            f"{', '.join(unassigned)} in no pull request: add each to the files of the one it belongs to in {STACK}"
        )
    for pr in stack:
        if not pr.patches and not pr.files:
            raise SeriesError(f"{pr.name} has neither patches nor files ({STACK})")
    words = {pr.name: pr.words() for pr in stack}
    too_long = [
        f"{pr.description.relative_to(project.root)} of {pr.name} has {words[pr.name]}"
        for pr in stack
        if words[pr.name] > DESCRIPTION_WORDS
    ]
    if too_long:
        raise SeriesError(
            f"descriptions longer than {DESCRIPTION_WORDS} words (DESCRIPTION_WORDS in tools/upstream_pr.py, "
            f"counted as `wc -w` does): {', '.join(too_long)}; shorten them"
        )
    return scaffold, stack


def alone_on(entry: dict, name: str, numbers: dict[str, int]) -> list[int] | None:
    """The numbers of the pull requests an entry's `alone_on` names, checked: earlier ones, in stack order, each once.
    `numbers` holds the slugs of the pull requests before it."""
    if "alone_on" not in entry:
        return None
    slugs = entry["alone_on"]
    if not isinstance(slugs, list) or not all(isinstance(slug, str) for slug in slugs):
        raise SeriesError(f"{name} gives alone_on as {slugs!r} in {STACK}: give a list of slugs")
    unknown = [slug for slug in slugs if slug not in numbers]
    if unknown:
        raise SeriesError(
            f"{name} has alone_on {', '.join(map(repr, unknown))} in {STACK}, which is not the slug of a pull request "
            f"before it ({', '.join(map(repr, numbers)) or 'there is none'})"
        )
    chosen = [numbers[slug] for slug in slugs]
    if chosen != sorted(set(chosen)):
        raise SeriesError(f"{name} has alone_on {slugs!r} in {STACK}: name each pull request once, in stack order")
    return chosen


def tests_of(prs: list[PullRequest], tree: Path) -> list[str]:
    """The test files of the pull requests `prs`, found in `tree` (paths relative to it)."""
    tests = []
    for pr in prs:
        for pattern in pr.tests:
            matched = sorted(p.relative_to(tree).as_posix() for p in tree.glob(pattern) if p.is_file())
            if not matched:
                raise SeriesError(f"the test {pattern!r} of {pr.name} is not in its tree ({STACK})")
            tests += [test for test in matched if test not in tests]
    return tests


def build_upstream_tree(project: Project, dest: Path) -> None:
    """The pristine release with the whole series applied and all our new files added, all staged in git."""
    build_patched_tree(project, dest)
    for file in our_new_files(project.root):
        (dest / file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(project.root / file, dest / file)
    git(dest, "add", "--all")


def add_files(project: Project, tree: Path, files: list[str], message: str) -> None:
    """Copy our `files` into `tree` and commit them (and nothing else) with `message`."""
    for file in files:
        (tree / file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(project.root / file, tree / file)
    git(tree, "add", "--all")
    git(tree, "commit", "--quiet", "--no-verify", "--no-gpg-sign", "--allow-empty", "-m", message)


def unpack_base(project: Project, scaffold: list[str], tree: Path) -> None:
    """The tree every diff applies to: the pristine release, and the scaffold committed on top, tagged `base`."""
    unpack_pristine(fetch_sdist(project), tree, f"{project.name} {project.version}")
    add_files(project, tree, scaffold, "scaffold: files upstream's repository has and the sdist lacks")
    git(tree, "tag", "--no-sign", "base")


def build_stack(project: Project, scaffold: list[str], stack: list[PullRequest], tree: Path) -> list[BuiltPullRequest]:
    """Build the pull requests one on top of the other in `tree`: one commit each, and its diff from the one before."""
    label = f"{project.name} {project.version}"
    unpack_base(project, scaffold, tree)
    built = []
    for pr in stack:
        before = git(tree, "rev-parse", "HEAD").stdout.strip()
        apply_series(tree, pr.patches, label)
        add_files(project, tree, pr.files, f"{pr.name}: files")
        diff = git(tree, "diff", "--full-index", "--binary", before, "HEAD", config=EXPORT_CONFIG).stdout
        stat = git(tree, "diff", "--stat=120,80", before, "HEAD", config=EXPORT_CONFIG).stdout
        numstat = git(tree, "diff", "--numstat", before, "HEAD", config=EXPORT_CONFIG).stdout
        built.append(BuiltPullRequest(pr, diff, stat, numstat, git(tree, "rev-parse", "HEAD^{tree}").stdout.strip()))
    return built


def check_out_alone(repo: Path, diff_files: list[Path], dest: Path) -> str | None:
    """Apply `diff_files` in turn to the base tree of `repo` (on a scratch index) and check the result out at `dest`
    (a worktree): None, or why a diff does not apply (its name and git's first line), with nothing checked out."""
    env = {"GIT_INDEX_FILE": str(dest.with_name(dest.name + ".index"))}
    git(repo, "read-tree", "base", env=env)
    for diff_file in diff_files:
        applied = git(repo, "apply", "--cached", str(diff_file), check=False, env=env)
        if applied.returncode != 0:
            return f"{diff_file.name}: {(applied.stderr.strip().splitlines() or ['no output'])[0]}"
    tree = git(repo, "write-tree", env=env).stdout.strip()
    commit = git(repo, "commit-tree", tree, "-p", "base", "-m", f"alone: {dest.name}", env=env).stdout.strip()
    git(repo, "worktree", "add", "--quiet", "--detach", str(dest), commit)
    return None


def tree_env(python: str, tree: Path | None, **variables: str) -> dict[str, str]:
    """The environment that runs tests against the tree's transformers (its src/ first on PYTHONPATH), or without a
    tree against the virtualenv's; refused where `python` would import transformers from elsewhere."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **variables}
    if tree is not None:
        env["PYTHONPATH"] = str(tree / "src")
        probe = [python, "-c", "import transformers; print(transformers.__file__)"]
        imported = subprocess.run(probe, env=env, capture_output=True, text=True).stdout.strip()
        if not Path(imported).is_relative_to(tree / "src"):
            raise SeriesError(f"the tests would import transformers from {imported or '(nowhere)'}, not from the tree")
    return env


def run_pytest(python: str, arguments: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """pytest, without its cache (the folder may be read-only), stopped after TESTS_TIMEOUT."""
    command = [python, "-m", "pytest", "-p", "no:cacheprovider", *arguments]
    try:
        return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=TESTS_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise SeriesError(f"the tests did not finish in {TESTS_TIMEOUT} s (a hang?) in {cwd}") from None


def run_tests(python: str, tree: Path, tests: list[str]) -> str:
    """Run `tests` in `tree` with the tree's transformers (its src/ first on PYTHONPATH); the pytest summary."""
    if not tests:  # pytest would collect the whole tree
        return "none"
    # RUN_SLOW: the multi-process tests, `@slow` as upstream marks them, run on every tree too
    result = run_pytest(python, ["-q", *tests], tree, tree_env(python, tree, RUN_SLOW="1"))
    summary = re.findall(r"^=*\s*(\d+ \w+.* in [\d.]+s\b.*?)\s*=*$", result.stdout, re.MULTILINE)
    summary = summary[-1] if summary else f"did not run (pytest exit {result.returncode})"
    if result.returncode != 0:
        failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", result.stdout, re.MULTILINE)
        raise SeriesError(f"{summary}{': ' + ', '.join(failed[:5]) if failed else ''}")
    return summary


def junit_outcomes(junit: Path, repo: Path) -> dict[str, str]:
    """Each test's outcome (passed, failed, error or skipped) by its pytest id, read from pytest's junit xml."""
    outcomes: dict[str, str] = {}
    kinds = {"failure": "failed", "error": "error", "skipped": "skipped"}
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        # classname is the module's dotted path and the classes: the module is its longest prefix that is a file
        parts = [part for part in case.get("classname", "").split(".") if part]
        cut = next(
            (n for n in range(len(parts), 0, -1) if (repo / "/".join(parts[:n])).with_suffix(".py").is_file()), 0
        )
        module = ["/".join(parts[:cut]) + ".py"] if cut else []  # none: a file that could not be collected
        test_id = "::".join([*module, *parts[cut:], case.get("name", "")])
        outcome = next((kinds[child.tag] for child in case if child.tag in kinds), "passed")
        if outcomes.get(test_id, "passed") == "passed":  # a test's teardown error comes as a second testcase
            outcomes[test_id] = outcome
    return outcomes


def run_upstream_tests(python: str, folder: Path, version: str, log: Path, tree: Path | None = None) -> str:
    """Upstream's tests of `folder` (UPSTREAM_TESTS) against the tree's transformers, or without a tree the
    virtualenv's; pytest's output goes to `log`. Their one-line summary; refused, naming them, unless every test
    that passes on the stock release passes."""
    listing = folder / PASSING_ON_STOCK
    if not listing.is_file():
        state = "does not exist" if not folder.exists() else f"holds no {PASSING_ON_STOCK}"
        raise SeriesError(
            f"UPSTREAM_TESTS is {folder}, which {state}: set it to the folder of upstream's tests "
            "(make upstream-tests UPSTREAM_TESTS=path)"
        )
    expected = [line.strip() for line in listing.read_text(encoding="utf-8").splitlines() if line.strip()]
    repo = folder / "repo"
    with tempfile.TemporaryDirectory(prefix="upstream-tests-") as scratch:
        (Path(scratch) / "tmp").mkdir()
        env = tree_env(python, tree, HF_HUB_OFFLINE="1", TMPDIR=f"{scratch}/tmp", HF_HOME=f"{scratch}/hf")
        junit = Path(scratch) / "junit.xml"
        arguments = [f"--timeout={UPSTREAM_TEST_TIMEOUT}", f"--junitxml={junit}", "--continue-on-collection-errors"]
        arguments += UPSTREAM_TEST_FILES
        result = run_pytest(python, arguments + [f"--deselect={test}" for test in UPSTREAM_DESELECTED], repo, env)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(result.stdout + result.stderr, encoding="utf-8")
        if not junit.is_file():
            last = (result.stdout + result.stderr).strip().splitlines()[-1:]
            raise SeriesError(f"upstream tests did not run (pytest exit {result.returncode}, {log}): {last}")
        outcomes = junit_outcomes(junit, repo)
    tally = Counter(outcomes.values())
    counts = ", ".join(f"{tally[kind]} {kind}" for kind in ("passed", "failed", "error", "skipped") if tally[kind])
    failing = [
        f"{test} ({outcomes.get(test, 'not collected')})" for test in expected if outcomes.get(test) != "passed"
    ]
    summary = (
        f"upstream tests: {len(expected) - len(failing)} of {len(expected)} that pass on stock {version} pass "
        f"({len(outcomes)} collected: {counts or 'none'})"
    )
    if failing:
        more = f" and {len(failing) - SHOWN_IDS} more" if len(failing) > SHOWN_IDS else ""
        raise SeriesError(f"{summary}; these do not: {', '.join(failing[:SHOWN_IDS])}{more} (pytest's output: {log})")
    return summary


def subjects(patches: list[Path]) -> list[str]:
    messages = [email.message_from_string(p.read_text(encoding="utf-8"))["Subject"] for p in patches]
    return [" ".join(subject.removeprefix("[PATCH] ").split()) for subject in messages]


def run_tree_tests(
    project: Project,
    python: str | None,
    upstream_tests: Path | None,
    prs: list[PullRequest],
    tree: Path,
    label: str,
    log: Path,
) -> str:
    """Run the tests of the pull requests `prs` on `tree`, then upstream's (with a folder of them; pytest's output in
    `log`): their summary. With `python` None, nothing runs. A failure is refused, named by `label`."""
    if python is None:
        return "tests not run"
    try:
        summary = f"tests of {numbered(prs)}: {run_tests(python, tree, tests_of(prs, tree))}"
    except SeriesError as error:
        raise SeriesError(f"{label}: tests of its tree: {error}") from None
    if upstream_tests is not None:
        try:
            summary += f"; {run_upstream_tests(python, upstream_tests, project.version, log, tree)}"
        except SeriesError as error:
            raise SeriesError(f"{label}: {error}") from None
    return summary


def numbered(prs: list[PullRequest]) -> str:
    return ", ".join(f"{pr.number:02d}" for pr in prs)


def alone_phrase(prs: list[PullRequest]) -> str:
    """What a diff applies to besides the pristine release: alone, or alone on 01, 02."""
    return f"alone on {numbered(prs)}" if prs else "alone"


def size_table(built: list[BuiltPullRequest]) -> str:
    """The reviewer's first look, as a Markdown table: each pull request's library, test and docs lines (added plus
    removed lines of its diff under src/, tests/ and docs/) and its description's words, and their totals."""
    header = ["pull request", *(f"{area} lines" for area in SIZE_AREAS), "description words"]
    rows = [[item.pr.name, *(item.lines(prefix) for prefix in SIZE_AREAS.values()), item.pr.words()] for item in built]
    rows.append(["total", *(sum(row[column] for row in rows) for column in range(1, len(header)))])
    lines = [header, ["---", *["--:"] * (len(header) - 1)], *rows]
    return "\n".join("| " + " | ".join(map(str, line)) + " |" for line in lines)


def command_pr(project: Project, out: Path, python: str | None, upstream_tests: Path | None = None) -> None:
    """Write the stack into `out`, one line per pull request and the table of their sizes; with `python` None,
    everything but the tests is checked. With `upstream_tests` (the folder of upstream's own tests), those run on each
    pull request's tree too. A pull request with `alone_on` is also applied and tested on top of those alone."""
    scaffold, stack = load_stack(project)
    rows = []  # (built pull request, what it applies on, its tests' summary)
    logs = out.parent / "upstream-tests"
    with tempfile.TemporaryDirectory() as tmp:
        built = build_stack(project, scaffold, stack, Path(tmp) / "stack")
        # Each diff, applied to the base tree on top of the diffs before it, must give the tree that was built
        tree = Path(tmp) / "applied"
        unpack_base(project, scaffold, tree)
        diff_files = []
        for level, item in enumerate(built, 1):
            pr, name = item.pr, item.pr.name
            diff_files.append(Path(tmp) / f"{name}.diff")
            diff_files[-1].write_text(item.diff, encoding="utf-8")
            applied = git(tree, "apply", "--index", str(diff_files[-1]), check=False)
            if applied.returncode != 0:
                reason = (applied.stderr.strip().splitlines() or ["no output"])[0]
                raise SeriesError(f"{name}.diff does not apply on top of the pull requests before it: {reason}")
            if git(tree, "write-tree").stdout.strip() != item.tree:
                raise SeriesError(f"{name}.diff applied on top of the pull requests before it gives another tree")
            below = stack[: level - 1]
            in_place = pr.alone_on == [p.number for p in below]  # it needs all those below it: the stack tests it
            base = alone_phrase(below) if not below or in_place else f"on top of {numbered(below)}"
            tests = run_tree_tests(project, python, upstream_tests, stack[:level], tree, name, logs / f"{name}.log")
            if pr.alone_on is not None and not in_place:
                # The same diff on top of the diffs of those it names alone: it applies, and the same tests pass
                needs = [stack[number - 1] for number in pr.alone_on]
                where = alone_phrase(needs)
                alone = Path(tmp) / f"{name}-alone"
                reason = check_out_alone(tree, [diff_files[p.number - 1] for p in needs] + diff_files[-1:], alone)
                if reason is not None:
                    raise SeriesError(
                        f"{name}.diff does not apply to {project.version} {where} (its alone_on in {STACK}): {reason}"
                    )
                log, label = logs / f"{name}-alone.log", f"{name} {where}"
                alone_tests = run_tree_tests(project, python, upstream_tests, [*needs, pr], alone, label, log)
                base, tests = f"{base} and {where}", f"{tests}; {where}: {alone_tests}"
            commits = len(pr.patches)
            print(
                f"{name}: {commits} commit{'s' * (commits != 1)}, {item.stat.splitlines()[-1].strip()}; "
                f"applies to {project.version} {base}; {tests}",
                flush=True,
            )
            rows.append((item, base, tests))
    table = size_table(built)
    print(table)
    shutil.rmtree(out, ignore_errors=True)
    for item, _, _ in rows:
        folder = out / item.pr.name
        folder.mkdir(parents=True)
        (folder / f"{item.pr.slug}.diff").write_text(item.diff, encoding="utf-8")
        (folder / "PR.md").write_text(pr_description(project, stack, item), encoding="utf-8")
    listing = "\n".join(
        f"{item.pr.number}. [{item.pr.title}]({item.pr.name}/PR.md): `{item.pr.name}/{item.pr.slug}.diff`, "
        f"applies to {project.version} {base}; {tests}"
        for item, base, tests in rows
    )
    base = f" with upstream's {', '.join(f'`{file}`' for file in scaffold)} (not in the sdist)" if scaffold else ""
    (out / "README.md").write_text(
        f"# Pull requests to {project.name} {project.version}, in the order they are to be merged\n\n"
        f"Written by `make pr` from patches/ and {STACK}. Each diff applies with `git apply` to a pristine "
        f"{project.version} tree{base} on top of the diffs above it, and its tests and theirs pass on that tree. "
        'Where it applies "alone on" some of them, it applies to the pristine tree on top of their diffs alone, and '
        "the same tests pass there too.\n\n"
        "Lines are the added plus removed lines of each diff under `src/` (library), `tests/` and `docs/`; words, "
        f"those of its description (at most {DESCRIPTION_WORDS}).\n\n"
        f"{table}\n\n{listing}\n",
        encoding="utf-8",
    )
    print(f"wrote {len(rows)} pull requests to {out}, listed in {out / 'README.md'}")


def pr_description(project: Project, stack: list[PullRequest], item: BuiltPullRequest) -> str:
    """The pull request's title, its place in the stack, its description, its commits and the files it changes."""
    pr = item.pr
    before = "; ".join(f"{p.number}. {p.title}" for p in stack[: pr.number - 1])
    place = f"Stack: {pr.number} of {len(stack)} against {project.name} {project.version}"
    place += f", on top of {before}" if before else ", the first"
    commits = "\n".join(f"{number}. {subject}" for number, subject in enumerate(subjects(pr.patches), 1))
    text = f"Title: {pr.title}\n{place}\n\n{pr.description.read_text(encoding='utf-8').rstrip()}\n"
    return text + f"\n## Commits\n\n{commits or '(none: new files only)'}\n\n## Files\n\n```\n{item.stat}```\n"


def command_quality(project: Project, ruff: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        build_upstream_tree(project, tree)
        touched = git(tree, "diff", "--cached", "--name-only", "upstream").stdout.split()
        upstream_files = [name for name in touched if name.endswith(".py")]
        own_files = [
            str(path) for folder in OWN_SCRIPT_FOLDERS for path in sorted((project.root / folder).rglob("*.py"))
        ]
        config = str(tree / "pyproject.toml")
        failures = []
        for cwd, files in ((tree, upstream_files), (project.root, own_files)):
            for check in (["check"], ["format", "--check"]):
                result = subprocess.run(
                    [ruff, *check, "--config", config, *files], cwd=cwd, capture_output=True, text=True
                )
                if result.returncode != 0:
                    failures.append(result.stdout + result.stderr)
    if failures:
        raise SeriesError("ruff finds style problems:\n" + "\n".join(failures))
    print(f"ok: ruff check and ruff format pass on {len(upstream_files)} upstream files and {len(own_files)} of ours")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["pr", "quality", "upstream-tests"])
    parser.add_argument("--ruff", default=str(Path(sys.executable).parent / "ruff"), help="the ruff to run")
    parser.add_argument("--python", default=sys.executable, help="the virtualenv's python that runs the tests")
    parser.add_argument(
        "--upstream-tests",
        type=Path,
        default=Path("../shared/upstream-tests"),
        help="the folder of upstream's own tests and passing-on-stock.txt (relative to the project)",
    )
    args = parser.parse_args(argv)
    project = Project(PROJECT_ROOT)
    upstream_tests = (PROJECT_ROOT / args.upstream_tests).resolve()
    if args.command == "pr":
        return exit_status(lambda: command_pr(project, PROJECT_ROOT / "dist" / "pr", args.python, upstream_tests))
    if args.command == "upstream-tests":
        log = PROJECT_ROOT / "dist" / "upstream-tests" / "fork.log"
        return exit_status(lambda: print(run_upstream_tests(args.python, upstream_tests, project.version, log)))
    return exit_status(lambda: command_quality(project, args.ruff))


if __name__ == "__main__":
    sys.exit(main())
