"""Black-box helpers for the feature-state service's topics (CONTRACT.md §0, §4, §5): an SCM
administrator's commands on `scm.feature.commands`. Shared by the e2e modules that set features."""

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

COMMANDS = "scm.feature.commands"
RESULTS = "scm.command.results"
EVENTS = "scm.feature.events"
DLQ = "scm.feature.commands.dlq"
RFC3339_UTC = "%Y-%m-%dT%H:%M:%SZ"


def command(type_: str, target: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"command_id": str(uuid4()), "type": type_, "issued_at": datetime.now(UTC).strftime(RFC3339_UTC),
            "user": {"name": "bob", "privileges": []}, "target": target, "data": data}
