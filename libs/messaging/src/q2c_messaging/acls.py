"""Kafka principals and their ACLs, generated from the topic catalog (deploy/kafka/topics.yaml):
a service may write only what the catalog says it writes (its DLQs and internal topics
included) and read only what it consumes; each outside party gets the same from the
catalog's `sales` / `scm-users` entries; the operator reads everything and writes only the
external input topics. Pure: the local stack applies them, docs/security.md shows them, and
a unit test holds the two together."""

from dataclasses import dataclass
from enum import IntEnum

from .catalog import TopicCatalog

# The catalog names outside parties as roles; these are their Kafka principals.
PARTY_PRINCIPALS = {"sales": "sales-connector", "scm-users": "scm-client", "operators": "operator"}
OPERATOR = "operator"
CLUSTER = "kafka-cluster"  # the one name a CLUSTER resource has


class Resource(IntEnum):  # Kafka's AclResourceType codes
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4


class Pattern(IntEnum):  # PatternType
    LITERAL = 3
    PREFIXED = 4


class Operation(IntEnum):  # AclOperation
    READ = 3
    WRITE = 4
    DESCRIBE = 8
    IDEMPOTENT_WRITE = 12


ALLOW = 3  # AclPermissionType


@dataclass(frozen=True, order=True)
class Acl:
    principal: str
    resource: Resource
    name: str
    pattern: Pattern
    operation: Operation

    @property
    def kafka_principal(self) -> str:
        return f"User:{self.principal}"


def principals(services: list[str]) -> list[str]:
    """Every principal a client of the stack logs in as (the broker's own is not one)."""
    return [*services, "sales-connector", "scm-client", OPERATOR]


def generate_acls(catalog: TopicCatalog, services: list[str]) -> list[Acl]:
    acls: set[Acl] = set()

    def topic(principal: str, name: str, operation: Operation) -> None:
        acls.add(Acl(principal, Resource.TOPIC, name, Pattern.LITERAL, operation))

    for spec in catalog:
        for writer in spec.writers:
            topic(PARTY_PRINCIPALS.get(writer, writer), spec.name, Operation.WRITE)
        for reader in spec.consumers:
            if reader != "operators":  # the operator reads every topic, below
                topic(PARTY_PRINCIPALS.get(reader, reader), spec.name, Operation.READ)
        topic(OPERATOR, spec.name, Operation.READ)
        # Replaying a DLQ record = publishing it again on an external input topic.
        if spec.writers & {"sales", "scm-users"}:
            topic(OPERATOR, spec.name, Operation.WRITE)
    for service in services:
        # A service's consumer group is its name (ServiceRuntime.route).
        acls.add(Acl(service, Resource.GROUP, service, Pattern.LITERAL, Operation.READ))
    for party in ("sales-connector", "scm-client", OPERATOR):
        # An outside client names its groups after itself: `sales-connector`, `sales-connector-erp`.
        acls.add(Acl(party, Resource.GROUP, party, Pattern.PREFIXED, Operation.READ))
    # The operator sees every group's committed offsets (lag, `consumed`), but joins none.
    acls.add(Acl(OPERATOR, Resource.GROUP, "*", Pattern.LITERAL, Operation.DESCRIBE))
    for principal in principals(services):
        # Every producer of ours is idempotent (producer.py, the probe).
        acls.add(Acl(principal, Resource.CLUSTER, CLUSTER, Pattern.LITERAL, Operation.IDEMPOTENT_WRITE))
    unknown = {a.principal for a in acls} - set(principals(services))
    if unknown:
        raise ValueError(f"the catalog names readers or writers that are no principal: {sorted(unknown)}")
    return sorted(acls)


def acl_table(acls: list[Acl], catalog: TopicCatalog) -> str:
    """The ACLs as a Markdown table, one row per principal (docs/security.md); a principal
    that reads every topic of the catalog says so instead of listing them."""
    every = {f"`{spec.name}`" for spec in catalog}
    rows: dict[str, dict[str, list[str]]] = {}
    for acl in acls:
        cells = rows.setdefault(acl.principal, {"write": [], "read": [], "other": []})
        if acl.resource is Resource.TOPIC:
            cells["write" if acl.operation is Operation.WRITE else "read"].append(f"`{acl.name}`")
        else:
            suffix = "*" if acl.pattern is Pattern.PREFIXED else ""
            cells["other"].append(f"{acl.operation.name} {acl.resource.name.lower()} `{acl.name}{suffix}`")
    lines = ["| principal | writes topics | reads topics | groups and cluster |", "|---|---|---|---|"]
    for principal in sorted(rows):
        cells = rows[principal]
        if set(cells["read"]) == every:
            cells["read"] = [f"every topic of the catalog ({len(every)})"]
        lines.append(f"| `{principal}` | {', '.join(sorted(cells['write'])) or '-'} | "
                     f"{', '.join(sorted(cells['read'])) or '-'} | {', '.join(sorted(cells['other']))} |")
    return "\n".join(lines) + "\n"
