"""One error type, one handler, honest exit codes.

A *verdict* ("coverage went down", exit 1) is not an error: commands return
it.  Errors are raised as :class:`RatchetError` and turned into one line on
stderr plus an exit code by :func:`error_handler`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

PASSED = 0
BLOCKED = 1
USAGE = 2
TEST_RUN_FAILED = 3
INTERRUPTED = 130


class RatchetError(Exception):
    """The tool could not do its job; ``exit_code`` says which way.

    ``hint`` tells the user what to do next; ``detail`` (optional, may be many
    lines, e.g. the tail of a failed test run) is printed before the reason.
    """

    exit_code = USAGE

    def __init__(self, message: str, *, hint: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.detail = detail


class TestRunFailed(RatchetError):
    """The project's test run failed, so nothing could be measured."""

    __test__ = False  # Not a pytest test class, despite the name.
    exit_code = TEST_RUN_FAILED


@contextmanager
def error_handler() -> Iterator[list[int]]:
    """Turn errors into one clear line and an exit code.

    Yields a one-element list; on error its item is set to the exit code.
    """
    result = [PASSED]
    try:
        yield result
    except RatchetError as e:
        if e.detail:
            sys.stderr.write(e.detail.rstrip("\n") + "\n")
        hint = f" ({e.hint})" if e.hint else ""
        sys.stderr.write(f"ratchet: error: {e.message}{hint}\n")
        result[0] = e.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("ratchet: interrupted; nothing was written\n")
        result[0] = INTERRUPTED
