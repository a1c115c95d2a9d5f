"""Differential soak: selected checks must give a full run's numbers, commit after commit.

A generated project (modules that read each other's constants and call each
other, tests with parametrize data, conftest fixtures of every scope) gets a
random sequence of commits: function bodies edited, module constants
changed, fixtures edited, parametrize data changed, tests and modules
added, deleted and renamed, functions moved between modules; and the shapes
that once fooled selection (a file no test imports edited, code run at
collection removed, state a test module sets at import, a data file read by
an import inside a test, a watched flag file created and deleted).  After each,
``ratchet``'s selected measurement (map numbers plus what it re-ran) is
compared with an independent ``coverage run -m pytest`` + ``coverage json``
for every file.

    python benchmarks/soak_selection.py --commits 200 --seed 1

``--copy`` leaves another random change unstaged and an untracked module
beside each staged one: each check then measures the kept copy of the index
(``ratchet.snapshot``), and the full run is of a fresh export of the index.
"""

from __future__ import annotations

import argparse
import copy as copy_module
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import astuple, dataclass, field
from pathlib import Path

from ratchet import measure
from ratchet.config import load_config
from ratchet.measurement import CoverageReport, Measurement, load_json_report
from ratchet.workspace import for_commit, in_place

GIT_ENV = {
    "GIT_AUTHOR_NAME": "soak",
    "GIT_AUTHOR_EMAIL": "soak@example.com",
    "GIT_COMMITTER_NAME": "soak",
    "GIT_COMMITTER_EMAIL": "soak@example.com",
}


@dataclass
class Func:
    threshold: int
    extra: bool = False
    read: tuple[str, str] | None = None  # (module, constant) read in the body
    call: tuple[str, str] | None = None  # (module, function) called in the body


@dataclass
class Module:
    consts: dict[str, int] = field(default_factory=dict)
    funcs: dict[str, Func] = field(default_factory=dict)


@dataclass
class Test:
    target: tuple[str, str]
    params: list[int]
    fixture: str | None = None


@dataclass
class Project:
    modules: dict[str, Module] = field(default_factory=dict)
    tests: dict[str, dict[str, Test]] = field(default_factory=dict)  # file -> name -> test
    fixtures: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # scope -> target
    counter: int = 0
    # The shapes that once fooled selection: a file no test imports, code run
    # at collection, state a test module sets at import, a data file read by
    # an import inside a test, a watched flag file only checked for existence.
    orphan: int = 1  # Statements in lonely().
    cases: bool = True  # A test module computes CASES at import.
    strict: bool = True  # A test module sets policy.MODE at import.
    table_x: bool = True  # data/table.txt holds "x".
    flag: bool = True  # flags/on exists.

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"


def order(name: str) -> int:
    return int(name[1:])


def render_module(name: str, mod: Module) -> str:
    deps = sorted(
        {f.read[0] for f in mod.funcs.values() if f.read}
        | {f.call[0] for f in mod.funcs.values() if f.call}
    )
    lines = [f"from gen import {d}" for d in deps]
    lines += [f"{c} = {v}" for c, v in mod.consts.items()]
    for fname, f in mod.funcs.items():
        lines += ["", "", f"def {fname}(x):"]
        lines += [
            f"    if x > {f.threshold}:",
            "        y = x - 1",
            "    else:",
            "        y = x + 1",
        ]
        if f.extra:
            lines += ["    if y % 2 == 0:", "        y += 3"]
        if f.read:
            lines += [f"    if x > {f.read[0]}.{f.read[1]}:", "        y += 1"]
        if f.call:
            lines += [f"    y += {f.call[0]}.{f.call[1]}(x - 1) if x > 0 else 0"]
        lines += ["    return y"]
    return "\n".join(lines) + "\n"


def render_tests(tests: dict[str, Test]) -> str:
    mods = sorted({t.target[0] for t in tests.values()})
    lines = ["import pytest", *[f"from gen import {m}" for m in mods]]
    for name, t in tests.items():
        args = "x" + (f", {t.fixture}" if t.fixture else "")
        lines += ["", "", f"@pytest.mark.parametrize('x', {t.params!r})", f"def {name}({args}):"]
        lines += [f"    assert {t.target[0]}.{t.target[1]}(x) is not None"]
    return "\n".join(lines) + "\n"


def render_conftest(fixtures: dict[str, tuple[str, str, int]]) -> str:
    mods = sorted({m for m, _, _ in fixtures.values()})
    lines = ["import pytest", *[f"from gen import {m}" for m in mods]]
    for scope, (m, f, arg) in fixtures.items():
        lines += ["", "", f"@pytest.fixture(scope={scope!r})", f"def fix_{scope}():"]
        lines += [f"    return {m}.{f}({arg})"]
    return "\n".join(lines) + "\n"


POLICY = """\
MODE = {"value": "lax"}


def decide(x):
    if MODE["value"] == "strict":
        y = x * 2
        y += 1
        return y
    return x
"""

LOADER = """\
import pathlib

TABLE = pathlib.Path("data/table.txt").read_text().split()


def lookup(key):
    if key in TABLE:
        found = TABLE.index(key)
        found += 1
        return found
    return 0
"""

FEATURE = """\
import os


def run(x):
    if os.path.exists("flags/on"):
        y = x + 1
        y *= 2
        return y
    return x
"""

CASES = """\
def make_cases():
    out = [1, 2]
    out.append(3)
    return out
"""


def shape_files(p: Project) -> dict[str, str]:
    out = {
        "gen/orphan.py": "def lonely(x):\n" + "    x += 1\n" * p.orphan + "    return x\n",
        "gen/policy.py": POLICY,
        "gen/loader.py": LOADER,
        "gen/feature.py": FEATURE,
        "gen/cases.py": CASES,
        "data/table.txt": "x y z\n" if p.table_x else "y z\n",
        "tests/test_aaa_setter.py": "from gen import policy\n\n"
        + ("policy.MODE['value'] = 'strict'\n" if p.strict else "")
        + "\n\ndef test_mode():\n    assert policy.MODE\n",
        "tests/test_shapes.py": "from gen import cases, feature, policy\n\n"
        + ("CASES = cases.make_cases()\n" if p.cases else "")
        + "\n\ndef test_decide():\n    assert policy.decide(1) >= 1\n"
        + "\n\ndef test_feature():\n    assert feature.run(1)\n"
        + "\n\ndef test_load():\n    from gen import loader\n\n    assert loader.TABLE\n"
        + "\n\ndef test_lookup():\n    from gen import loader\n\n"
        + "    assert loader.lookup('x') >= 0\n",
    }
    if p.flag:
        out["flags/on"] = ""
    return out


BRANCH = True  # --lines turns branch measurement off (the sysmon core needs it before 3.14).


def files(p: Project) -> dict[str, str]:
    out = {"gen/__init__.py": "", "tests/conftest.py": render_conftest(p.fixtures)}
    out.update(shape_files(p))
    for name, mod in p.modules.items():
        out[f"gen/{name}.py"] = render_module(name, mod)
    for tfile, tests in p.tests.items():
        out[f"tests/{tfile}.py"] = render_tests(tests)
    out["pyproject.toml"] = (
        f'[tool.coverage.run]\nbranch = {str(BRANCH).lower()}\nsource = ["gen"]\n\n'
        '[tool.ratchet]\ntest-command = "pytest -q"\nselect-max-share = 0.9\n'
        'watch = ["data/**", "flags/*"]\n'
        f"python = {json.dumps(sys.executable)}\n"
    )
    return out


def all_funcs(p: Project) -> list[tuple[str, str]]:
    return [(m, f) for m, mod in p.modules.items() for f in mod.funcs]


def new_func(rng: random.Random, p: Project, module: str) -> Func:
    later = [m for m in p.modules if order(m) > order(module)]
    f = Func(rng.randint(0, 6), rng.random() < 0.3)
    if later and rng.random() < 0.5:
        m = rng.choice(later)
        if p.modules[m].consts:
            f.read = (m, rng.choice(list(p.modules[m].consts)))
    if later and rng.random() < 0.4:
        m = rng.choice(later)
        if p.modules[m].funcs:
            f.call = (m, rng.choice(list(p.modules[m].funcs)))
    return f


def generate(rng: random.Random) -> Project:
    p = Project()
    names = [f"m{i}" for i in range(6)]
    for name in reversed(names):  # Later modules first: earlier ones depend on them.
        p.modules[name] = Module()
        p.modules[name].consts = {"C": rng.randint(0, 6)}
        for _ in range(rng.randint(1, 3)):
            p.modules[name].funcs[p.fresh("f")] = new_func(rng, p, name)
    p.modules = dict(sorted(p.modules.items(), key=lambda kv: order(kv[0])))
    for scope in ("session", "module", "function"):
        m, f = rng.choice(all_funcs(p))
        p.fixtures[scope] = (m, f, rng.randint(0, 8))
    for name in p.modules:
        tests = p.tests.setdefault(f"test_{name}", {})
        for fname in p.modules[name].funcs:
            add_test(rng, p, tests, (name, fname))
    return p


def add_test(
    rng: random.Random, p: Project, tests: dict[str, Test], target: tuple[str, str]
) -> None:
    fixture = rng.choice([None, None, *(f"fix_{s}" for s in p.fixtures)])
    tests[p.fresh("test_")] = Test(
        target, sorted(rng.sample(range(9), rng.randint(1, 3))), fixture
    )


def users_of(p: Project, module: str, func: str | None = None) -> bool:
    for mod in p.modules.values():
        for f in mod.funcs.values():
            if (f.call and f.call[0] == module and (func is None or f.call[1] == func)) or (
                func is None and f.read and f.read[0] == module
            ):
                return True
    if any(m == module and (func is None or f == func) for m, f, _ in p.fixtures.values()):
        return True
    return any(
        t.target[0] == module and (func is None or t.target[1] == func)
        for tests in p.tests.values()
        for t in tests.values()
    )


def mutate(rng: random.Random, p: Project) -> str:
    kind = rng.choice(
        [
            "body", "body", "body", "const", "fixture", "params", "params",
            "add_test", "delete_test", "rename_test", "add_module", "delete_module",
            "rename_module", "move_function",
            "orphan", "cases", "strict", "table", "flag",
        ]
    )  # fmt: skip
    funcs = all_funcs(p)
    if kind == "orphan":
        p.orphan = rng.choice([n for n in range(1, 5) if n != p.orphan])
        return f"give gen/orphan.py {p.orphan} statement(s) in lonely()"
    if kind == "cases":
        p.cases = not p.cases
        return "compute CASES at collection" if p.cases else "stop computing CASES"
    if kind == "strict":
        p.strict = not p.strict
        return "a test module sets MODE" if p.strict else "no test module sets MODE"
    if kind == "table":
        p.table_x = not p.table_x
        return "put x in data/table.txt" if p.table_x else "take x out of data/table.txt"
    if kind == "flag":
        p.flag = not p.flag
        return "create flags/on" if p.flag else "delete flags/on"
    if kind == "body":
        m, f = rng.choice(funcs)
        func = p.modules[m].funcs[f]
        if rng.random() < 0.5:
            func.threshold = rng.randint(0, 8)
        else:
            func.extra = not func.extra
        return f"edit the body of {m}.{f}"
    if kind == "const":
        m = rng.choice(list(p.modules))
        p.modules[m].consts["C"] = rng.randint(0, 8)
        return f"change {m}.C"
    if kind == "fixture":
        scope = rng.choice(list(p.fixtures))
        m, f = rng.choice(funcs)
        p.fixtures[scope] = (m, f, rng.randint(0, 8))
        return f"change the {scope} fixture"
    tfiles = [t for t in p.tests if p.tests[t]]
    if kind == "params" and tfiles:
        tests = p.tests[rng.choice(tfiles)]
        t = tests[rng.choice(list(tests))]
        t.params = sorted(rng.sample(range(9), rng.randint(1, 3)))
        return "change parametrize data"
    if kind == "add_test":
        tests = p.tests[rng.choice(list(p.tests))]
        add_test(rng, p, tests, rng.choice(funcs))
        return "add a test"
    if kind == "delete_test" and tfiles:
        tests = p.tests[rng.choice(tfiles)]
        del tests[rng.choice(list(tests))]
        return "delete a test"
    if kind == "rename_test" and tfiles:
        tests = p.tests[rng.choice(tfiles)]
        old = rng.choice(list(tests))
        tests[p.fresh("test_")] = tests.pop(old)
        return "rename a test"
    if kind == "add_module":
        name = p.fresh("m")
        p.modules[name] = Module({"C": rng.randint(0, 8)})
        p.modules[name].funcs[p.fresh("f")] = new_func(rng, p, name)
        tests = p.tests.setdefault(f"test_{name}", {})
        add_test(rng, p, tests, (name, next(iter(p.modules[name].funcs))))
        return f"add module {name}"
    if kind == "delete_module":
        free = [m for m in p.modules if len(p.modules) > 3 and not _depended_on(p, m)]
        if free:
            m = rng.choice(free)
            del p.modules[m]
            p.tests.pop(f"test_{m}", None)
            for tests in p.tests.values():
                for name in [n for n, t in tests.items() if t.target[0] == m]:
                    del tests[name]
            return f"delete module {m}"
    if kind == "rename_module":
        old = rng.choice(list(p.modules))
        new = f"m{order(old)}r{p.fresh('')}"
        _rename_module(p, old, new)
        return f"rename {old} to {new}"
    if kind == "move_function":
        m, f = rng.choice(funcs)
        others = [x for x in p.modules if x != m and order(x) <= order(m)]
        if others and len(p.modules[m].funcs) > 1:
            dest = rng.choice(others)
            func = p.modules[m].funcs.pop(f)
            if func.read and order(func.read[0]) <= order(dest):
                func.read = None
            if func.call and order(func.call[0]) <= order(dest):
                func.call = None
            p.modules[dest].funcs[f] = func
            _retarget(p, (m, f), (dest, f))
            return f"move {m}.{f} to {dest}"
    m, f = rng.choice(funcs)
    p.modules[m].funcs[f].extra = not p.modules[m].funcs[f].extra
    return f"edit the body of {m}.{f}"


def _depended_on(p: Project, module: str) -> bool:
    return any(
        (f.call and f.call[0] == module) or (f.read and f.read[0] == module)
        for name, mod in p.modules.items()
        if name != module
        for f in mod.funcs.values()
    ) or any(m == module for m, _, _ in p.fixtures.values())


def _retarget(p: Project, old: tuple[str, str], new: tuple[str, str]) -> None:
    for mod in p.modules.values():
        for f in mod.funcs.values():
            if f.call == old:
                f.call = new
    for scope, (fm, ff, arg) in p.fixtures.items():
        if (fm, ff) == old:
            p.fixtures[scope] = (new[0], new[1], arg)
    for tests in p.tests.values():
        for t in tests.values():
            if t.target == old:
                t.target = new


def _rename_module(p: Project, old: str, new: str) -> None:
    mods = {}
    for name, mod in p.modules.items():
        mods[new if name == old else name] = mod
        for f in mod.funcs.values():
            if f.call and f.call[0] == old:
                f.call = (new, f.call[1])
            if f.read and f.read[0] == old:
                f.read = (new, f.read[1])
    p.modules = mods
    for scope, (fm, ff, arg) in p.fixtures.items():
        if fm == old:
            p.fixtures[scope] = (new, ff, arg)
    for tests in p.tests.values():
        for t in tests.values():
            if t.target[0] == old:
                t.target = (new, t.target[1])
    if f"test_{old}" in p.tests:
        p.tests[f"test_{new}"] = p.tests.pop(f"test_{old}")


def order_key(name: str) -> int:
    return int(name[1:].split("r")[0])


order = order_key  # noqa: F811  Renamed modules keep their place in the order.


def write(root: Path, p: Project) -> None:
    want = files(p)
    for path in [
        *root.joinpath("gen").glob("*.py"),
        *root.joinpath("tests").glob("*.py"),
        *root.joinpath("flags").glob("*"),
    ]:
        rel = path.relative_to(root).as_posix()
        if rel not in want:
            path.unlink()
    for rel, text in want.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True,
                   env={**os.environ, **GIT_ENV})  # fmt: skip


def full_numbers(root: Path) -> dict[str, tuple[int, ...]]:
    """coverage.py's own numbers for a whole-suite run, ratchet not involved."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "COVERAGE_FILE": f"{tmp}/.coverage", "PYTHONDONTWRITEBYTECODE": "1"}
        run = [sys.executable, "-m", "coverage"]
        subprocess.run([*run, "run", "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                       cwd=root, env=env, check=True, capture_output=True)  # fmt: skip
        # Measured subprocesses write data files beside the main one.
        subprocess.run([*run, "combine", "-q", "--append"], cwd=root, env=env, capture_output=True)
        subprocess.run([*run, "json", "-q", "-o", f"{tmp}/c.json"], cwd=root, env=env, check=True)
        return numbers(load_json_report(Path(tmp, "c.json"), root))


def numbers(m: Measurement | CoverageReport) -> dict[str, tuple[int, ...]]:
    return {p: astuple(r.numbers) for p, r in m.files.items()}


def staged_full_numbers(root: Path) -> dict[str, tuple[int, ...]]:
    """:func:`full_numbers` of the index's content, exported anew."""
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp, root.name)
        git(root, "checkout-index", "-a", f"--prefix={dest}/")
        return full_numbers(dest)


def soak(
    root: Path, commits: int, seed: int, verbose: bool = True, copy: bool = False
) -> dict[str, object]:
    """``copy``: each check has another random change unstaged and an
    untracked module beside the staged one, so it measures the kept copy of
    the index (ratchet.snapshot); the full run is of a fresh export."""
    rng = random.Random(seed)
    p = generate(rng)
    write(root, p)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "start")
    config = load_config(root)
    measure.run(in_place(root, config), select=True, full_reason="first run")  # Records the map.
    modes: dict[str, int] = {}
    mismatches = []
    started = time.perf_counter()
    for n in range(1, commits + 1):
        what = mutate(rng, p)
        write(root, p)
        git(root, "add", "-A")
        config = load_config(root)
        if copy:
            beside = copy_module.deepcopy(p)
            mutate(rng, beside)
            write(root, beside)
            (root / "gen" / "zz_untracked.py").write_text("UNTRACKED = 1\n")
            with for_commit(root, config) as ws:
                if not ws.snapshot:
                    raise SystemExit("the check with changes beside did not measure a copy")
                m = measure.run(ws, select=True)
            git(root, "checkout", "--", ".")
            git(root, "clean", "-fdq")
            full = staged_full_numbers(root)
        else:
            m = measure.run(in_place(root, config), select=True)
            full = full_numbers(root)
        selected = numbers(m)
        mode = m.mode.value
        kind = mode if mode != "full" else f"full ({m.why.split(':')[-1].strip()[:40]})"
        modes[mode] = modes.get(mode, 0) + 1
        ok = selected == full
        if not ok:
            diff = {k: (selected.get(k), full.get(k)) for k in selected.keys() | full.keys()
                    if selected.get(k) != full.get(k)}  # fmt: skip
            mismatches.append({"commit": n, "change": what, "mode": mode, "diff": diff})
        if verbose:
            print(f"{n:4d} {'ok' if ok else 'MISMATCH':8} {what:40} {kind}: {m.why[:70]}")
            if not ok:
                print(f"     selected vs full: {mismatches[-1]['diff']}")
        git(root, "commit", "-qm", what, "--no-verify", "--allow-empty")
    return {
        "commits": commits,
        "seed": seed,
        "modes": modes,
        "mismatches": mismatches,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--commits", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--smoke", action="store_true", help="a short run for CI")
    ap.add_argument("--lines", action="store_true", help="line coverage, not branch")
    ap.add_argument(
        "--copy",
        action="store_true",
        help="an unstaged change and an untracked module beside each staged one",
    )
    args = ap.parse_args()
    global BRANCH
    BRANCH = not args.lines
    commits = 4 if args.smoke else args.commits
    with tempfile.TemporaryDirectory() as tmp:
        result = soak(Path(tmp) / "repo", commits, args.seed, copy=args.copy)
    result["core"] = os.environ.get("COVERAGE_CORE", "default")
    result["branch"] = BRANCH
    result["python"] = sys.version.split()[0]
    result["measured"] = "the kept copy of the index" if args.copy else "the working tree"
    print(json.dumps(result, indent=2))
    return 1 if result["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main())
