"""Fixtures of every tooling test: offline, without the developer's git or pip config, and a fake project."""

import os
from pathlib import Path

import pytest
from fake_project import SDIST, fake_sdist, write_pin


@pytest.fixture(autouse=True)
def offline_and_neutral(monkeypatch, tmp_path):
    """No pip index, no pip or git config of the developer's; git never looks above tmp_path nor waits on an editor."""
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "empty.gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setenv("GIT_EDITOR", "false")


@pytest.fixture
def root(tmp_path) -> Path:
    """A project pinned to the fake sdist, which sits in its cache; patches/ is empty."""
    root = tmp_path / "project"
    sdist = fake_sdist(root / ".cache" / "sdist" / SDIST)
    write_pin(root, sdist)
    (root / "patches").mkdir()
    return root
