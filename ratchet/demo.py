"""``ratchet demo``: the tool doing its job on a small sample project.

Everything is real: a git repository in a temporary folder, the sample's
tests run under coverage, the plain git hook that ``ratchet install`` writes,
and ``git commit``.  Each command is printed as a user would type it, with
its own output.  The folder is removed at the end unless ``--keep`` names
where to leave it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from ratchet.errors import RatchetError

_PYPROJECT = """\
[tool.coverage.run]
branch = true
source = ["shop"]

[tool.ratchet]
# The interpreter that runs the sample's tests (the one running ratchet).
python = {python}
test-command = "pytest -q"
# A passing commit that raises coverage records the raise in that commit.
record-gains = true
# Files of 15 statements or more, below 80% covered, must reach 80%.
[[tool.ratchet.tiers]]
name = "Tier 1"
target = 80
min-statements = 15
below-percent = 80
"""

_CART = '''\
"""A shopping cart's arithmetic."""


def total(prices):
    return sum(prices)


def average(prices):
    if not prices:
        return 0.0
    return total(prices) / len(prices)
'''

_DISCOUNT = """

def discount(prices, percent):
    if not 0 <= percent <= 100:
        raise ValueError("percent must be between 0 and 100")
    return total(prices) * (100 - percent) / 100
"""

_PRICING = '''\
"""Prices by customer kind: a large, barely tested module."""

RATES = {"retail": 1.0, "member": 0.9, "staff": 0.7}


def rate(kind):
    return RATES[kind]


def price(amount, kind):
    return round(amount * rate(kind), 2)


def tax(amount, country):
    if country == "DE":
        return round(amount * 0.19, 2)
    if country == "FR":
        return round(amount * 0.2, 2)
    if country == "NL":
        return round(amount * 0.21, 2)
    return 0.0


def shipping(weight):
    if weight <= 0:
        raise ValueError("weight must be positive")
    if weight < 1:
        return 4.5
    if weight < 5:
        return 7.0
    return 12.0
'''

_TESTS = """\
import pytest

from shop.cart import average, total
from shop.pricing import price


def test_total():
    assert total([1, 2, 3]) == 6


def test_average():
    assert average([2, 4]) == 3
    assert average([]) == 0.0


def test_member_price():
    assert price(10, "member") == 9.0
"""

_MORE_TESTS = """

def test_discount():
    from shop.cart import discount

    assert discount([50, 50], 10) == 90
    with pytest.raises(ValueError):
        discount([1], 101)


def test_tax():
    from shop.pricing import tax

    assert tax(100, "DE") == 19.0
    assert tax(100, "FR") == 20.0
    assert tax(100, "US") == 0.0
"""


class _Step:
    """Runs commands in the sample project and prints them with their output."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env

    def say(self, text: str) -> None:
        print(f"\n# {text}", flush=True)

    def run(self, shown: str, args: Sequence[str], *, expect: int = 0) -> None:
        print(f"$ {shown}", flush=True)
        proc = subprocess.run(
            list(args),
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        out = proc.stdout.rstrip("\n")
        if out:
            print(out, flush=True)
        if proc.returncode != expect:
            raise RatchetError(
                f"demo: `{shown}` exited {proc.returncode}, expected {expect}",
                hint="this is a bug in the demo or a broken installation",
            )

    def write(self, path: str, text: str, *, append: bool = False) -> None:
        file = self.root / path
        file.parent.mkdir(parents=True, exist_ok=True)
        with file.open("a" if append else "w", encoding="utf-8") as f:
            f.write(text)


def _preflight() -> None:
    if shutil.which("git") is None:
        raise RatchetError("demo: git is not on PATH", hint="install git, then run it again")
    try:
        import pytest  # noqa: F401
    except ImportError:
        raise RatchetError(
            "demo: pytest is not installed beside ratchet",
            hint=f"{shlex.quote(sys.executable)} -m pip install pytest",
        ) from None


def demo(*, keep: str | None = None) -> int:
    _preflight()
    started = time.perf_counter()
    if keep is not None:
        root = Path(keep).resolve()
        if root.exists() and any(root.iterdir()):
            raise RatchetError(f"demo: {keep} exists and is not empty", hint="name a new folder")
        root.mkdir(parents=True, exist_ok=True)
    else:
        root = Path(tempfile.mkdtemp(prefix="ratchet-demo-"))
    # A repository of its own: no variable of an enclosing git command may reach it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_AUTHOR_NAME="Demo",
        GIT_AUTHOR_EMAIL="demo@example.com",
        GIT_COMMITTER_NAME="Demo",
        GIT_COMMITTER_EMAIL="demo@example.com",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        NO_COLOR="1",
    )
    ratchet = [sys.executable, "-m", "ratchet"]
    try:
        print(f"ratchet demo: a sample project with a git repository in {root}")
        step = _Step(root, env)
        step.write("pyproject.toml", _PYPROJECT.format(python=_toml_string(sys.executable)))
        step.write("shop/__init__.py", "")
        step.write("shop/cart.py", _CART)
        step.write("shop/pricing.py", _PRICING)
        step.write("tests/test_shop.py", _TESTS)
        step.write(".gitignore", "__pycache__/\n.pytest_cache/\n")
        step.run("git init", ["git", "init", "-q", "-b", "main"])

        step.say("Measure the tests' coverage once and write the baseline.")
        step.run("ratchet init", [*ratchet, "init"])
        step.run("ratchet install", [*ratchet, "install"])
        step.run("git add -A", ["git", "add", "-A"])
        step.run(
            "git commit -m 'Sample project with its baseline'",
            ["git", "commit", "-q", "-m", "Sample project with its baseline"],
        )

        step.say("Add discount() to shop/cart.py without a test, and commit: refused.")
        step.write("shop/cart.py", _DISCOUNT, append=True)
        step.run(
            "git commit -am 'Add discount()'",
            ["git", "commit", "-q", "-am", "Add discount()"],
            expect=1,
        )

        step.say(
            "Test discount(), and tax() in the Tier 1 file too: it passes, and the gain "
            "is recorded in the same commit."
        )
        step.write("tests/test_shop.py", _MORE_TESTS, append=True)
        step.run(
            "git commit -am 'Add discount(), tested'",
            ["git", "commit", "-q", "-am", "Add discount(), tested"],
        )

        step.run("git show --stat HEAD", ["git", "show", "--stat", "--format=%s", "HEAD"])

        step.say("Where the tiered files stand.")
        step.run("ratchet report", [*ratchet, "report"])
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
    left = f"left in {root}" if keep is not None else f"{root} removed"
    print(f"\nratchet demo: done in {time.perf_counter() - started:.1f} s; {left}.")
    return 0


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
