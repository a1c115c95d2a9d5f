"""The record of HEAD's uncovered lines, where there can be none."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ratchet import lastrun
from ratchet.config import load_config


def test_a_repository_without_a_commit_has_no_record_of_head(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert lastrun.missing_at_head(tmp_path, load_config(tmp_path)) is None


def test_a_folder_outside_any_repository_has_no_record_of_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # git finds no repository at or above the ceiling: an error, read as none.
    folder = tmp_path / "plain"
    folder.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    assert lastrun.missing_at_head(folder, load_config(folder)) is None
