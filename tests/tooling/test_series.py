"""tools/series.py driven through main() against a throwaway project: a fake transformers 5.24.0 sdist, real git
and real pip.

Every test runs offline: the sdist sits in the temporary project's cache (or is looked for in a local folder) and pip
may not reach an index. None reads the developer's git or pip config.
"""

from __future__ import annotations

import shutil
import sys
import zipfile
from pathlib import Path

import pytest


sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import series  # noqa: E402
from fake_project import (  # noqa: E402
    FAKE_SOURCES,
    FIRST_EDIT,
    INIT,
    SDIST,
    TEAMMATE_EDIT,
    commit_edit,
    error_line,
    git,
)


# Settings a developer may well have that would change what the tool writes, or make it fail, were they not pinned.
HOSTILE_GIT_CONFIG = """\
[core]
    abbrev = 7
    quotePath = false
[diff]
    noprefix = true
    mnemonicPrefix = true
    algorithm = histogram
    context = 5
    renames = copies
    orderFile = {order_file}
[format]
    signature = x
    numbered = true
    signOff = true
    thread = shallow
    subjectPrefix = HOSTILE
    headers = X-Hostile: yes
    to = someone@example.com
    cc = someone@example.com
    from = true
    attach = true
    notes = true
[apply]
    whitespace = fix
[commit]
    gpgSign = true
[tag]
    gpgSign = true
"""


# ---- helpers ------------------------------------------------------------------------------------------------


def push_teammate_patch(root: Path) -> None:
    """patches/ moves on under fork/: a new patch lands in patches/, made elsewhere; fork/ stays as it was."""
    fork = root / "fork"
    commit_edit(fork, TEAMMATE_EDIT)
    git(fork, "format-patch", "--quiet", "-o", str(root / "patches"), "--start-number=2", "HEAD~1")
    git(fork, "reset", "--quiet", "--hard", "HEAD~1")


def series_main(root: Path, command: str, *options: str) -> int:
    return series.main([command, "--root", str(root), *options])


def use_hostile_git_config(monkeypatch, tmp_path: Path) -> None:
    """From here on git reads HOSTILE_GIT_CONFIG, whose order file lists setup.py first, as the user's config."""
    order_file = tmp_path / "order"
    order_file.write_text("setup.py\n", encoding="utf-8")
    hostile = tmp_path / "hostile.gitconfig"
    hostile.write_text(HOSTILE_GIT_CONFIG.format(order_file=order_file), encoding="utf-8")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(hostile))


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` by relative path and, in a git repository, its commits: to prove a command left it
    alone. (Git's other internals are left out: `git status` may rewrite the index without changing a thing.)"""
    files = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    files = {name: content for name, content in files.items() if not name.startswith(".git/")}
    if (folder / ".git").is_dir():
        files[".git commits"] = git(folder, "log", "--all", "--format=%H %D").encode()
    return files


# ---- fixtures -----------------------------------------------------------------------------------------------


@pytest.fixture
def forked(root) -> Path:
    """The project with one exported patch, and fork/ holding exactly that patch."""
    assert series_main(root, "fork") == 0
    commit_edit(root / "fork", FIRST_EDIT)
    assert series_main(root, "export") == 0
    assert [p.name for p in (root / "patches").iterdir()] == ["0001-Greet-with-an-f-string.patch"]
    return root


@pytest.fixture
def varied(forked) -> Path:
    """forked, plus an exported commit that those settings would change: two files, trailing whitespace, a note."""
    fork = forked / "fork"
    for name in ("pyproject.toml", "setup.py"):
        with (fork / name).open("a", encoding="utf-8") as f:
            f.write("# trailing whitespace follows   \n")
    git(fork, "commit", "--quiet", "--all", "-m", "Touch two files")
    git(fork, "notes", "add", "-m", "a note", "HEAD")
    assert series_main(forked, "export") == 0
    return forked


@pytest.fixture
def committed(forked) -> Path:
    """The project as a git repository with its patches committed."""
    (forked / ".gitignore").write_text("/.cache/\n/fork/\n/dist/\n", encoding="utf-8")
    git(forked, "init", "--quiet")
    git(forked, "add", ".")
    git(forked, "commit", "--quiet", "-m", "project")
    return forked


# ---- fork, export, check ------------------------------------------------------------------------------------


def test_fork_unpacks_pristine_sdist_tagged_upstream_and_applies_patches(forked, capsys):
    shutil.rmtree(forked / "fork")
    assert series_main(forked, "fork") == 0
    fork = forked / "fork"
    assert git(fork, "tag", "--list") == "upstream\n"
    assert git(fork, "show", f"upstream:{INIT}") == FAKE_SOURCES[INIT]
    assert git(fork, "log", "--format=%s", "upstream..HEAD") == "Greet with an f-string\n"
    assert 'return f"hello {name}"' in (fork / INIT).read_text(encoding="utf-8")
    assert not git(fork, "status", "--porcelain")
    assert not (forked / "fork.new").exists()
    assert "fork/ is transformers 5.24.0 with 1 patches applied" in capsys.readouterr().out


def test_export_then_check_round_trips(forked, capsys):
    exported = series.read_series(forked / "patches")
    assert series_main(forked, "check") == 0
    assert "ok: 1 patches apply to transformers 5.24.0" in capsys.readouterr().out
    assert series.read_series(forked / "patches") == exported


def test_export_bytes_do_not_depend_on_user_git_config(varied, monkeypatch, tmp_path):
    neutral = series.read_series(varied / "patches")
    use_hostile_git_config(monkeypatch, tmp_path)
    assert git(varied / "fork", "config", "diff.noprefix") == "true\n"  # the hostile settings are in force

    shutil.rmtree(varied / "patches")
    assert series_main(varied, "export") == 0
    assert series.read_series(varied / "patches") == neutral


def test_fork_and_check_do_not_depend_on_user_git_config(varied, monkeypatch, tmp_path):
    use_hostile_git_config(monkeypatch, tmp_path)
    shutil.rmtree(varied / "fork")
    assert series_main(varied, "fork") == 0
    assert series_main(varied, "check") == 0


def test_check_fails_naming_a_patch_edited_by_one_byte(forked, capsys):
    patch = forked / "patches" / "0001-Greet-with-an-f-string.patch"
    content = patch.read_bytes()
    assert content.count(b" 1 file changed") == 1
    patch.write_bytes(content.replace(b" 1 file changed", b" 2 file changed"))  # git am ignores the diffstat

    assert series_main(forked, "check") == 1
    line = error_line(capsys)
    assert "does not round-trip" in line and patch.name in line


def test_check_fails_naming_an_unexported_commit(forked, capsys):
    commit_edit(forked / "fork", TEAMMATE_EDIT)
    assert series_main(forked, "check") == 1
    assert "commit 0002-Strip-names.patch: not in patches/" in error_line(capsys)


def test_check_fails_naming_a_file_with_an_uncommitted_edit(forked, capsys):
    init = forked / "fork" / INIT
    init.write_text(init.read_text(encoding="utf-8") + "# scratch\n", encoding="utf-8")
    assert series_main(forked, "check") == 1
    assert f"uncommitted edit: {INIT}" in error_line(capsys)


@pytest.mark.parametrize("command", ["fork", "check"])
def test_patch_that_no_longer_applies_is_named_with_its_file_and_leaves_no_fork(forked, capsys, command):
    shutil.rmtree(forked / "fork")
    patch = forked / "patches" / "0001-Greet-with-an-f-string.patch"
    content = patch.read_bytes()
    patch.write_bytes(content.replace(b'-    return "hello " + name', b'-    return "howdy " + name'))

    assert series_main(forked, command) == 1
    line = error_line(capsys)
    assert f"{patch.name} no longer applies to transformers 5.24.0: {INIT}." in line
    assert not (forked / "fork").exists()
    assert not (forked / "fork.new").exists()


def test_fork_refuses_to_discard_unexported_work_when_patches_changed(forked, capsys):
    push_teammate_patch(forked)
    commit_edit(forked / "fork", ("hello", "hi", "Say hi"))
    before = snapshot(forked / "fork")

    assert series_main(forked, "fork") == 1
    line = error_line(capsys)
    assert "patches/ changed since fork/ was made" in line and "commit 0002-Say-hi.patch" in line
    assert snapshot(forked / "fork") == before
    assert not (forked / "fork.new").exists()


def test_fork_keeps_unexported_work_when_patches_did_not_change(forked, capsys):
    commit_edit(forked / "fork", TEAMMATE_EDIT)
    before = snapshot(forked / "fork")

    assert series_main(forked, "fork") == 0
    assert "0002-Strip-names.patch: not in patches/" in capsys.readouterr().out
    assert snapshot(forked / "fork") == before


def test_fork_rebuilds_a_clean_fork_when_patches_moved_on(forked):
    push_teammate_patch(forked)
    assert series_main(forked, "fork") == 0
    fork = forked / "fork"
    assert git(fork, "log", "--format=%s", "upstream..HEAD") == "Strip names\nGreet with an f-string\n"
    assert "return name.strip()" in (fork / INIT).read_text(encoding="utf-8")
    assert not git(fork, "status", "--porcelain")


# ---- the pinned sdist ---------------------------------------------------------------------------------------


def test_cached_sdist_with_wrong_sha256_is_refused_and_left_alone(root, capsys):
    cached = root / ".cache" / "sdist" / SDIST
    cached.write_bytes(cached.read_bytes()[:100])  # as a cut-short download leaves it
    pinned = series.Project(root).sha256
    before = snapshot(root)

    assert series_main(root, "fork") == 1
    line = error_line(capsys)
    assert str(cached) in line and f"upstream.toml pins {pinned}" in line
    assert snapshot(root) == before


def test_failed_download_is_one_line_and_caches_nothing(root, tmp_path, capsys):
    (root / ".cache" / "sdist" / SDIST).unlink()
    empty = tmp_path / "empty-index"
    empty.mkdir()

    assert series_main(root, "fork", "--find-links", str(empty)) == 1
    assert error_line(capsys).startswith(f"error: could not download {SDIST} (")
    assert [p for p in (root / ".cache").rglob("*") if not p.is_dir()] == []
    assert not (root / "fork").exists()


# ---- tools --------------------------------------------------------------------------------------------------


def test_require_tools_refuses_python_older_than_3_11():
    with pytest.raises(series.SeriesError, match=r"Python 3\.11 or newer is needed, this is 3\.10"):
        series.require_tools((3, 10))


def test_require_tools_refuses_when_git_is_not_on_path(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools-here"))
    with pytest.raises(series.SeriesError, match="git is not on PATH"):
        series.require_tools()


# ---- wheel --------------------------------------------------------------------------------------------------


def test_wheel_labels_its_metadata_but_keeps_the_release_as_version_so_checkpoints_match_stock(committed, capsys):
    # Checkpoints record `transformers.__version__` and Trainer warns on resume when it differs from the running one:
    # the label belongs in the distribution's metadata (what pip shows), never in `__version__`.
    assert series_main(committed, "wheel", "--python", sys.executable) == 0
    wheel = committed / "dist" / "transformers-5.24.0+time.1-py3-none-any.whl"
    assert f"built dist/{wheel.name}" in capsys.readouterr().out
    with zipfile.ZipFile(wheel) as archive:
        init = archive.read("transformers/__init__.py").decode()
        metadata = archive.read("transformers-5.24.0+time.1.dist-info/METADATA").decode()
    assert "\nVersion: 5.24.0+time.1\n" in metadata
    assert init.startswith('__version__ = "5.24.0"\n')
    assert 'return f"hello {name}"' in init


def test_wheel_refuses_a_project_that_is_not_a_git_repository(forked, capsys):
    assert series_main(forked, "wheel", "--python", sys.executable) == 1
    assert "not a git repository" in error_line(capsys)
    assert not (forked / "dist").exists()


def test_wheel_refuses_uncommitted_patches(committed, capsys):
    patch = committed / "patches" / "0001-Greet-with-an-f-string.patch"
    patch.write_bytes(patch.read_bytes() + b"\n")
    assert series_main(committed, "wheel", "--python", sys.executable) == 1
    assert "patches/ has uncommitted changes" in error_line(capsys)
    assert not (committed / "dist").exists()


def test_three_way_merge_applies_a_patch_whose_context_moved_in_another_release(forked, tmp_path):
    # Another release: the same function, with a line added right above it (the patch's context no longer matches)
    other = tmp_path / "other"
    series.unpack_pristine(forked / ".cache" / "sdist" / SDIST, other, "transformers (other release)")
    init = other / INIT
    init.write_text(init.read_text(encoding="utf-8").replace("def greet", "# greets\ndef greet"), encoding="utf-8")
    git(other, "commit", "--quiet", "--all", "-m", "the other release")
    patches = sorted((forked / "patches").glob("*.patch"))

    with pytest.raises(series.SeriesError, match="no longer applies"):
        series.apply_series(other, patches, "the other release")
    # What `make matrix` does: fetch the pinned release's objects, then merge
    git(other, "fetch", "--quiet", str(forked / "fork"), "upstream")
    series.apply_series(other, patches, "the other release", three_way=True)
    merged = init.read_text(encoding="utf-8")
    assert '# greets\ndef greet(name):\n    return f"hello {name}"' in merged
