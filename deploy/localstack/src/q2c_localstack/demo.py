"""`make demo`: the feature round trip through the running stack, as an SCM user sees it:
publish a command, print its result and the resulting state. Every value printed is read
back from the topics."""

import asyncio
import json
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from q2c_messaging.security import KafkaCredentials

from .config import StackConfig
from .kafka_security import credentials
from .probe import TopicProbe, stack_watch

COMMANDS = "scm.feature.commands"
RESULTS = "scm.command.results"
EVENTS = "scm.feature.events"


def run_demo(config: StackConfig) -> None:
    from .demo_orders import run_order_to_cash
    from .demo_q2c import run_quote_to_cash

    # An SCM user for the features; the two flows that watch both sides log in as the operator
    # (read every topic, write only the external input topics: docs/security.md).
    asyncio.run(_demo(config.kafka_bootstrap, credentials(config, "scm-client")))
    asyncio.run(run_quote_to_cash(config.kafka_bootstrap, credentials(config, "operator")))
    asyncio.run(run_order_to_cash(config.kafka_bootstrap, stack_watch(config), credentials(config, "operator")))


def _command(type_: str, target: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "command_id": str(uuid4()), "type": type_,
        "issued_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "user": {"name": "demo", "privileges": []}, "target": target, "data": data,
    }


async def _round_trip(probe: TopicProbe, command: dict[str, Any]) -> None:
    print(f"\n> {COMMANDS}  {json.dumps(command)}")
    await probe.publish(COMMANDS, command["target"], command)
    [result] = await probe.wait_for(RESULTS, lambda r: r.key == command["command_id"])
    print(f"< {RESULTS}  {json.dumps(result.value)}")
    if result.value["outcome"] == "accepted":
        # q2c mirrors the causing message's id into the `causation_id` header.
        [event] = await probe.wait_for(
            EVENTS, lambda r: r.headers.get("causation_id") == command["command_id"])
        print(f"< {EVENTS}  {json.dumps(event.value)}")


async def _demo(bootstrap: str, login: KafkaCredentials | None) -> None:
    print(f"q2c demo against Kafka at {bootstrap}")
    async with TopicProbe(bootstrap, [RESULTS, EVENTS], credentials=login) as probe:
        # Switch the message processor on and back off (its default), so the demo leaves
        # the stack's settings as it found them.
        for enabled in (True, False):
            await _round_trip(probe, _command("feature.set", "UseMessageProcessor",
                                              {"feature": "UseMessageProcessor", "enabled": enabled}))
        # Two refusals: a name that does not exist, a value of the wrong type.
        await _round_trip(probe, _command("feature.set", "UseMessageprocessor",
                                          {"feature": "UseMessageprocessor", "enabled": True}))
        await _round_trip(probe, _command("parameter.set", "MessageProcessorRunning",
                                          {"name": "MessageProcessorRunning", "value": "yes"}))
    # The compacted topic's last record per name is the whole current state.
    async with TopicProbe(bootstrap, [EVENTS], from_beginning=True, credentials=login) as probe:
        await probe.caught_up()
        state = {r.key: r.value for r in probe.records}
    print("\ncurrent feature state (scm.feature.events, last record per name):")
    for name in sorted(state, key=lambda n: (state[n]["kind"], n)):
        print(f"  {state[name]['kind']:<9} {name:<34} {json.dumps(state[name]['value'])}")
