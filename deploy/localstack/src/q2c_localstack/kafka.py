"""The local KRaft Kafka from the Maven Central jars: one node (broker + controller), or with
Q2C_KAFKA_BROKERS=N a cluster of N such nodes on this machine (docs/scaling.md says why
combined nodes: three JVMs rather than six on two cores; a node's death takes a broker and a
voter, the harder case, and the quorum of 2 of 3 survives it)."""

import asyncio
import base64
import json
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from q2c_messaging.catalog import TopicSpec, load_catalog
from q2c_messaging.security import KafkaCredentials, security_kwargs

from . import kafka_security, processes
from .config import DEPLOY, StackConfig, StackError

NAME = "kafka"  # the one node of a single-node stack; a cluster's are kafka-1 … kafka-N


@dataclass(frozen=True)
class KafkaNode:
    node_id: int
    name: str  # its process name (pid file, log file)
    client_port: int
    controller_port: int
    home: Path  # server.properties and data/


def nodes(config: StackConfig) -> list[KafkaNode]:
    """The local stack's nodes (none with an external broker). A single node keeps the names
    and paths it always had (<home>/kafka, kafka.log)."""
    if config.external_kafka:
        return []
    if config.kafka_brokers == 1:
        return [KafkaNode(1, NAME, config.kafka_port, config.controller_port, config.home / "kafka")]
    return [KafkaNode(n, f"{NAME}-{n}", config.kafka_port + 2 * (n - 1), config.controller_port + 2 * (n - 1),
                      config.home / "kafka" / f"node-{n}") for n in range(1, config.kafka_brokers + 1)]


def node_named(config: StackConfig, name: str) -> KafkaNode | None:
    return next((node for node in nodes(config) if node.name == name), None)


def jars_dir(config: StackConfig) -> Path:
    """Resolve the broker's jars once per machine (cached outside the repository)."""
    target = config.cache / f"kafka-{config.kafka_version}" / "libs"
    if (target / ".complete").exists():
        return target
    if shutil.which("mvn") is None:
        raise StackError("Maven (mvn) is needed once to fetch the Kafka jars from Maven Central")
    staging = target.with_name(f"libs.partial-{uuid.uuid4().hex[:8]}")
    print(f"fetching Apache Kafka {config.kafka_version} jars from Maven Central into {target} ...",
          flush=True)
    result = subprocess.run(
        ["mvn", "-q", "-B", "-f", str(DEPLOY / "kafka" / "pom.xml"), "dependency:copy-dependencies",
         "-DincludeScope=runtime", f"-DoutputDirectory={staging}"],
        capture_output=True, text=True, timeout=900,
    )
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise StackError(f"mvn could not fetch the Kafka jars:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    (staging / ".complete").write_text(config.kafka_version)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def _properties(config: StackConfig, data_dir: Path, node: KafkaNode | None = None) -> str:
    """The settings docker-compose.yml shares (tests/unit/test_compose.py); the listeners,
    SASL and ACL settings, where compose differs (docs/security.md), are kafka_security's.
    A cluster adds its replication and failover settings (`_cluster_properties`)."""
    node = node or nodes(config)[0]
    voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in nodes(config)) or \
        f"1@127.0.0.1:{config.controller_port}"
    rf, isr = config.replication_factor, config.min_insync_replicas
    text = f"""# written by q2c_localstack; edit deploy/localstack/src/q2c_localstack/kafka.py instead
process.roles=broker,controller
node.id={node.node_id}
controller.quorum.voters={voters}
log.dirs={data_dir}
num.partitions=3
offsets.topic.replication.factor={rf}
offsets.topic.num.partitions=6
transaction.state.log.replication.factor={rf}
transaction.state.log.min.isr={isr}
share.coordinator.state.topic.replication.factor={rf}
share.coordinator.state.topic.min.isr={isr}
group.initial.rebalance.delay.ms=0
# Topics come from deploy/kafka/topics.yaml only.
auto.create.topics.enable=false
log.cleaner.min.cleanable.ratio=0.1
"""
    return text + (_cluster_properties(config) if config.kafka_brokers > 1 else "")


# How fast a cluster notices a SIGKILLed node (docs/scaling.md "Failover"). A killed broker
# stays leader of its partitions, and in the ISR of the others (so acks=all waits on it),
# until the active controller fences it: `broker.session.timeout.ms` after its last
# heartbeat (default 9 s). When the killed node was also the active controller, the other
# voters first notice the silence (`controller.quorum.fetch.timeout.ms`, default 2 s) and
# elect a new one (`controller.quorum.election.timeout.ms`, default 1 s), which then fences
# the dead broker one session timeout later. The defaults add up to ~12 s of stall; these to
# about 2.5 s, with heartbeats frequent enough that a busy 2-core machine does not fence a
# live broker (a 200 ms heartbeat leaves five chances per session). Sessions of 2.5 s held a
# step for up to 5.6 s on this machine, 1.5 s up to 9.8 s, 1 s up to 4.9 s
# (docs/scaling.md, "Failover").
FAILOVER_SETTINGS = {
    "broker.heartbeat.interval.ms": "200",
    "broker.session.timeout.ms": "1000",
    "controller.quorum.fetch.timeout.ms": "1000",
    "controller.quorum.election.timeout.ms": "500",
    "controller.quorum.election.backoff.max.ms": "300",
}


def _cluster_properties(config: StackConfig) -> str:
    lines = [
        "# A cluster: every topic on three nodes, acks=all needs two of them (config.py)",
        f"default.replication.factor={config.replication_factor}",
        f"min.insync.replicas={config.min_insync_replicas}",
        "unclean.leader.election.enable=false",
        # A node back from the dead leads nothing until the preferred leaders are elected again
        # (every 300 s by default): until then its peers carry all the leaders.
        "leader.imbalance.check.interval.seconds=30",
        *(f"{key}={value}" for key, value in FAILOVER_SETTINGS.items()),
    ]
    return "\n".join(lines) + "\n"


def _java(config: StackConfig, libs: Path, main: list[str], *heap: str) -> list[str]:
    # -XX:TieredStopAtLevel=1 would start faster but run slower: these brokers carry the bench.
    return [
        "java", *heap, "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={DEPLOY / 'kafka' / 'log4j2.yaml'}",
        f"-Dkafka.logs.dir={config.logs}",
        "-cp", f"{libs}/*", *main,
    ]


def start(config: StackConfig) -> str:
    """Start every node that does not run yet, unless an external broker is configured. The
    nodes of a cluster start together: none serves before a quorum of voters answers."""
    if config.external_kafka:
        return f"external Kafka at {config.external_kafka}"
    _check_cluster_size(config)
    started = [node for node in nodes(config) if start_node(config, node)]
    if not started:
        return f"Kafka already running on {config.kafka_bootstrap}"
    what = "Kafka" if config.kafka_brokers == 1 else \
        f"Kafka cluster of {config.kafka_brokers} nodes (replication factor {config.replication_factor}, " \
        f"min.insync.replicas {config.min_insync_replicas}):"
    return f"{what} {config.kafka_version} started on {','.join(f'127.0.0.1:{n.client_port}' for n in started)}"


def start_node(config: StackConfig, node: KafkaNode) -> bool:
    """Start one node unless it runs; False if it ran already."""
    # before "already running": a broker started before SASL would be reused and refuse every login
    kafka_security.check_formatted_with_sasl(config, node.home / "data")
    if processes.running_pid(config.run_dir, node.name):
        return False
    if shutil.which("java") is None:
        raise StackError("java (17+) is needed to run Kafka")
    for port in (node.client_port, node.controller_port):
        if processes.port_in_use(port):
            raise StackError(f"port {port} is taken by another process, so Kafka cannot listen there: stop it, "
                             f"choose other ports (Q2C_KAFKA_PORT, Q2C_KAFKA_CONTROLLER_PORT), or use that broker "
                             f"with Q2C_KAFKA_BOOTSTRAP=127.0.0.1:{node.client_port}")
    libs = jars_dir(config)
    data_dir = node.home / "data"
    node.home.mkdir(parents=True, exist_ok=True)
    properties = node.home / "server.properties"
    # It holds the broker's password (its JAAS lines): the owner's alone, from the first byte.
    properties.touch(mode=0o600)
    properties.chmod(0o600)
    properties.write_text(_properties(config, data_dir, node) + kafka_security.server_properties(config, node))
    if not (data_dir / "meta.properties").exists():
        result = subprocess.run(
            # "--cluster-id=<id>" in one word: a base64url id may start with "-", which the
            # tool's argument parser would take for an option. Every node of a cluster is
            # formatted with the same id and the same bootstrap users (static voters).
            _java(config, libs, ["kafka.tools.StorageTool", "format", f"--cluster-id={_cluster_id(config)}",
                                 "-c", str(properties), *kafka_security.format_arguments(config)],
                  "-Xmx256m"),
            capture_output=True, text=True, timeout=120,
        )
        if result.returncode != 0:
            raise StackError(f"formatting Kafka storage failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    # One node alone gets the heap it always had; three share the machine.
    size = "768m" if config.kafka_brokers == 1 else "512m"
    # The whole heap taken and touched at start (-Xms = -Xmx, as Kafka's own start script sets
    # them, and AlwaysPreTouch): a broker's memory is then what it is from its first minute, not
    # a number that creeps up for half an hour while G1 commits the heap it was allowed (+19 % in
    # the 20,000-lifecycle run, docs/performance.md "Long memory run"), and a machine that cannot
    # give it fails at start, not under load.
    processes.start(config.run_dir, node.name,
                    _java(config, libs, ["kafka.Kafka", str(properties)], f"-Xms{size}", f"-Xmx{size}",
                          "-XX:+AlwaysPreTouch"),
                    log=config.logs / f"{node.name}.log")
    return True


def _check_cluster_size(config: StackConfig) -> None:
    """A stack home's Kafka storage is formatted for one cluster size: topics created with one
    replica cannot be served by three nodes, nor three voters by one. Say so rather than start
    a stack that never gets ready."""
    home = config.home / "kafka"
    marker = home / "nodes"
    if (home / "data" / "meta.properties").exists():
        size = 1  # the single node's layout (also a home formatted before clusters existed)
    elif formatted := list(home.glob("node-*/data/meta.properties")):
        size = int(marker.read_text()) if marker.exists() else len(formatted)
    else:  # nothing formatted yet: any size may start here
        home.mkdir(parents=True, exist_ok=True)
        marker.write_text(f"{config.kafka_brokers}\n")
        return
    if size != config.kafka_brokers:
        raise StackError(f"{config.home / 'kafka'} holds a Kafka of {size} node(s), Q2C_KAFKA_BROKERS asks for "
                         f"{config.kafka_brokers}: `make down`, remove {config.home / 'kafka'} (its topics are lost) "
                         f"or choose another Q2C_HOME, then start again")


def _cluster_id(config: StackConfig) -> str:
    path = config.home / "kafka" / "cluster.id"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Kafka cluster ids are 16 random bytes, base64url without padding.
        path.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))
    return path.read_text().strip()


def wait_ready(config: StackConfig) -> None:
    """Ready = the broker answers a metadata request (a bare TCP connect is not enough)."""
    deadline = time.monotonic() + config.start_timeout
    last_error = "no answer"
    while time.monotonic() < deadline:
        for node in nodes(config):
            if processes.running_pid(config.run_dir, node.name) is None:
                log = config.logs / f"{node.name}.log"
                raise StackError(f"Kafka node {node.name} exited during start-up; see {log}:\n{processes.tail(log)}")
        try:
            asyncio.run(_describe(config.kafka_bootstrap, kafka_security.admin_credentials(config),
                                  brokers=config.kafka_brokers if nodes(config) else 1))
            return
        except (KafkaError, OSError, TimeoutError) as exc:
            last_error = repr(exc)
            time.sleep(0.5)
    raise StackError(f"Kafka at {config.kafka_bootstrap} not ready after {config.start_timeout:.0f}s "
                     f"({last_error}); see {config.logs / 'kafka.log'}")


async def _describe(bootstrap: str, credentials: KafkaCredentials | None = None, brokers: int = 1) -> None:
    """`credentials` None = the environment's. Ready = `brokers` nodes registered and unfenced:
    a topic of replication factor 3 cannot be created while one is missing."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000,
                                **security_kwargs(credentials))
    try:
        await asyncio.wait_for(admin.start(), 6)
        cluster = await asyncio.wait_for(admin.describe_cluster(), 6)
        if len(cluster["brokers"]) < brokers:
            raise KafkaError(f"{len(cluster['brokers'])} of {brokers} brokers registered")
    finally:
        await admin.close()


def create_topics(config: StackConfig) -> list[str]:
    """Create the catalog's topics that do not exist yet; return their names."""
    catalog = load_catalog(config.topic_catalog)
    return asyncio.run(_create_topics(config.kafka_bootstrap, list(catalog),
                                      kafka_security.admin_credentials(config), config))


async def _create_topics(bootstrap: str, specs: list[TopicSpec], credentials: KafkaCredentials | None,
                         config: StackConfig) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000,
                                **security_kwargs(credentials, from_env=False))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            await admin.create_topics([
                NewTopic(s.name, num_partitions=s.partitions, replication_factor=_replication(config),
                         topic_configs={**s.configs, **_durability(config)})
                for s in missing
            ])
        return [s.name for s in missing]
    finally:
        await admin.close()


def _replication(config: StackConfig) -> int:
    """An external cluster: 1, as always (aiokafka's CreateTopics v3 cannot ask for the
    cluster's default; an operator of a real cluster creates the topics with its own policy)."""
    return 1 if config.external_kafka else config.replication_factor


def _durability(config: StackConfig) -> dict[str, str]:
    """On the topic itself, not only as the brokers' default, so the rule travels with it."""
    return {} if config.external_kafka else {"min.insync.replicas": str(config.min_insync_replicas)}


def stop(config: StackConfig) -> bool:
    """Stop every node (together: a node stopped last would wait for the others' quorum)."""
    running = running_nodes(config)
    for node in running:
        processes.terminate(config.run_dir, node.name)
    for node in running:
        processes.stop(config.run_dir, node.name, timeout=30)
    return bool(running)


def is_running(config: StackConfig) -> bool:
    return bool(nodes(config)) and all(processes.running_pid(config.run_dir, n.name) is not None
                                       for n in nodes(config))


def running_nodes(config: StackConfig) -> list[KafkaNode]:
    return [node for node in nodes(config) if processes.running_pid(config.run_dir, node.name) is not None]


def active_controller(config: StackConfig) -> KafkaNode | None:
    """The node that leads the metadata quorum, from the voters' own `quorum-state` files (the
    newest epoch wins: a node that was down keeps an old one). Clients cannot ask: a KRaft
    cluster answers them with a random broker as "controller"."""
    best: tuple[int, int] | None = None
    for node in nodes(config):
        try:
            state = json.loads((node.home / "data" / "__cluster_metadata-0" / "quorum-state").read_text())
        except (OSError, ValueError):
            continue
        if state.get("leaderId", -1) >= 0 and (best is None or state["leaderEpoch"] > best[0]):
            best = (state["leaderEpoch"], state["leaderId"])
    return next((n for n in nodes(config) if best and n.node_id == best[1]), None)


async def under_replicated(config: StackConfig) -> int:
    """Partitions whose in-sync replicas are fewer than their replicas: while there are any, a
    second node's death would stop writes to them (min.insync.replicas)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=config.kafka_bootstrap, request_timeout_ms=5000,
                                **security_kwargs(kafka_security.admin_credentials(config), from_env=False))
    await admin.start()
    try:
        described = await admin.describe_topics()
        return sum(1 for topic in described for p in topic["partitions"] if len(p["isr"]) < len(p["replicas"]))
    finally:
        await admin.close()
