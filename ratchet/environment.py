"""The project's own Python environment, and a clean environment to run it in.

The tests must run where the project's dependencies live, not in the hook's
isolated virtualenv that pre-commit puts first on PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ratchet.errors import RatchetError

# Variables that describe a run ratchet itself may be part of (our own test
# suite runs ratchet inside pytest-xdist workers and under pytest-cov), not
# the project's run: inherited, they would make its pytest act as a worker.
_INHERITED = ("PYTEST_XDIST_", "RATCHET_", "COV_CORE_")

_BIN = "Scripts" if os.name == "nt" else "bin"
_EXE = "python.exe" if os.name == "nt" else "python"


def _venv_python(venv: Path) -> Path | None:
    candidate = venv / _BIN / _EXE
    return candidate if candidate.exists() else None


def _own_bin_dirs() -> set[str]:
    """Folders of the environment ratchet itself runs in."""
    dirs = {os.path.normcase(os.path.join(sys.prefix, _BIN))}
    if os.environ.get("PRE_COMMIT") == "1" and os.environ.get("VIRTUAL_ENV"):
        dirs.add(os.path.normcase(os.path.join(os.environ["VIRTUAL_ENV"], _BIN)))
    return dirs


def _without_own_env(search_path: str) -> str:
    own = _own_bin_dirs()
    parts = search_path.split(os.pathsep)
    return os.pathsep.join(p for p in parts if os.path.normcase(p) not in own)


def _in_own_env_only() -> bool:
    """True when the active virtualenv is the hook's own (pre-commit's)."""
    venv = os.environ.get("VIRTUAL_ENV")
    if not venv:
        return True
    same = os.path.normcase(os.path.realpath(venv)) == os.path.normcase(
        os.path.realpath(sys.prefix)
    )
    return same and os.environ.get("PRE_COMMIT") == "1"


def find_python(root: Path, configured: str | None) -> tuple[Path, str]:
    """The project's interpreter and how it was found.

    In order: ``[tool.ratchet] python``; the repository's ``.venv`` or
    ``venv``; the active virtualenv unless it is the hook's own; ``python``
    on PATH with the hook's own environment removed from PATH.
    """
    if configured:
        path = Path(configured).expanduser()
        if not path.is_absolute():
            path = root / path
        if not path.exists():
            raise RatchetError(
                f"[tool.ratchet] python = {configured!r} does not exist",
                hint="point it at the project's interpreter",
            )
        return path, "[tool.ratchet] python"
    for name in (".venv", "venv"):
        found = _venv_python(root / name)
        if found:
            return found, f"the repository's {name}"
    venv = os.environ.get("VIRTUAL_ENV")
    if venv and not _in_own_env_only():
        found = _venv_python(Path(venv))
        if found:
            return found, "the active virtualenv"
    search = _without_own_env(os.environ.get("PATH", ""))
    for name in ("python", "python3"):
        which = shutil.which(name, path=search)
        if which:
            return Path(which), f"{name} on PATH"
    raise RatchetError(
        "no Python interpreter found for the project",
        hint="create a .venv in the repository or set [tool.ratchet] python",
    )


def clean_env(root: Path, python: Path, base: Mapping[str, str]) -> dict[str, str]:
    """The environment the project's tests run in.

    git's hook variables are removed, the hook's own virtualenv is taken off
    PATH, and ``VIRTUAL_ENV`` names the project's environment (if it is one).
    """
    from ratchet.git import scrubbed_env

    env = {k: v for k, v in scrubbed_env(root, base).items() if not k.startswith(_INHERITED)}
    env["PATH"] = _without_own_env(env.get("PATH", ""))
    env.pop("PYTHONHOME", None)
    env.pop("VIRTUAL_ENV", None)
    venv = python.parent.parent
    if (venv / "pyvenv.cfg").exists():
        env["VIRTUAL_ENV"] = str(venv)
        env["PATH"] = str(python.parent) + os.pathsep + env["PATH"]
    return env


@dataclass(frozen=True)
class Probe:
    coverage_version: str | None
    missing_modules: tuple[str, ...]
    python_version: str = ""
    distributions: str = ""  # A digest of the installed distributions and versions.
    sys_path: tuple[str, ...] = ()  # Where its imports look, '' (the folder) left out.
    ratchet_version: str = ""  # coverage-ratchet installed there too ("" if not).


PROBE_MARK = "ratchet-probe 1"
PROBE_TIMEOUT = 120.0  # Seconds; a cold interpreter on a busy machine takes a few.

_PROBE = """
import importlib.util, sys
print("ratchet-probe 1")
try:
    import coverage
    print(coverage.__version__)
except ImportError:
    print("")
print(" ".join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))
print(sys.version.replace("\\n", " "))
import hashlib, importlib.metadata as md
names = sorted(f"{d.metadata['Name']}=={d.version}" for d in md.distributions())
print(hashlib.sha256("\\n".join(names).encode()).hexdigest()[:16])
print("\\0".join(p for p in sys.path if p))
try:
    print(md.version("coverage-ratchet"))
except md.PackageNotFoundError:
    print("")
"""


def probe(python: Path, env: Mapping[str, str], root: Path, modules: list[str]) -> Probe:
    """Which coverage.py the project has, and which of ``modules`` it lacks."""
    try:
        proc = subprocess.run(
            [str(python), "-c", _PROBE, *modules],
            env=dict(env),
            cwd=root,
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
            timeout=PROBE_TIMEOUT,
        )
    except OSError as e:
        raise RatchetError(f"cannot run the project's Python {python}: {e}") from None
    except subprocess.TimeoutExpired:
        raise RatchetError(
            f"the project's Python {python} did not answer within {PROBE_TIMEOUT:g} s",
            hint="check that it starts: run it with -c pass",
        ) from None
    if proc.returncode != 0:
        raise RatchetError(
            f"the project's Python {python} does not start: {proc.stderr.strip()[-300:]}"
        )
    said = proc.stdout.splitlines()
    if not said or said[0] != PROBE_MARK:
        first = said[0][:60] if said else ""
        raise RatchetError(
            f"{python} is not a Python interpreter (it answered {first!r})",
            hint="point [tool.ratchet] python at the project's interpreter",
        )
    lines = [*said[1:], "", "", "", "", "", ""]
    return Probe(
        lines[0].strip() or None,
        tuple(lines[1].split()),
        lines[2],
        lines[3],
        tuple(p for p in lines[4].split("\0") if p),
        lines[5].strip(),
    )


# -- the probe, remembered -----------------------------------------------------------

# What decides the probe's answer besides the interpreter and the folders it
# imports from: variables that move its import path or its site folders.
_PROBE_VARIABLES = ("PATH", "HOME", "VIRTUAL_ENV", "CONDA_PREFIX")


def probe_cached(
    python: Path, env: Mapping[str, str], root: Path, modules: list[str], cache: Path | None
) -> Probe:
    """:func:`probe`, answered from ``cache`` when nothing it depends on changed.

    Starting the project's interpreter to ask it costs a check about 0.15 s.
    The answer is kept with what decides it: the interpreter (its file's
    size and time), the variables that move its import path, the modules
    asked about, and the listing of every folder on its import path
    (installing, upgrading or removing a distribution adds or renames a
    ``.dist-info`` folder there; a ``.pth`` file is listed too).  Any
    difference, or an unreadable cache, probes again.
    """
    import json

    # Kept whole, not as digests: hashlib's import alone cost the hook 2 ms
    # on its way to starting the tests, and the text is a few kilobytes.
    def listing(paths: tuple[str, ...]) -> str:
        parts = []
        for path in paths:
            try:
                names = sorted(os.listdir(path)) if os.path.isdir(path) else []
                info = os.stat(path)
                parts.append(f"{path}\0{info.st_size}:{info.st_mtime_ns}\0" + "\0".join(names))
            except OSError:
                parts.append(f"{path}\0absent")
        return "\1".join(parts)

    if cache is None:
        return probe(python, env, root, modules)
    # The interpreter's file is listed as a folder on the path is: its size and time.
    parts = [listing((str(python),)), str(root), *modules]
    parts += [f"{k}={v}" for k, v in sorted(env.items()) if k.startswith("PYTHON")]
    parts += [f"{k}={env.get(k, '')}" for k in _PROBE_VARIABLES]
    now = "\0".join(parts)
    try:
        doc = json.loads(cache.read_text("utf-8"))
        if doc["key"] == now:
            raw = doc["probe"]
            raw["missing_modules"] = tuple(raw["missing_modules"])
            raw["sys_path"] = tuple(raw["sys_path"])
            found = Probe(**raw)
            if doc["listing"] == listing(found.sys_path):
                return found
    except (OSError, ValueError, KeyError, TypeError):
        pass
    found = probe(python, env, root, modules)
    from dataclasses import asdict

    doc = {"key": now, "probe": asdict(found), "listing": listing(found.sys_path)}
    tmp = cache.with_name(f".{cache.name}.{os.getpid()}")
    try:
        tmp.write_text(json.dumps(doc), "utf-8")
        os.replace(tmp, cache)
    except OSError:
        tmp.unlink(missing_ok=True)  # A cache: the next check probes again.
    return found
