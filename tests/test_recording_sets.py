"""The recorder's view of coverage.py's per-file sets (ctrace and pytrace cores).

Sets nothing else holds are removed from coverage.py's dict once emptied, so
that each boundary scans the files run since the last; a set a tracer still
holds stays, and one taken meanwhile is watched until let go.  No line is
ever lost: flushing gives coverage.py every line back.
"""

from __future__ import annotations

from typing import Any

from ratchet.selection import plugin


class Collector:
    """What Sets uses of coverage.py's collector: its flush_data."""

    def __init__(self, data: dict[str, set[Any]]) -> None:
        self.data = data
        self.flushed: dict[str, set[Any]] = {}

    def flush_data(self) -> bool:
        self.flushed = {f: set(s) for f, s in self.data.items() if s}
        return True


def test_emptied_sets_no_tracer_holds_leave_coverages_dict() -> None:
    data: dict[str, set[Any]] = {f"m{i}.py": set() for i in range(300)}
    data["m5.py"].add(7)
    running = data["m3.py"]  # A tracer's frame of m3.py holds its set.
    collector = Collector(data)
    sets = plugin.Sets(collector, data, pytrace=False)
    assert sets.compacting
    assert sets.take() == {"m5.py": {7}}
    assert list(data) == ["m3.py"]
    assert data["m3.py"] is running
    running.add(9)  # That frame goes on.
    data["m8.py"] = {1, 2}  # A tracer enters m8.py again: a new set.
    assert sets.take() == {"m3.py": {9}, "m8.py": {1, 2}}
    assert list(data) == ["m3.py"]
    collector.flush_data()  # coverage.py saves: every line is given back.
    assert collector.flushed == {"m3.py": {9}, "m5.py": {7}, "m8.py": {1, 2}}


def test_a_set_taken_while_it_was_removed_is_watched_until_let_go() -> None:
    data: dict[str, set[Any]] = {"a.py": set(), "b.py": set()}
    collector = Collector(data)
    sets = plugin.Sets(collector, data, pytrace=False)
    sets.take()
    assert not data
    # Another thread's tracer took a.py's set between the count and the removal.
    name, taken_meanwhile = next((f, s) for f, s in sets.retired if f == "a.py")
    taken_meanwhile.add(4)
    data["a.py"] = {5}  # ... while a new frame of a.py got a new set.
    assert sets.take() == {"a.py": {4, 5}}
    assert any(s is taken_meanwhile for _, s in sets.retired)
    taken_meanwhile.add(6)
    del taken_meanwhile  # That frame ends: nothing holds the set any more.
    assert sets.take() == {"a.py": {6}}
    assert not sets.retired
    collector.flush_data()
    assert collector.flushed == {name: {4, 5, 6}}


def test_references_are_counted_as_the_removal_assumes() -> None:
    box: list[set[Any]] = [set()]
    s = box[0]
    assert plugin._references(s) == plugin._UNHELD
    other = s
    assert plugin._references(s) == plugin._UNHELD + 1
    del other
    assert plugin._counts_references()


class PyTracer:
    """What Sets reads of coverage.py's pytrace tracer: the sets of its frames."""

    def __init__(self) -> None:
        self.data_stack: list[tuple[Any, ...]] = []
        self.cur_file_data: set[Any] | None = None


def test_under_pytrace_the_set_of_a_running_frame_is_never_emptied() -> None:
    data: dict[str, set[Any]] = {"run.py": {1, 2}, "done.py": {7}}
    tracer = PyTracer()
    tracer.cur_file_data = data["run.py"]  # A frame of run.py is running.
    collector = Collector(data)
    collector.tracers = [tracer]  # type: ignore[attr-defined]
    sets = plugin.Sets(collector, data, pytrace=True)
    assert sets.take() == {"run.py": {1, 2}, "done.py": {7}}
    # Emptied, its next call into run.py would not be traced (coverage.py's
    # same-file shortcut): it keeps its lines, and only new ones are taken.
    assert data["run.py"] == {1, 2}
    assert "done.py" not in data
    data["run.py"].add(3)
    assert sets.take() == {"run.py": {3}}
    tracer.data_stack.append((tracer.cur_file_data, "run.py", 3, False))
    tracer.cur_file_data = None  # It called out; its set waits on the stack.
    data["run.py"].add(4)
    assert sets.take() == {"run.py": {4}}
    assert data["run.py"] == {1, 2, 3, 4}
    tracer.data_stack.clear()  # The frame ended: its set is emptied as any other.
    data["run.py"].add(5)
    assert sets.take() == {"run.py": {5}}
    assert "run.py" not in data
    collector.flush_data()
    assert collector.flushed == {"run.py": {1, 2, 3, 4, 5}, "done.py": {7}}
