"""The topic catalog: one YAML file (deploy/kafka/topics.yaml) declares every topic, its
partitions, compaction, the services allowed to write it and those that read it. The stack
creates topics from it (auto-creation is off) and the outbox refuses a write by a service
the catalog does not name as a writer of that topic."""

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from q2c_contracts.topics import dead_letter_topic

CATALOG_ENV = "Q2C_TOPIC_CATALOG"
_RELATIVE = Path("deploy/kafka/topics.yaml")


class CatalogError(ValueError):
    pass


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    compacted: bool
    writers: frozenset[str]
    consumers: frozenset[str]
    retention_ms: int | None = None
    description: str = ""
    dead_letter: bool = False

    @property
    def configs(self) -> dict[str, str]:
        configs = {"cleanup.policy": "compact" if self.compacted else "delete"}
        if self.retention_ms is not None:
            configs["retention.ms"] = str(self.retention_ms)
        return configs


@dataclass(frozen=True)
class TopicCatalog:
    topics: dict[str, TopicSpec] = field(default_factory=dict)

    def __getitem__(self, name: str) -> TopicSpec:
        try:
            return self.topics[name]
        except KeyError:
            raise CatalogError(f"topic {name!r} is not in the catalog") from None

    def __iter__(self) -> Iterator[TopicSpec]:
        return iter(self.topics.values())

    def may_write(self, service: str, topic: str) -> bool:
        return service in self[topic].writers


def parse_catalog(document: dict[str, Any]) -> TopicCatalog:
    """Build the catalog; every topic read by a q2c service gets its `<topic>.dlq`, written
    by those readers (CONTRACT.md §0)."""
    entries = document.get("topics")
    if not isinstance(entries, dict) or not entries:
        raise CatalogError("catalog has no 'topics' mapping")
    services = set(_names(document, "services", "catalog"))
    topics: dict[str, TopicSpec] = {}
    for name, entry in entries.items():
        if not isinstance(entry, dict):
            raise CatalogError(f"topic {name}: expected a mapping of settings, got {entry!r}")
        unknown = set(entry) - {"partitions", "compacted", "writers", "consumers", "retention_ms", "description"}
        if unknown:
            raise CatalogError(f"topic {name}: unknown keys {sorted(unknown)}")
        spec = TopicSpec(
            name=name,
            partitions=int(entry.get("partitions", 3)),
            compacted=bool(entry.get("compacted", False)),
            writers=frozenset(_names(entry, "writers", f"topic {name}")),
            consumers=frozenset(_names(entry, "consumers", f"topic {name}")),
            retention_ms=entry.get("retention_ms"),
            description=entry.get("description", ""),
        )
        if not spec.writers:
            raise CatalogError(f"topic {name}: no writers")
        topics[name] = spec
        internal_readers = spec.consumers & services
        if internal_readers:
            dlq = dead_letter_topic(name)
            topics[dlq] = TopicSpec(
                name=dlq,
                partitions=1,
                compacted=False,
                writers=frozenset(internal_readers),
                consumers=frozenset({"operators"}),
                description=f"messages of {name} that could not be handled",
                dead_letter=True,
            )
    return TopicCatalog(topics)


def _names(mapping: dict[str, Any], key: str, where: str) -> list[str]:
    """A list of names; a bare string would otherwise become a set of its characters."""
    names = mapping.get(key) or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise CatalogError(f"{where}: {key} must be a list of names, got {names!r}")
    return names


def find_catalog_path() -> Path:
    if explicit := os.environ.get(CATALOG_ENV):
        return Path(explicit)
    for base in (Path.cwd(), *Path.cwd().parents, *Path(__file__).resolve().parents):
        candidate = base / _RELATIVE
        if candidate.is_file():
            return candidate
    raise CatalogError(f"topic catalog not found: set {CATALOG_ENV} or run inside the repository")


@lru_cache(maxsize=4)
def load_catalog(path: Path | None = None) -> TopicCatalog:
    path = path or find_catalog_path()
    return parse_catalog(yaml.safe_load(path.read_text()))
