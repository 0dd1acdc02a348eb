"""The inbox pruning rule (docs/messaging.md "Inbox pruning"): how long a topic's inbox rows
must stay, table-driven."""

from datetime import timedelta

import pytest

from q2c_messaging.catalog import TopicSpec
from q2c_messaging.inbox_pruning import UNKNOWN, Retention, keep_for, keep_unknown_for, plan
from q2c_messaging.settings import RuntimeSettings

DAY = timedelta(days=1)
RETENTION = Retention(default_retention_ms=7 * 86_400_000, segment_ms=7 * 86_400_000, margin=DAY)


def topic(name: str = "t", *, retention_ms: int | None = None, compacted: bool = False) -> TopicSpec:
    return TopicSpec(name=name, partitions=6, compacted=compacted, writers=frozenset({"w"}),
                     consumers=frozenset({"s"}), retention_ms=retention_ms)


@pytest.mark.parametrize(("spec", "expected"), [
    # no retention_ms: the broker's default 7 days, + a segment that may stay open 7 days, + margin
    (topic(), 15 * DAY),
    (topic(retention_ms=86_400_000), 9 * DAY),
    (topic(retention_ms=0), 8 * DAY),
    (topic(retention_ms=3_600_000), timedelta(hours=1) + 8 * DAY),
    (topic(retention_ms=-1), None),  # kept forever by the broker: so is the row
    (topic(compacted=True), None),  # a replay reads the last record of every key again
    (topic(compacted=True, retention_ms=86_400_000), None),
])
def test_how_long_a_topics_rows_stay(spec: TopicSpec, expected: timedelta | None) -> None:
    assert keep_for(spec, RETENTION) == expected


@pytest.mark.parametrize(("retention", "expected"), [
    (Retention(default_retention_ms=86_400_000, segment_ms=3_600_000, margin=timedelta(0)),
     DAY + timedelta(hours=1)),
    (Retention(default_retention_ms=-1, segment_ms=3_600_000, margin=DAY), None),
    (Retention(default_retention_ms=0, segment_ms=0, margin=timedelta(minutes=5)), timedelta(minutes=5)),
])
def test_the_brokers_defaults_and_the_margin_come_from_the_settings(retention: Retention,
                                                                      expected: timedelta | None) -> None:
    assert keep_for(topic(), retention) == expected


@pytest.mark.parametrize(("topics", "expected"), [
    ([topic("a", retention_ms=86_400_000), topic("b")], 15 * DAY),  # the longest
    ([topic("a"), topic("f", compacted=True)], None),  # could be of the compacted one
    ([topic("a"), topic("b", retention_ms=-1)], None),
    ([], None),
])
def test_rows_of_an_unknown_topic_stay_as_long_as_the_longest(topics: list[TopicSpec],
                                                              expected: timedelta | None) -> None:
    assert keep_unknown_for(topics, RETENTION) == expected


def test_a_plan_leaves_out_the_topics_kept_for_good() -> None:
    topics = [topic("a", retention_ms=86_400_000), topic("f", compacted=True), topic("b", retention_ms=-1)]
    assert plan(topics, RETENTION) == {"a": 9 * DAY}
    assert plan([topic("a", retention_ms=86_400_000)], RETENTION) == {"a": 9 * DAY, UNKNOWN: 9 * DAY}


def test_the_settings_give_the_retention(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("Q2C_INBOX_RETENTION_MARGIN", "3600")
    monkeypatch.setenv("Q2C_INBOX_RETENTION_DEFAULT_MS", "86400000")
    monkeypatch.setenv("Q2C_INBOX_SEGMENT_MS", "0")
    monkeypatch.setenv("Q2C_INBOX_PRUNE_INTERVAL", "0")
    settings = RuntimeSettings(db_url="postgresql://x")
    assert settings.inbox_retention == Retention(86_400_000, 0, timedelta(hours=1))
    assert settings.inbox_prune_interval == 0  # off
