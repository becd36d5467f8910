#!/usr/bin/env python3
"""Carry our changes to transformers as a patch series on one pinned upstream release.

    fork    unpack the pinned sdist into fork/, apply patches/, install it editable into the virtualenv
    export  write fork/'s commits on top of the `upstream` tag back to patches/, byte for byte reproducibly
    check   the committed series re-applies and re-exports to the same bytes; fork/ holds nothing unexported
    wheel   build a wheel of the patched release from committed patches/ into dist/

Every command reads the pin (name, version, sdist file name, sha256) from upstream.toml.
"""

from __future__ import annotations

import sys


if sys.version_info < (3, 11):  # noqa: UP036 (this check must run, and speak, on an older Python)
    sys.exit(
        f"error: tools/series.py needs Python 3.11 or newer, this is {sys.version.split()[0]}. Install python3.11."
    )

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import tomllib
from pathlib import Path


PROJECT_ROOT = Path(__file__).resolve().parent.parent

# A fixed identity and date make the fork's commits, and so everything derived from them, the same on every machine.
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "transformers-time",
    "GIT_AUTHOR_EMAIL": "transformers-time@users.noreply.github.com",
    "GIT_COMMITTER_NAME": "transformers-time",
    "GIT_COMMITTER_EMAIL": "transformers-time@users.noreply.github.com",
    "GIT_COMMITTER_DATE": "2000-01-01T00:00:00+0000",
}
PRISTINE_DATE = "2000-01-01T00:00:00+0000"
BUILD_LEFTOVERS = "*.egg-info/\n__pycache__/\n*.py[cod]\n/build/\n/dist/\n"

# Every git setting that changes the bytes `git format-patch` writes, pinned so that the user's config cannot;
# the options turn off the settings that have no neutral value (To:, Cc: and extra headers, attachments, notes).
EXPORT_CONFIG = {
    "core.abbrev": "12",
    "core.quotePath": "true",
    "diff.algorithm": "myers",
    "diff.context": "3",
    "diff.interHunkContext": "0",
    "diff.indentHeuristic": "true",
    "diff.mnemonicPrefix": "false",
    "diff.noprefix": "false",
    "diff.orderFile": os.devnull,
    "diff.relative": "false",
    "diff.renames": "false",
    "diff.suppressBlankEmpty": "false",
    "format.coverLetter": "false",
    "format.encodeEmailHeaders": "true",
    "format.filenameMaxLength": "64",
    "format.forceInBodyFrom": "false",
    "format.numbered": "false",
    "format.signature": "",
    "format.signOff": "false",
    "format.subjectPrefix": "PATCH",
    "format.suffix": ".patch",
    "format.thread": "false",
    "format.useAutoBase": "false",
    "i18n.logOutputEncoding": "UTF-8",
}
EXPORT_OPTIONS = ["--zero-commit", "--full-index", "--no-signature", "--no-numbered", "--stat=72", "--no-color"]
EXPORT_OPTIONS += ["--no-to", "--no-cc", "--no-add-header", "--no-from", "--no-attach", "--no-notes"]


class SeriesError(Exception):
    """A fault the user can fix; printed as one line, without a traceback."""


class Project:
    def __init__(self, root: Path):
        self.root = root
        pin = tomllib.loads((root / "upstream.toml").read_text(encoding="utf-8"))["upstream"]
        self.name, self.version, self.sdist, self.sha256 = pin["name"], pin["version"], pin["sdist"], pin["sha256"]
        self.local_version = pin.get("local_version", "")
        self.patches = root / "patches"
        self.fork = root / "fork"
        self.cache = root / ".cache" / "sdist"

    def patch_files(self) -> list[Path]:
        return sorted(self.patches.glob("*.patch"))


# ---- small helpers ------------------------------------------------------------------------------------------


def require_tools(version_info=sys.version_info) -> None:
    if tuple(version_info[:2]) < (3, 11):
        raise SeriesError(f"Python 3.11 or newer is needed, this is {version_info[0]}.{version_info[1]}")
    if shutil.which("git") is None:
        raise SeriesError("git is not on PATH: install git (apt-get install git) and run the command again")


def git(
    repo: Path, *args: str, check: bool = True, config: dict | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    settings = [arg for key, value in (config or {}).items() for arg in ("-c", f"{key}={value}")]
    env = {**os.environ, **GIT_IDENTITY, **(env or {})}
    result = subprocess.run(["git", *settings, *args], cwd=repo, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise SeriesError(f"git {' '.join(args)} failed in {repo}: {result.stderr.strip().splitlines()[-1:]}")
    return result


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_series(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.glob("*.patch"))}


# ---- the pinned sdist ---------------------------------------------------------------------------------------


def fetch_sdist(project: Project, find_links: str | None = None) -> Path:
    """The verified sdist from the cache, downloaded (into a temporary folder, moved in only once verified) if needed."""
    cached = project.cache / project.sdist
    if cached.exists():
        actual = sha256_of(cached)
        if actual != project.sha256:
            raise SeriesError(
                f"{cached} has sha256 {actual}, but upstream.toml pins {project.sha256}: delete the file and run again"
            )
        return cached
    project.cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=project.cache) as tmp:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
        command += ["-d", tmp, f"{project.name}=={project.version}"]
        if find_links is not None:
            command += ["--no-index", "--find-links", find_links]
        result = subprocess.run(command, capture_output=True, text=True)
        downloaded = Path(tmp) / project.sdist
        if result.returncode != 0 or not downloaded.exists():
            reason = (result.stderr.strip().splitlines() or ["no file"])[-1]
            raise SeriesError(f"could not download {project.sdist} ({reason}); check the network and run again")
        actual = sha256_of(downloaded)
        if actual != project.sha256:
            raise SeriesError(
                f"downloaded {project.sdist} has sha256 {actual}, but upstream.toml pins {project.sha256}; "
                "nothing was cached. Check the pin or the package index"
            )
        downloaded.replace(cached)
    return cached


def unpack_pristine(sdist: Path, dest: Path, label: str) -> None:
    """Unpack an sdist into `dest` as a git repository whose single commit is tagged `upstream`."""
    dest.mkdir(parents=True)
    with tarfile.open(sdist) as archive:
        members = archive.getmembers()
        top = members[0].name.split("/")[0]
        for member in members:
            member.name = member.name[len(top) + 1 :] if member.name.startswith(top + "/") else ""
        # The "data" filter drops the archive's owners (git refuses folders owned by someone else) and unsafe paths.
        archive.extractall(dest, members=[m for m in members if m.name], filter="data")
    git(dest, "init", "--quiet", "--initial-branch=main")
    # Build and import by-products (pip install -e rewrites the egg-info) are never part of a patch.
    (dest / ".git" / "info" / "exclude").write_text(BUILD_LEFTOVERS, encoding="utf-8")
    git(dest, "config", "user.name", GIT_IDENTITY["GIT_AUTHOR_NAME"])
    git(dest, "config", "user.email", GIT_IDENTITY["GIT_AUTHOR_EMAIL"])
    git(dest, "add", "--all")
    message = f"{label} (pristine sdist)"
    git(
        dest,
        "commit",
        "--quiet",
        "--no-verify",
        "--no-gpg-sign",
        "-m",
        message,
        env={"GIT_AUTHOR_DATE": PRISTINE_DATE},
    )
    git(dest, "tag", "--no-sign", "upstream")


def apply_series(repo: Path, patch_files: list[Path], label: str, three_way: bool = False) -> None:
    """Apply each patch with `git am` (exact context, no fuzz); name the patch and the file when one does not apply."""
    for patch in patch_files:
        options = ["--quiet", "--no-gpg-sign", "--whitespace=nowarn", "--3way" if three_way else "--no-3way"]
        result = git(repo, "am", *options, str(patch), check=False)
        if result.returncode != 0:
            git(repo, "am", "--abort", check=False)
            output = result.stdout + result.stderr
            where = re.findall(r"error: (?:patch failed: )?(\S+?)(?::\d+)?(?::| does not exist)", output)
            files = ", ".join(sorted(set(where))) or "see `git am` output"
            raise SeriesError(f"{patch.name} no longer applies to {label}: {files}. Rebase it in fork/ and re-export")


def export_series(repo: Path, out: Path) -> dict[str, bytes]:
    """Write the commits on top of `upstream` as patch files into `out`; return their names and bytes."""
    out.mkdir(parents=True, exist_ok=True)
    git(repo, "format-patch", *EXPORT_OPTIONS, "-o", str(out), "upstream..HEAD", config=EXPORT_CONFIG)
    return read_series(out)


def build_patched_tree(project: Project, dest: Path, patch_files: list[Path] | None = None) -> None:
    label = f"{project.name} {project.version}"
    unpack_pristine(fetch_sdist(project), dest, label)
    apply_series(dest, project.patch_files() if patch_files is None else patch_files, label)


# ---- the worktree -------------------------------------------------------------------------------------------

APPLIED_STAMP = "series-applied.sha256"  # kept in fork/.git: the series fork/ was made from


def series_digest(series: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name, content in sorted(series.items()):
        digest.update(name.encode() + b"\0" + content + b"\0")
    return digest.hexdigest()


def unexported_work(project: Project) -> list[str]:
    """What fork/ holds that patches/ does not: one line per differing patch or uncommitted file."""
    problems = []
    status = git(project.fork, "status", "--porcelain").stdout.splitlines()
    problems += [f"uncommitted edit: {line[3:]}" for line in status]
    with tempfile.TemporaryDirectory() as tmp:
        exported = export_series(project.fork, Path(tmp))
    committed = read_series(project.patches)
    for name in sorted(set(exported) | set(committed)):
        if exported.get(name) != committed.get(name):
            state = (
                "not in patches/"
                if name not in committed
                else "missing from fork/"
                if name not in exported
                else "differs"
            )
            problems.append(f"commit {name}: {state}")
    return problems


def fork_state(project: Project) -> tuple[bool, str]:
    """Whether fork/ has no uncommitted edits, and the digest of the series its commits export to."""
    clean = not git(project.fork, "status", "--porcelain").stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        return clean, series_digest(export_series(project.fork, Path(tmp)))


def command_fork(project: Project, python: str | None) -> None:
    committed = series_digest(read_series(project.patches))
    if project.fork.exists():
        stamp = project.fork / ".git" / APPLIED_STAMP
        applied = stamp.read_text(encoding="utf-8").strip() if stamp.exists() else None
        clean, current = fork_state(project)
        if clean and current == committed:
            print("fork/ is up to date with patches/")
            return install(project, python)
        if applied == committed:
            print("fork/ holds work that is not exported yet; kept as it is (`make export` saves it):")
            print("\n".join(f"  {problem}" for problem in unexported_work(project)))
            return install(project, python)
        if not (clean and current == applied):
            raise SeriesError(
                "patches/ changed since fork/ was made, and fork/ holds work that is not exported ("
                + "; ".join(unexported_work(project))
                + "). Export it with `make export`, or move fork/ away, then run again"
            )
        # Otherwise fork/ is exactly the series it was made from and patches/ moved on: rebuild it.
    building = project.root / "fork.new"
    shutil.rmtree(building, ignore_errors=True)
    try:
        build_patched_tree(project, building)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    (building / ".git" / APPLIED_STAMP).write_text(committed + "\n", encoding="utf-8")
    shutil.rmtree(project.fork, ignore_errors=True)
    building.rename(project.fork)
    print(f"fork/ is {project.name} {project.version} with {len(project.patch_files())} patches applied")
    install(project, python)


def install(project: Project, python: str | None) -> None:
    """Install fork/ editable into the virtualenv of `python`, once per fork/."""
    if python is None:
        return
    stamp = project.fork / ".git" / "installed-into"
    if stamp.exists() and stamp.read_text(encoding="utf-8") == python:
        return
    result = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "-e", str(project.fork)], capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SeriesError(f"pip could not install fork/ into {python}: {result.stderr.strip().splitlines()[-1:]}")
    stamp.write_text(python, encoding="utf-8")
    print(f"installed fork/ editable into {python}")


def command_export(project: Project) -> None:
    if not project.fork.exists():
        raise SeriesError("there is no fork/ to export: run `make fork` first")
    dirty = git(project.fork, "status", "--porcelain").stdout.splitlines()
    if dirty:
        raise SeriesError(f"fork/ has uncommitted edits ({', '.join(line[3:] for line in dirty)}): commit them first")
    with tempfile.TemporaryDirectory() as tmp:
        exported = export_series(project.fork, Path(tmp))
    project.patches.mkdir(exist_ok=True)
    for stale in set(read_series(project.patches)) - set(exported):
        (project.patches / stale).unlink()
    for name, content in exported.items():
        (project.patches / name).write_bytes(content)
    (project.fork / ".git" / APPLIED_STAMP).write_text(series_digest(exported) + "\n", encoding="utf-8")
    print(f"exported {len(exported)} patches to patches/")


def command_check(project: Project) -> None:
    committed = read_series(project.patches)
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        build_patched_tree(project, tree)
        reexported = export_series(tree, Path(tmp) / "out")
    mismatched = [n for n in sorted(set(committed) | set(reexported)) if committed.get(n) != reexported.get(n)]
    if mismatched:
        raise SeriesError(
            f"the series does not round-trip: {', '.join(mismatched)} differ from their re-export. "
            "Fix the patch in fork/ and `make export` instead of editing patch files by hand"
        )
    if project.fork.exists():
        problems = unexported_work(project)
        if problems:
            raise SeriesError(
                "fork/ holds work that is not in patches/: " + "; ".join(problems) + ". Run `make export`"
            )
    print(f"ok: {len(committed)} patches apply to {project.name} {project.version} and round-trip byte for byte")


def command_wheel(project: Project, python: str, dist: Path) -> None:
    changed = git(project.root, "status", "--porcelain", "--", "patches")  # fails, rather than passes, outside a repo
    if changed.stdout.strip():
        raise SeriesError("patches/ has uncommitted changes: commit them, so the wheel is built from committed state")
    version = f"{project.version}+{project.local_version}" if project.local_version else project.version
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        build_patched_tree(project, tree)
        # The local version label is the build's business, not a patch's: the patches stay what upstream receives.
        # It goes into the distribution's metadata only (the wheel's name, `pip show`); `__version__` stays the
        # release, because checkpoints record it and Trainer warns on resume when it differs from the running one.
        setup = tree / "setup.py"
        text = setup.read_text(encoding="utf-8")
        old, new = f'version="{project.version}"', f'version="{version}"'
        if old not in text:
            raise SeriesError(f"cannot set the version label: setup.py has no {old}")
        setup.write_text(text.replace(old, new, 1), encoding="utf-8")
        dist.mkdir(parents=True, exist_ok=True)
        # Built with the virtualenv's own setuptools: no index needed once the sdist is cached.
        command = [python, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
        command += ["-w", str(dist), str(tree)]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            raise SeriesError(f"building the wheel failed: {result.stderr.strip().splitlines()[-1:]}")
    print(f"built dist/{project.name}-{version}-py3-none-any.whl")


def exit_status(command) -> int:
    """Runs `command`: 0 when it succeeds, 1 after printing a `SeriesError` as one line on stderr."""
    try:
        command()
    except SeriesError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["fork", "export", "check", "wheel"])
    parser.add_argument("--root", type=Path, default=PROJECT_ROOT, help="the project folder (holds upstream.toml)")
    parser.add_argument("--python", help="the virtualenv's python: fork installs into it, wheel builds with it")
    parser.add_argument("--find-links", help="download the sdist from this folder instead of the package index")
    args = parser.parse_args(argv)

    def run():
        require_tools()
        project = Project(args.root.resolve())
        if args.find_links is not None:
            fetch_sdist(project, args.find_links)
        if args.command == "fork":
            command_fork(project, args.python)
        elif args.command == "export":
            command_export(project)
        elif args.command == "check":
            command_check(project)
        else:
            command_wheel(project, args.python or sys.executable, project.root / "dist")

    return exit_status(run)


if __name__ == "__main__":
    sys.exit(main())
