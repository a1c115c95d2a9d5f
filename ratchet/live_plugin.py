"""A pytest plugin that tells ratchet how far the test run is.

Copied next to the test run (the project's interpreter need not have ratchet
installed) and loaded with ``-p``.  In the process that reports results (the
only one, or pytest-xdist's controller) it writes a small JSON file when a
test starts: tests done, the total, and the test running longest.
Nothing else: it changes no test, output or outcome.
"""

from __future__ import annotations

import json
import os
import time

import pytest

_FILE = os.environ.get("RATCHET_LIVE_FILE", "")
_EVERY = 0.2  # Seconds between writes.


class _Live:
    def __init__(self, path: str) -> None:
        self.path = path
        self.total: int | None = None
        self.done = 0
        self.running: dict[str, float] = {}
        self.written = 0.0

    def write(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.written < _EVERY:
            return
        self.written = now
        oldest = min(self.running.items(), key=lambda item: item[1], default=None)
        doc = {
            "total": self.total,
            "done": self.done,
            "running": oldest[0] if oldest else None,
            "since": oldest[1] if oldest else None,
        }
        part = self.path + ".part"
        try:
            with open(part, "w", encoding="utf-8") as f:
                json.dump(doc, f)
            os.replace(part, self.path)
        except OSError:
            pass  # Progress is a courtesy; the run goes on without it.

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.total = len(session.items)
        self.write(force=True)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: object, ids: list[str]) -> None:
        if self.total is None:
            self.total = len(ids)
            self.write(force=True)

    def pytest_runtest_logstart(self, nodeid: str, location: object) -> None:
        self.running[nodeid] = time.time()
        # Always: the test that starts now may be the one that takes minutes.
        self.write(force=True)

    def pytest_runtest_logfinish(self, nodeid: str, location: object) -> None:
        if self.running.pop(nodeid, None) is not None:
            self.done += 1
        self.write(force=self.done == self.total)

    def pytest_sessionfinish(self) -> None:
        self.write(force=True)


def pytest_configure(config: pytest.Config) -> None:
    if _FILE and not hasattr(config, "workerinput"):  # Not in pytest-xdist's workers.
        config.pluginmanager.register(_Live(_FILE), "ratchet-live")
