"""Sorted line numbers (or flat arcs) in a few bytes, and read back lazily.

The test map keeps every line set this way, and every file's uncovered
lines; ``last-run/`` keeps the same bytes.  A check reads every file's
numbers but looks at the lines of only the files it judges worse, so
:class:`Lines` decodes on first use.
"""

from __future__ import annotations

import zlib
from array import array
from collections.abc import Iterator, Sequence
from itertools import accumulate
from operator import sub
from typing import overload


def encode(values: Sequence[int]) -> bytes:
    """Lines (sorted ints) or arcs (flattened pairs, sorted), delta-coded.

    The deltas go into the narrowest machine array that holds them, compressed
    when long: every step runs in C, which matters for a map of many thousand
    sets rewritten after each selected run."""
    if isinstance(values, Lines):
        return values.data
    if not values:
        return b"b"
    deltas = [values[0], *map(sub, values[1:], values[:-1])]
    low, high = min(deltas), max(deltas)
    code = "b" if -128 <= low <= high < 128 else "h" if -32768 <= low <= high < 32768 else "q"
    raw = array(code, deltas).tobytes()
    if len(raw) > 96:
        return b"z" + code.encode() + zlib.compress(raw, 1)
    return code.encode() + raw


def canonical(raw: bytes) -> bytes:
    """:func:`encode`'s bytes from an uncompressed encoding (a type code and
    its array of deltas, as the test process writes them): compressed as
    :func:`encode` would, without decoding.  ValueError when ``raw`` is not one."""
    code = raw[:1]
    if code not in (b"b", b"h", b"q") or (len(raw) - 1) % array(code.decode()).itemsize:
        raise ValueError("not an uncompressed line encoding")
    if len(raw) - 1 > 96:
        return b"z" + code + zlib.compress(raw[1:], 1)
    return raw


def decode(data: bytes) -> list[int]:
    if data[:1] == b"z":
        code, raw = chr(data[1]), zlib.decompress(data[2:])
    else:
        code, raw = chr(data[0]), data[1:]
    return list(accumulate(array(code, raw)))


class Lines(Sequence[int]):
    """Sorted line numbers kept as :func:`encode` wrote them until read."""

    __slots__ = ("_values", "data")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._values: list[int] | None = None

    def _decoded(self) -> list[int]:
        if self._values is None:
            self._values = decode(self.data)
        return self._values

    @overload
    def __getitem__(self, index: int) -> int: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[int]: ...
    def __getitem__(self, index: int | slice) -> int | Sequence[int]:
        return self._decoded()[index]

    def __len__(self) -> int:
        return len(self._decoded())

    def __iter__(self) -> Iterator[int]:
        return iter(self._decoded())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Lines):
            return self.data == other.data or self._decoded() == other._decoded()
        if isinstance(other, Sequence):
            return tuple(self._decoded()) == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # Compared, never hashed, as a list.

    def __repr__(self) -> str:
        return f"Lines({self._decoded()!r})"
