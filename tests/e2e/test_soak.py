"""A minute of the chaos soak (`make soak`, issue 8) on a stack of its own (it kills the
broker and PostgreSQL, which the session's stack must not suffer): at least 5 SIGKILLs, the
broker and PostgreSQL among them, while Sales users run quote lifecycles and orders are
invoiced; then nothing lost, nothing doubled, no dead letter, Sales equal to SCM, and a replay
from offset 0 that adds no record and changes no database. Figures are printed, not timed."""

import shutil
from collections.abc import Iterator

import pytest

from q2c_localstack import stack
from q2c_localstack.config import REPO_ROOT, StackConfig
from q2c_localstack.soak import soak

from ..conftest import PORT_OFFSET

SOAK_SECONDS = 60.0


@pytest.fixture(scope="module")
def soak_stack() -> Iterator[StackConfig]:
    # Ports apart from the session stack's (19092…, 25433…, 28100… + offset), below 32768.
    config = StackConfig.from_env(home=REPO_ROOT / ".q2c" / "soak-test", kafka_port=19192 + PORT_OFFSET,
                                  controller_port=19193 + PORT_OFFSET, pg_port=25533 + PORT_OFFSET,
                                  http_base_port=14200 + PORT_OFFSET)
    stack.down(config, say=lambda _: None)  # leftovers of an interrupted run
    shutil.rmtree(config.home, ignore_errors=True)
    try:
        stack.up(config)
        yield config
    finally:  # a start that failed halfway leaves processes too
        stack.down(config)


async def test_a_minute_of_chaos_loses_nothing_doubles_nothing_and_a_replay_changes_nothing(
        soak_stack: StackConfig) -> None:
    verdict = await soak(soak_stack, SOAK_SECONDS, min_kills=5, seed=8)
    print("\n".join(verdict.lines))
    assert sum(verdict.kills.values()) >= 5
    assert verdict.kills["kafka"] >= 1
    assert verdict.kills["postgres"] >= 1
    assert verdict.failures == [], "\n".join(verdict.lines)
