"""The ``ratchet`` command line: parse, then call one typed function per command."""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Sequence
from typing import NoReturn

from ratchet import __version__, errors
from ratchet.errors import error_handler


class _Parser(argparse.ArgumentParser):
    """argparse, with a "did you mean" for a mistyped command or option."""

    def error(self, message: str) -> NoReturn:
        import difflib
        import re

        guess = None
        choice = re.search(r"invalid choice: '([^']*)'", message)
        unknown = re.search(r"unrecognized arguments: (-[^ =]+)", message)
        if choice:
            guess = difflib.get_close_matches(choice[1], _COMMANDS, n=1)
            message = f"unknown command {choice[1]!r}"
        elif unknown:
            # Compared without the dashes, which every option shares.
            options = {o[2:]: o for a in self._actions for o in a.option_strings if o[:2] == "--"}
            close = difflib.get_close_matches(unknown[1].lstrip("-"), options, n=1)
            guess = [options[c] for c in close]
        if guess:
            message += f"; did you mean {guess[0]!r}?"
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


# The commands a user types, in the order the help lists them (merge-driver is git's).
_COMMANDS = (
    "init",
    "check",
    "update",
    "install",
    "uninstall",
    "report",
    "plan",
    "history",
    "why",
    "demo",
    "help",
)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ratchet",
        description="Keep every coverage gain: per-file coverage may only go up.",
        epilog="`ratchet COMMAND --help` tells more; `ratchet demo` shows it at work.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"ratchet {__version__}")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )

    def data_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--data",
            nargs="+",
            action="extend",
            default=[],
            metavar="FILE",
            help="use these .coverage data files (combined like `coverage combine`) "
            "or one `coverage json` report instead of running the tests",
        )

    p = sub.add_parser("init", help="measure and write the first baseline")
    data_option(p)
    p.add_argument("--force", action="store_true", help="overwrite an existing baseline")
    p.add_argument(
        "--save-settings",
        action="store_true",
        help="write the interpreter and test command found into [tool.ratchet] "
        "of pyproject.toml (the rest of the file is kept as it is)",
    )

    p = sub.add_parser(
        "check",
        help="refuse if coverage went down (the pre-commit hook)",
        description="Exit 0 passed, 1 blocked, 2 usage or input error, 3 the test run failed.",
    )
    p.add_argument("files", nargs="*", metavar="FILES", help="the changed files (default: staged)")
    p.add_argument("--all", action="store_true", dest="all_files", help="judge every file (CI)")
    p.add_argument(
        "--base",
        metavar="REF",
        help="judge against the baseline at the merge base with REF (CI; implies --all)",
    )
    p.add_argument(
        "--full",
        action="store_true",
        help="run the whole suite, not only the tests the change affects",
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="run the selection, then the whole suite; judge by the whole suite, "
        "and report any difference in numbers (exit 3: a bug in ratchet)",
    )
    p.add_argument(
        "--confirm",
        action="store_true",
        help="before refusing a file, run its tests again; a file worse in only one "
        "of two identical runs is reported as flaky, not refused",
    )
    data_option(p)
    p.add_argument(
        "--format",
        choices=("text", "json", "github", "markdown"),
        default="text",
        dest="fmt",
        help="github: workflow annotations; markdown: a summary for $GITHUB_STEP_SUMMARY",
    )
    p.add_argument(
        "--summary", metavar="FILE", help="also append the markdown summary to FILE (CI)"
    )
    p.add_argument(
        "--propose",
        metavar="FILE",
        help="write the baseline `ratchet update` would write from this run to FILE (CI)",
    )

    p = sub.add_parser("update", help="raise the baseline after improvements")
    p.add_argument("--all", action="store_true", dest="all_files", help="consider every file")
    data_option(p)
    p.add_argument(
        "--allow-lower",
        action="append",
        default=[],
        metavar="PATH",
        help="lower this file's entry on purpose (needs --reason; recorded in the baseline)",
    )
    p.add_argument("--reason", metavar="TEXT", help="why --allow-lower is right")

    p = sub.add_parser(
        "install", help="install a plain git pre-commit hook and the baseline's merge driver"
    )
    p.add_argument("--no-hook", action="store_true", help="only the merge driver")
    p.add_argument(
        "--force", action="store_true", help="install even where pre-commit manages the hooks"
    )
    sub.add_parser("uninstall", help="remove what `ratchet install` installed")

    def format_option(p: argparse.ArgumentParser, *choices: str) -> None:
        p.add_argument("--format", choices=("text", *choices), default="text", dest="fmt")

    def measure_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--measure",
            action="store_true",
            help="run the tests and show fresh numbers (default: the baseline's, instantly)",
        )

    p = sub.add_parser("report", help="per-tier progress toward the targets, and overall")
    format_option(p, "markdown", "json")
    measure_option(p)
    p = sub.add_parser(
        "plan",
        help="rank the next files to test by overall gain; --promote puts files in a tier",
    )
    format_option(p, "markdown", "json")
    measure_option(p)
    p.add_argument(
        "--tier",
        action="append",
        default=[],
        dest="tiers",
        metavar="NAME",
        help='only this kind of candidate ("Tier 1", "Zero coverage"); with --promote, the tier',
    )
    p.add_argument("--limit", type=int, metavar="N", help="list the N best candidates")
    p.add_argument(
        "--target",
        type=float,
        metavar="PERCENT",
        help="target for quick wins (default 50) or for --promote (default: the tier's)",
    )
    p.add_argument(
        "--promote", nargs="+", default=[], metavar="PATH", help="put these files into a tier"
    )
    p = sub.add_parser("history", help="the baseline's trend over its git history")
    p.add_argument("file", nargs="?", metavar="FILE", help="one file's trend")
    format_option(p, "json")
    p.add_argument("--svg", metavar="FILE", help="also draw the trend as an SVG chart")
    p.add_argument(
        "--window", type=int, default=28, metavar="DAYS", help="velocity window (default 28)"
    )
    p = sub.add_parser("why", help="which tests executed a line (from the test map)")
    p.add_argument("target", metavar="FILE:LINE")
    format_option(p, "json")
    p = sub.add_parser(
        "demo", help="show the tool at work on a sample project in a temporary folder"
    )
    p.add_argument("--keep", metavar="DIR", help="build the sample in DIR and leave it there")
    p = sub.add_parser("help", help="list the commands, or tell more about one")
    p.add_argument("topic", nargs="?", metavar="COMMAND")
    p = sub.add_parser("merge-driver", help="git's merge driver for the baseline (internal)")
    p.add_argument("base")
    p.add_argument("ours")
    p.add_argument("theirs")
    p.add_argument("name", nargs="?", default="")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        errors.LATE_SIGNALS_IGNORED = True
    try:
        code = _main(argv)
    finally:
        if argv is None:  # The command's own process: nothing is left to stop.
            errors.ignore_signals_to_exit()
    if argv is None:
        _exit_now(code)
    return code


def _exit_now(code: int) -> None:
    """End the command's own process once its output is out, without the
    interpreter's teardown: freeing what a check built (a map's tables, a
    baseline of 20,000 entries) took 20-50 ms of a hook's time, for nothing.
    ratchet leaves no work to it (no atexit handler, only daemon threads, git
    readers stopped); a process that does, such as one under coverage.py,
    ends the usual way."""
    import contextlib
    import os
    import threading

    measured = sys.modules.get("coverage")
    if measured is not None and getattr(measured.Coverage, "current", lambda: None)():
        return
    main = threading.main_thread()
    if any(t is not main and t.is_alive() and not t.daemon for t in threading.enumerate()):
        return
    for stream in (sys.stdout, sys.stderr):
        # A closed pipe: the usual exit would not print either.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def _main(argv: Sequence[str] | None) -> int:
    parser = _parser()
    words = sys.argv[1:] if argv is None else list(argv)
    if not words:  # Bare `ratchet`: what it can do.
        parser.print_help()
        return 2
    # Options a command does not know get that command's usage, not the top level's.
    args, extra = parser.parse_known_args(words)
    if extra:
        _subparser(parser, args.command).error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "help":
        if args.topic is None:
            parser.print_help()
        else:
            _subparser(parser, args.topic).print_help()
        return 0
    # A command builds many objects at once and keeps them to its end (100,000
    # baseline entries, a report's files): the cyclic collector's passes over
    # them were a fifth of 'check --all --data' at that size, and freed nothing.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _run(args)
    finally:
        if collecting and argv is not None:
            # The own process ends without it (see _exit_now): enabling it
            # would first traverse everything the command allocated.
            gc.enable()
        if "ratchet.git" in sys.modules:  # Stop GitPython's readers, forget what git said.
            from ratchet import git

            git.close()


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found: argparse.ArgumentParser | None = action.choices.get(command)
            if found is not None:
                return found
    parser.error(f"invalid choice: {command!r}")


def _run(args: argparse.Namespace) -> int:
    if args.command in ("init", "check", "update", "report", "plan"):
        from ratchet import live

        live.enable(getattr(args, "fmt", "text"))
    with error_handler() as code:
        if args.command == "init":
            from ratchet.commands.init import init

            return init(data=args.data, force=args.force, save_settings=args.save_settings)
        if args.command == "check":
            from ratchet.commands.check import check

            return check(
                files=args.files,
                all_files=args.all_files or args.base is not None,
                base=args.base,
                full=args.full,
                verify=args.verify,
                data=args.data,
                fmt=args.fmt,
                confirm=args.confirm,
                summary=args.summary,
                propose=args.propose,
            )
        if args.command == "update":
            from ratchet.commands.update import update

            return update(
                all_files=args.all_files,
                data=args.data,
                allow_lower=args.allow_lower,
                reason=args.reason,
            )
        if args.command in ("report", "plan", "history"):
            from ratchet.commands import progress

            if args.command == "report":
                return progress.report(fmt=args.fmt, measure_now=args.measure)
            if args.command == "plan":
                return progress.plan(
                    fmt=args.fmt,
                    tiers=args.tiers,
                    limit=args.limit,
                    target=args.target,
                    promote=args.promote,
                    measure_now=args.measure,
                )
            return progress.history(fmt=args.fmt, svg=args.svg, window=args.window, file=args.file)
        if args.command == "why":
            from ratchet.commands.why import why

            return why(args.target, fmt=args.fmt)
        if args.command == "demo":
            from ratchet.demo import demo

            return demo(keep=args.keep)
        if args.command in ("install", "uninstall", "merge-driver"):
            from ratchet.commands import install

            if args.command == "install":
                return install.install(hook=not args.no_hook, force=args.force)
            if args.command == "uninstall":
                return install.uninstall()
            return install.merge_driver(args.base, args.ours, args.theirs, args.name)
        raise AssertionError(f"unhandled command {args.command}")  # pragma: no cover
    return code[0]
