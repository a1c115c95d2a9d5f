"""Parsed baselines kept per clone, by the digest of their text.

Every check parses the committed baseline, usually the very text it parsed
on the commit before.  At 20,000 entries that parse is 0.3 s, the largest
part of the hook's own time; unpickling the parsed object is a fifth of it.
The key covers the text and the source of the modules that define and
parse a baseline, so a cache written by other code is never used.  A cache
that cannot be read or written is a miss, never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import pickle
from pathlib import Path

from ratchet import baseline, numbers, state
from ratchet.baseline import Baseline, loads_bytes
from ratchet.state import StateError

NAME = "baseline-cache.pickle"
KEEP = 2  # HEAD's text and the staged one, when they differ.

_code_digest: bytes | None = None


def _key(raw: bytes) -> bytes:
    global _code_digest
    if _code_digest is None:
        code = hashlib.blake2b(digest_size=16)
        for module in (baseline, numbers):
            code.update(Path(str(module.__file__)).read_bytes())
        _code_digest = code.digest()
    return hashlib.blake2b(_code_digest + raw, digest_size=16).digest()


def load(git_dir: Path, raw: bytes, source: str) -> Baseline:
    """``raw`` parsed as :func:`ratchet.baseline.loads_bytes` parses it."""
    key = _key(raw)
    kept = _read(git_dir)
    found = kept.get(key)
    if isinstance(found, Baseline):
        return found
    parsed = loads_bytes(raw, source)  # Bad text raises here, and is not kept.
    kept = dict(list(kept.items())[-(KEEP - 1) :])
    kept[key] = parsed
    with contextlib.suppress(StateError):  # A cache: not keeping it changes nothing.
        state.write(git_dir, NAME, pickle.dumps(kept, protocol=pickle.HIGHEST_PROTOCOL))
    return parsed


def _read(git_dir: Path) -> dict[bytes, object]:
    data = state.read(git_dir, NAME)
    if data is None:
        return {}
    try:
        kept = pickle.loads(data)
    except Exception:  # Damaged or from other code: a miss.
        return {}
    return kept if isinstance(kept, dict) else {}
