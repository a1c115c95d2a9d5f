"""Parsed baselines kept per clone, by the digest of their text.

Every check parses the committed baseline, usually the very text it parsed
on the commit before.  At 20,000 entries that parse is 0.3 s, the largest
part of the hook's own time; unpickling the parsed object is a fifth of it.
The key covers the text and the source of the modules that define and
parse a baseline, so a cache written by other code is never used.  A cache
that cannot be read or written is a miss, never an error.  Each text is a
file of its own: a check reads only the one it needs (one file of both
doubled the read, 30 ms at 20,000 entries, on most checks).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import re
from pathlib import Path

from ratchet import baseline, numbers, state
from ratchet.baseline import Baseline, loads_bytes
from ratchet.state import StateError

FOLDER = "baseline-cache"  # One file per text, named by its key (hex).
KEEP = 2  # HEAD's text and the staged one, when they differ.
_OLD_NAME = "baseline-cache.pickle"  # Before: every kept text in one file, read whole.
_NAME = re.compile(r"[0-9a-f]{32}")

_code_digest: bytes | None = None


def _key(raw: bytes) -> str:
    global _code_digest
    if _code_digest is None:
        code = hashlib.blake2b(digest_size=16)
        for module in (baseline, numbers):
            code.update(Path(str(module.__file__)).read_bytes())
        _code_digest = code.digest()
    return hashlib.blake2b(_code_digest + raw, digest_size=16).hexdigest()


def load(git_dir: Path, raw: bytes, source: str) -> Baseline:
    """``raw`` parsed as :func:`ratchet.baseline.loads_bytes` parses it."""
    key = _key(raw)
    found = _read(git_dir, key)
    if found is not None:
        return found
    parsed = loads_bytes(raw, source)  # Bad text raises here, and is not kept.
    # A cache: not keeping it, or not forgetting older texts, changes nothing.
    with contextlib.suppress(StateError, OSError):
        state.write(git_dir, f"{FOLDER}/{key}", pickle.dumps(parsed, pickle.HIGHEST_PROTOCOL))
        _forget_all_but(git_dir, key)
    return parsed


def _read(git_dir: Path, key: str) -> Baseline | None:
    """The kept parse of the text with ``key``; its file's time is set to
    now, so that the texts kept are the ones read last."""
    data = state.read(git_dir, f"{FOLDER}/{key}")
    if data is None:
        return None
    try:
        found = pickle.loads(data)
    except Exception:  # Damaged or from other code: a miss.
        return None
    if not isinstance(found, Baseline):
        return None
    with contextlib.suppress(OSError):
        os.utime(state.path(git_dir, f"{FOLDER}/{key}"))
    return found


def _forget_all_but(git_dir: Path, key: str) -> None:
    """Keep ``key``'s and the texts read last, :data:`KEEP` in all."""
    folder = state.path(git_dir, FOLDER)
    others = []
    for name in os.listdir(folder):
        if _NAME.fullmatch(name) and name != key:
            with contextlib.suppress(OSError):
                others.append((os.stat(folder / name).st_mtime_ns, name))
    for _, name in sorted(others, reverse=True)[KEEP - 1 :]:
        state.remove(git_dir, f"{FOLDER}/{name}")
    state.remove(git_dir, _OLD_NAME)
