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
