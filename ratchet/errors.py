"""One error type, one handler, honest exit codes.

A *verdict* ("coverage went down", exit 1) is not an error: commands return
it.  Errors are raised as :class:`RatchetError` and turned into one line on
stderr plus an exit code by :func:`error_handler`.
"""

from __future__ import annotations

import signal
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


class Stopped(BaseException):
    """SIGTERM or SIGHUP arrived (CI cancelled the job, ``timeout`` expired, the
    terminal closed): unwind as for Ctrl-C, so the test run's process group
    is stopped and temporary files are removed on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


# Paths written so far (the baseline, an SVG), so that an interrupted command
# says truthfully whether it wrote anything.
WRITTEN: list[str] = []


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
    del WRITTEN[:]
    try:
        with _stop_on_signals():
            yield result
    except RatchetError as e:
        if e.detail:
            sys.stderr.write(e.detail.rstrip("\n") + "\n")
        hint = f" ({e.hint})" if e.hint else ""
        sys.stderr.write(f"ratchet: error: {e.message}{hint}\n")
        result[0] = e.exit_code
    except KeyboardInterrupt:
        sys.stderr.write(f"ratchet: interrupted; {_what_was_written()}\n")
        result[0] = INTERRUPTED
    except Stopped as e:
        name = signal.Signals(e.signum).name
        sys.stderr.write(f"ratchet: stopped by {name}; {_what_was_written()}\n")
        result[0] = 128 + e.signum


def _what_was_written() -> str:
    if not WRITTEN:
        return "nothing was written"
    return f"{', '.join(WRITTEN)} had already been written"


# Set by the command-line entry point (not by tests calling ``main``).
LATE_SIGNALS_IGNORED = False

_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    """While the block runs, SIGTERM and SIGHUP raise :class:`Stopped` (once:
    a second one must not cut the clean-up short).  The previous handlers
    come back afterwards (tests call ``main`` in their own process)."""
    previous = {}

    def stop(signum: int, frame: object) -> None:
        for s in _SIGNALS:
            signal.signal(s, _ignore)
        raise Stopped(signum)

    try:
        for s in _SIGNALS:
            previous[s] = signal.signal(s, stop)
    except ValueError:  # Not the main thread: signals are not ours to take.
        assert not previous  # The first one fails: none was taken.
    try:
        yield
    finally:
        for s, handler in previous.items():
            # In the command's own process the work is done: a signal now
            # must not turn a decided exit code into a kill.
            signal.signal(s, _ignore if LATE_SIGNALS_IGNORED else handler)


def ignore_signals_to_exit() -> None:
    """Ignore SIGTERM, SIGHUP and Ctrl-C from now to the process's end.

    For the command's own process once its work is done and it starts no
    other process.  While the interpreter shuts down it puts back the
    default action of every signal that has a Python handler, so a signal
    then would kill a run whose verdict is already out (the signal soak saw
    one, 150 ms before the end).  It leaves an ignored signal ignored.
    """
    for s in (*_SIGNALS, signal.SIGINT):
        signal.signal(s, signal.SIG_IGN)


def _ignore(signum: int, frame: object) -> None:
    """A handler that does nothing (unlike SIG_IGN, not inherited by children)."""
