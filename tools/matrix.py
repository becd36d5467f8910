#!/usr/bin/env python3
"""Apply the series to every release listed under [matrix] in upstream.toml and run the feature tests against each.

Each release's sdist is verified by its sha256 like the main pin. The series is applied strictly first (`git am`,
exact context); where that fails, with a 3-way merge against the pinned release. The feature tests then run with the
patched release's `src/` first on PYTHONPATH. Prints one row per release: release, applies, tests.
"""

import argparse
import copy
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from series import PROJECT_ROOT, Project, SeriesError, apply_series, fetch_sdist, git, unpack_pristine


FEATURE_TESTS = [
    "tests/trainer/test_trainer_time_strategy.py",
    "tests/trainer/distributed/test_trainer_time_strategy_distributed.py",
    "tests/trainer/test_trainer_time_budget.py",
]


def release(project: Project, version: str, sha256: str) -> Project:
    """The same project pinned to another release of the same package."""
    other = copy.copy(project)
    other.version, other.sdist, other.sha256 = version, f"{project.name}-{version}.tar.gz", sha256
    return other


def apply_to_release(project: Project, other: Project, tree: Path, pinned_tree: Path) -> str:
    """How the series applies to `other`'s tree: "clean", "3-way", or "no: <reason>"."""
    label = f"{other.name} {other.version}"
    unpack_pristine(fetch_sdist(other), tree, label)
    try:
        apply_series(tree, project.patch_files(), label)
        return "clean"
    except SeriesError:
        pass
    # A 3-way merge needs the blobs the patches were made against: fetch the pinned release's objects
    git(tree, "fetch", "--quiet", str(pinned_tree), "upstream")
    try:
        apply_series(tree, project.patch_files(), label, three_way=True)
        return "3-way"
    except SeriesError as error:
        return f"no: {error}"


def run_feature_tests(project: Project, python: str, tree: Path, version: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    probe = [python, "-c", "import transformers; print(transformers.__version__)"]
    imported = subprocess.run(probe, env=env, capture_output=True, text=True).stdout.strip()
    if imported != version:
        return f"did not run: the tests would import transformers {imported or '(nothing)'}"
    command = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *FEATURE_TESTS]
    result = subprocess.run(command, cwd=project.root, env=env, capture_output=True, text=True)
    summary = re.findall(r"^=*\s*(\d+ (?:passed|failed).*?)\s*=*$", result.stdout, re.MULTILINE)
    return summary[-1] if summary else f"did not run (exit {result.returncode})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default=sys.executable, help="the virtualenv's python that runs the tests")
    args = parser.parse_args(argv)
    project = Project(PROJECT_ROOT)
    releases = tomllib.loads((PROJECT_ROOT / "upstream.toml").read_text(encoding="utf-8"))["matrix"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        pinned_tree = Path(tmp) / project.version
        unpack_pristine(fetch_sdist(project), pinned_tree, f"{project.name} {project.version}")
        for version, sha256 in releases.items():
            try:
                other = release(project, version, sha256)
                tree = Path(tmp) / f"patched-{version}"
                applies = apply_to_release(project, other, tree, pinned_tree)
                tests = run_feature_tests(project, args.python, tree, version) if not applies.startswith("no") else "-"
            except SeriesError as error:
                applies, tests = f"no: {error}", "-"
            rows.append((version, applies, tests))
            print(f"{version}: {applies}; {tests}", flush=True)
    print("\n| release | applies | feature tests |\n|---|---|---|")
    print("\n".join(f"| {version} | {applies} | {tests} |" for version, applies, tests in rows))
    return 0 if all(not applies.startswith("no") and "failed" not in tests for _, applies, tests in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
