"""A selected check's first test process, started before the rest is read.

Starting Python, coverage.py and pytest and loading the project's conftest
files does not depend on which tests run: the process does that while ratchet
reads the map and makes the plan, then waits (the plugin, at session start)
until it is given its spec and told go on a pipe.  A closed pipe without go,
or ratchet gone, makes it end without running anything.

This module is small and imports little, so that the process starts before
the session's own imports (the map, the plan, the block shapes: 20 ms).
"""

from __future__ import annotations

import contextlib
import json
import os
import zlib
from collections.abc import Mapping
from pathlib import Path

from ratchet import runner, state
from ratchet.state import StateError
from ratchet.workspace import Workspace

PLUGIN = "_ratchet_testmap"  # The plugin's LOADED_AS: only under this name does it record.
GO = "RATCHET_TESTMAP_GO"  # The descriptor an early test process waits on (plugin.py).
# The descriptor it says "done" on once its map is written (plugin.py): ratchet
# reads and composes while pytest and the interpreter wind down.
DONE = "RATCHET_TESTMAP_DONE"


class Pending:
    """A test process started early, waiting for its spec."""

    def __init__(
        self,
        started: runner.StartedRun,
        write: int,
        outdir: Path,
        spec_path: Path,
        git_dir: Path,
    ) -> None:
        self.started = started
        self.write = write
        self.outdir = outdir
        self.spec_path = spec_path
        self.git_dir = git_dir

    def go(self, spec: Mapping[str, object] | None) -> runner.StartedRun:
        """Give the process its spec (None: the whole suite) and let it run."""
        self.spec_path.write_text(json.dumps(spec), "utf-8")
        # Gone already (a conftest that failed to import): finish() tells why.
        with contextlib.suppress(BrokenPipeError):
            os.write(self.write, b"go\n")
        os.close(self.write)
        return self.started

    def abandon(self) -> None:
        """Stop the process: no run of this check needs it."""
        with contextlib.suppress(OSError):  # Unless stopped first, it ends on seeing this.
            os.close(self.write)
        self.started.abandon()


def start(ws: Workspace, workdir: Path, git_dir: Path) -> Pending | None:
    """The first round's test process, started and waiting for its go; None
    where it cannot wait (Windows) or ``early-start = false``: then the
    process starts once the plan needs it."""
    if os.name == "nt":  # pragma: no cover - no descriptors to pass on Windows
        return None
    if not ws.config.early_start:
        return None
    here, outdir, env = round_folder(ws, workdir, git_dir, 1)
    spec_path = here / "select.json"
    env["RATCHET_TESTMAP_SELECT"] = str(spec_path)
    read, write = os.pipe()
    done_read, done_write = os.pipe()
    try:
        env[GO] = str(read)
        env[DONE] = str(done_write)
        fds = (read, done_write)
        started = runner.start_tests(ws, here, ["-p", PLUGIN], env, pass_fds=fds)
    except BaseException:
        os.close(write)
        os.close(done_read)
        raise
    finally:
        os.close(read)
        os.close(done_write)
    started.ready_fd = done_read
    return Pending(started, write, outdir, spec_path, git_dir)


def round_folder(
    ws: Workspace, workdir: Path, git_dir: Path, number: int
) -> tuple[Path, Path, dict[str, str]]:
    """Round ``number``'s folder, its plugin output folder and its variables."""
    here = workdir / f"round{number}"
    outdir = here / "map"
    env = plugin_env(plugin_folder(git_dir, workdir), ws.root, outdir, ws.env)
    if ws.snapshot:
        env["RATCHET_TESTMAP_FORBID"] = os.path.realpath(ws.repo)
    return here, outdir, env


def plugin_folder(git_dir: Path, workdir: Path) -> Path:
    """A folder holding the plugin as ``_ratchet_testmap.py``.

    Kept in the git directory under a checksum of its text, so that its
    bytecode (pytest rewrites a ``-p`` plugin's assertions, which costs a
    run a tenth of a second) is cached like the project's; in ``workdir``
    when the git directory cannot be written.
    """
    source = Path(__file__).with_name("plugin.py").read_bytes()
    # Names a version's folder only (the text is compared whole below): a
    # checksum spares the hook hashlib's import.
    digest = f"{zlib.crc32(source):08x}{len(source):x}"
    try:
        folder = state.folder(git_dir) / f"plugin-{digest}"
        target = folder / f"{PLUGIN}.py"
        if not target.is_file() or target.read_bytes() != source:
            folder.mkdir(exist_ok=True)
            tmp = folder / f".{PLUGIN}.{os.getpid()}"
            tmp.write_bytes(source)
            os.replace(tmp, target)
        return folder
    except (OSError, StateError):
        folder = workdir / "plugin"
        folder.mkdir(exist_ok=True)
        (folder / f"{PLUGIN}.py").write_bytes(source)
        return folder


def plugin_env(
    plugin_dir: Path, root: Path, outdir: Path, base: Mapping[str, str]
) -> dict[str, str]:
    outdir.mkdir(parents=True, exist_ok=True)
    path = base.get("PYTHONPATH")
    return {
        "PYTHONPATH": str(plugin_dir) + (os.pathsep + path if path else ""),
        "RATCHET_TESTMAP_OUT": str(outdir),
        "RATCHET_TESTMAP_ROOT": os.path.realpath(root),
        "RATCHET_TESTMAP_DATA": str(outdir.parent),
    }
