"""A single-node KRaft Kafka (broker + controller) from the Maven Central jars."""

import asyncio
import base64
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from q2c_messaging.catalog import TopicSpec, load_catalog
from q2c_messaging.security import KafkaCredentials, security_kwargs

from . import kafka_security, processes
from .config import DEPLOY, StackConfig, StackError

NAME = "kafka"


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


def _properties(config: StackConfig, data_dir: Path) -> str:
    """The settings docker-compose.yml shares (tests/unit/test_compose.py); the listeners,
    SASL and ACL settings, where compose differs (docs/security.md), are kafka_security's."""
    return f"""# written by q2c_localstack; edit deploy/localstack/src/q2c_localstack/kafka.py instead
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{config.controller_port}
log.dirs={data_dir}
num.partitions=3
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
# Topics come from deploy/kafka/topics.yaml only.
auto.create.topics.enable=false
log.cleaner.min.cleanable.ratio=0.1
"""


def _java(config: StackConfig, libs: Path, main: list[str], heap: str) -> list[str]:
    return [
        "java", heap, "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={DEPLOY / 'kafka' / 'log4j2.yaml'}",
        f"-Dkafka.logs.dir={config.logs}",
        "-cp", f"{libs}/*", *main,
    ]


def start(config: StackConfig) -> str:
    """Start the broker unless it runs already or an external one is configured."""
    if config.external_kafka:
        return f"external Kafka at {config.external_kafka}"
    # before "already running": a broker started before SASL would be reused and refuse every login
    kafka_security.check_formatted_with_sasl(config, config.home / "kafka" / "data")
    if processes.running_pid(config.run_dir, NAME):
        return f"Kafka already running on {config.kafka_bootstrap}"
    if shutil.which("java") is None:
        raise StackError("java (17+) is needed to run Kafka")
    for port in (config.kafka_port, config.controller_port):
        if processes.port_in_use(port):
            raise StackError(f"port {port} is taken by another process, so Kafka cannot listen there: stop it, "
                             f"choose other ports (Q2C_KAFKA_PORT, Q2C_KAFKA_CONTROLLER_PORT), or use that broker "
                             f"with Q2C_KAFKA_BOOTSTRAP=127.0.0.1:{config.kafka_port}")
    libs = jars_dir(config)
    home = config.home / "kafka"
    data_dir = home / "data"
    home.mkdir(parents=True, exist_ok=True)
    properties = home / "server.properties"
    # It holds the broker's password (its JAAS lines): the owner's alone, from the first byte.
    properties.touch(mode=0o600)
    properties.chmod(0o600)
    properties.write_text(_properties(config, data_dir) + kafka_security.server_properties(config))
    if not (data_dir / "meta.properties").exists():
        result = subprocess.run(
            # "--cluster-id=<id>" in one word: a base64url id may start with "-", which the
            # tool's argument parser would take for an option.
            _java(config, libs, ["kafka.tools.StorageTool", "format", f"--cluster-id={_cluster_id(home)}",
                                 "-c", str(properties), *kafka_security.format_arguments(config)],
                  "-Xmx256m"),
            capture_output=True, text=True, timeout=120,
        )
        if result.returncode != 0:
            raise StackError(f"formatting Kafka storage failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    processes.start(
        config.run_dir, NAME,
        _java(config, libs, ["kafka.Kafka", str(properties)], "-Xmx768m"),
        log=config.logs / "kafka.log",
    )
    return f"Kafka {config.kafka_version} started on {config.kafka_bootstrap}"


def _cluster_id(home: Path) -> str:
    path = home / "cluster.id"
    if not path.exists():
        # Kafka cluster ids are 16 random bytes, base64url without padding.
        path.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))
    return path.read_text().strip()


def wait_ready(config: StackConfig) -> None:
    """Ready = the broker answers a metadata request (a bare TCP connect is not enough)."""
    deadline = time.monotonic() + config.start_timeout
    last_error = "no answer"
    while time.monotonic() < deadline:
        if not config.external_kafka and processes.running_pid(config.run_dir, NAME) is None:
            raise StackError(f"Kafka exited during start-up; see {config.logs / 'kafka.log'}:\n"
                             f"{processes.tail(config.logs / 'kafka.log')}")
        try:
            asyncio.run(_describe(config.kafka_bootstrap, kafka_security.admin_credentials(config)))
            return
        except (KafkaError, OSError, TimeoutError) as exc:
            last_error = repr(exc)
            time.sleep(0.5)
    raise StackError(f"Kafka at {config.kafka_bootstrap} not ready after {config.start_timeout:.0f}s "
                     f"({last_error}); see {config.logs / 'kafka.log'}")


async def _describe(bootstrap: str, credentials: KafkaCredentials | None = None) -> None:
    """`credentials` None = the environment's."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000,
                                **security_kwargs(credentials))
    try:
        await asyncio.wait_for(admin.start(), 6)
        await asyncio.wait_for(admin.describe_cluster(), 6)
    finally:
        await admin.close()


def create_topics(config: StackConfig) -> list[str]:
    """Create the catalog's topics that do not exist yet; return their names."""
    catalog = load_catalog(config.topic_catalog)
    return asyncio.run(_create_topics(config.kafka_bootstrap, list(catalog),
                                      kafka_security.admin_credentials(config)))


async def _create_topics(bootstrap: str, specs: list[TopicSpec], credentials: KafkaCredentials | None) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000,
                                **security_kwargs(credentials, from_env=False))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            await admin.create_topics([
                NewTopic(s.name, num_partitions=s.partitions, replication_factor=1, topic_configs=s.configs)
                for s in missing
            ])
        return [s.name for s in missing]
    finally:
        await admin.close()


def stop(config: StackConfig) -> bool:
    return processes.stop(config.run_dir, NAME, timeout=30)


def is_running(config: StackConfig) -> bool:
    return processes.running_pid(config.run_dir, NAME) is not None
