"""The initial sync's progress reports are throttled: never one per row (dual_write_adapter.admin)."""

import json

import pytest

from dual_write_adapter.admin import Throttle, _progress


def test_by_rows_the_first_every_percent_and_the_last() -> None:
    throttle = Throttle(10_000, min_rows=100)
    due = [n for n in range(1, 10_001) if throttle.due(n)]
    assert due[:3] == [1, 101, 201] and due[-1] == 10_000
    assert len(due) == 101


def test_by_time_at_most_one_per_interval() -> None:
    now = [0.0]
    throttle = Throttle(1_000, min_seconds=0.1, clock=lambda: now[0])
    due = []
    for n in range(1, 1_001):
        now[0] += 0.001  # a row a millisecond: 1 s in all
        if throttle.due(n):
            due.append(n)
    assert due[0] == 1 and due[-1] == 1_000
    assert 9 <= len(due) <= 12  # about ten a second, not a thousand


def test_a_small_sync_still_reports_every_row() -> None:
    throttle = Throttle(3)
    assert [throttle.due(n) for n in (1, 2, 3)] == [True, True, True]


def test_the_json_lines_report(capsys: pytest.CaptureFixture[str]) -> None:
    report = _progress("jsonl", 5_000)
    for n in range(1, 5_001):
        report(n)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0] == {"progress": 1, "total": 5_000} and lines[-1] == {"progress": 5_000, "total": 5_000}
    assert len(lines) < 5_000


def test_the_text_bar_is_rewritten_per_percent(capsys: pytest.CaptureFixture[str]) -> None:
    draw = _progress("bar", 10_000)
    for n in range(1, 10_001):
        draw(n)
    out = capsys.readouterr().out
    assert out.count("\r") == 101 and out.endswith("10000/10000")
