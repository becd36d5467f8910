#!/usr/bin/env python3
"""What upstream receives: one diff, its pull-request description, and upstream's style checks on what it touches.

pr       dist/pr/transformers-time-strategy.diff: the series and our new files at their upstream paths, checked
         to apply with `git apply` to a pristine tree; dist/pr/PR.md: pr/description.md plus the commit list
quality  upstream's ruff check and ruff format --check (the sdist's pyproject.toml) on every Python file the diff
         touches, and on our own scripts
"""

import argparse
import email
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from series import (
    EXPORT_CONFIG,
    PROJECT_ROOT,
    Project,
    SeriesError,
    build_patched_tree,
    exit_status,
    git,
    unpack_pristine,
)


NEW_FILE_FOLDERS = ["tests/trainer", "docs/source/en"]  # our new files, at the paths they have upstream
OWN_SCRIPT_FOLDERS = [
    "tools",
    "examples",
    "benchmarks",
    "tests/tooling",
    "tests/integration",
]  # ours alone, held to the same style
DIFF_NAME = "transformers-time-strategy.diff"


def build_upstream_tree(project: Project, dest: Path) -> None:
    """The pristine release with the series applied and our new files added, all staged in git."""
    build_patched_tree(project, dest)
    for folder in NEW_FILE_FOLDERS:
        shutil.copytree(
            project.root / folder, dest / folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
        )
    git(dest, "add", "--all")


def touched_files(tree: Path) -> list[str]:
    return git(tree, "diff", "--cached", "--name-only", "upstream").stdout.split()


def command_pr(project: Project, out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        build_upstream_tree(project, tree)
        diff = git(tree, "diff", "--cached", "--full-index", "--binary", "upstream", config=EXPORT_CONFIG).stdout
        stat = git(tree, "diff", "--cached", "--stat=100", "upstream", config=EXPORT_CONFIG).stdout
        expected_tree = git(tree, "write-tree").stdout.strip()
        # The diff alone must rebuild exactly the tree the tests ran on
        pristine = Path(tmp) / "pristine"
        unpack_pristine(project.cache / project.sdist, pristine, f"{project.name} {project.version}")
        (Path(tmp) / DIFF_NAME).write_text(diff, encoding="utf-8")
        git(pristine, "apply", "--index", str(Path(tmp) / DIFF_NAME))
        if git(pristine, "write-tree").stdout.strip() != expected_tree:
            raise SeriesError(f"{DIFF_NAME} applied to a pristine tree does not give the patched tree")
    subjects = [email.message_from_string(p.read_text(encoding="utf-8"))["Subject"] for p in project.patch_files()]
    subjects = [" ".join(subject.removeprefix("[PATCH] ").split()) for subject in subjects]
    out.mkdir(parents=True, exist_ok=True)
    (out / DIFF_NAME).write_text(diff, encoding="utf-8")
    description = (project.root / "pr" / "description.md").read_text(encoding="utf-8")
    commits = "\n".join(f"{number}. {subject}" for number, subject in enumerate(subjects, 1))
    (out / "PR.md").write_text(
        f"{description}\n## Commits\n\n{commits}\n\n## Files\n\n```\n{stat}```\n", encoding="utf-8"
    )
    print(f"wrote {out / DIFF_NAME} ({len(diff.splitlines())} lines; applies to a pristine {project.version} tree)")
    print(f"wrote {out / 'PR.md'}")


def command_quality(project: Project, ruff: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        build_upstream_tree(project, tree)
        upstream_files = [name for name in touched_files(tree) if name.endswith(".py")]
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
    parser.add_argument("command", choices=["pr", "quality"])
    parser.add_argument("--ruff", default=str(Path(sys.executable).parent / "ruff"), help="the ruff to run")
    args = parser.parse_args(argv)
    project = Project(PROJECT_ROOT)
    if args.command == "pr":
        return exit_status(lambda: command_pr(project, PROJECT_ROOT / "dist" / "pr"))
    return exit_status(lambda: command_quality(project, args.ruff))


if __name__ == "__main__":
    sys.exit(main())
