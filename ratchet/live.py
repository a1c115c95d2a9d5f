"""One live line on stderr while the tests run, in a terminal only.

``ratchet: 120/456 tests, 0:42; running longest: tests/test_api.py::test_sync (12 s)``

The test process reports through a small plugin (:mod:`ratchet.live_plugin`);
this side reads its file a few times a second and redraws the line.  Off when
stderr is not a terminal (pre-commit captures hook output), with a
machine-readable ``--format``, with ``NO_PROGRESS`` set, and in tests that
call commands in-process.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

PLUGIN = "_ratchet_live"
_enabled = False


def enable(fmt: str = "text") -> None:
    """Show progress from now on, if stderr is a terminal and ``fmt`` is for people."""
    global _enabled
    _enabled = fmt == "text" and sys.stderr.isatty() and not os.environ.get("NO_PROGRESS")


def enabled() -> bool:
    return _enabled


def install_plugin(workdir: Path) -> Path:
    """The plugin copied into a folder of ``workdir`` (put it on the import path);
    the file it will write, in that folder too (``RATCHET_LIVE_FILE``)."""
    folder = workdir / "live"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(__file__).with_name("live_plugin.py"), folder / f"{PLUGIN}.py")
    return folder / "progress.json"


class Ticker:
    """Redraws the line from the plugin's file; :meth:`close` clears it."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.started = time.monotonic()
        self.shown = ""

    def tick(self) -> None:
        width = shutil.get_terminal_size((80, 24)).columns
        line = self.line(time.time())[: max(width - 1, 10)]
        if line != self.shown:
            sys.stderr.write("\r\x1b[K" + line)
            sys.stderr.flush()
            self.shown = line

    def line(self, now: float) -> str:
        elapsed = _clock(time.monotonic() - self.started)
        try:
            doc = json.loads(self.state.read_text("utf-8"))
        except (OSError, ValueError):
            return f"ratchet: starting the tests, {elapsed}"
        total, done = doc.get("total"), doc.get("done", 0)
        if total is None:
            return f"ratchet: collecting tests, {elapsed}"
        line = f"ratchet: {done}/{total} tests, {elapsed}"
        running, since = doc.get("running"), doc.get("since")
        if isinstance(running, str) and isinstance(since, (int, float)):
            line += f"; running longest: {running} ({max(now - since, 0):.0f} s)"
        return line

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"
