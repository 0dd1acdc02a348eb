"""The local Kafka as one node or a cluster (Q2C_KAFKA_BROKERS, issue 13): node names, ports,
replication settings and the failover figure, without starting anything."""

from pathlib import Path

import pytest

from q2c_localstack import kafka, kafka_security
from q2c_localstack.config import StackConfig, StackError
from q2c_localstack.failover import stall
from q2c_messaging.failover import METADATA_MAX_AGE_MS, client_kwargs


def _config(tmp_path: Path, brokers: int, **overrides: object) -> StackConfig:
    return StackConfig(home=tmp_path, cache=tmp_path, kafka_port=9092, controller_port=9093,
                       kafka_brokers=brokers, **overrides)


def _properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


@pytest.mark.parametrize(("brokers", "bootstrap", "replication", "in_sync"), [
    (1, "127.0.0.1:9092", 1, 1),
    (3, "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096", 3, 2),
    (5, "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096,127.0.0.1:9098,127.0.0.1:9100", 3, 2),
])
def test_bootstrap_and_replication_follow_the_node_count(tmp_path: Path, brokers: int, bootstrap: str,
                                                         replication: int, in_sync: int) -> None:
    config = _config(tmp_path, brokers)
    assert config.kafka_bootstrap == bootstrap
    assert (config.replication_factor, config.min_insync_replicas) == (replication, in_sync)


def test_no_node_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StackError, match="at least one node"):
        _config(tmp_path, 0)


def test_one_node_keeps_the_names_and_paths_it_always_had(tmp_path: Path) -> None:
    [node] = kafka.nodes(_config(tmp_path, 1))
    assert (node.name, node.node_id, node.client_port, node.controller_port) == ("kafka", 1, 9092, 9093)
    assert node.home == tmp_path / "kafka"


def test_cluster_nodes_are_numbered_with_their_own_ports_and_homes(tmp_path: Path) -> None:
    nodes = kafka.nodes(_config(tmp_path, 3))
    assert [(n.name, n.node_id, n.client_port, n.controller_port) for n in nodes] == [
        ("kafka-1", 1, 9092, 9093), ("kafka-2", 2, 9094, 9095), ("kafka-3", 3, 9096, 9097)]
    assert [n.home for n in nodes] == [tmp_path / "kafka" / f"node-{n}" for n in (1, 2, 3)]


def test_an_external_broker_has_no_local_nodes(tmp_path: Path) -> None:
    assert kafka.nodes(_config(tmp_path, 3, external_kafka="kafka:9092")) == []


def test_every_cluster_node_knows_all_voters_and_replicates_three_times(tmp_path: Path) -> None:
    config = _config(tmp_path, 3)
    node = kafka.nodes(config)[1]
    settings = _properties(kafka._properties(config, node.home / "data", node)
                           + kafka_security.server_properties(config, node))
    assert settings["node.id"] == "2"
    assert settings["controller.quorum.voters"] == "1@127.0.0.1:9093,2@127.0.0.1:9095,3@127.0.0.1:9097"
    assert settings["listeners"] == "CLIENT://127.0.0.1:9094,CONTROLLER://127.0.0.1:9095"
    assert settings["advertised.listeners"] == "CLIENT://127.0.0.1:9094"
    for key in ("offsets.topic.replication.factor", "transaction.state.log.replication.factor",
                "default.replication.factor"):
        assert settings[key] == "3", key
    assert settings["min.insync.replicas"] == settings["transaction.state.log.min.isr"] == "2"
    assert settings["unclean.leader.election.enable"] == "false"
    for key, value in kafka.FAILOVER_SETTINGS.items():
        assert settings[key] == value, key
    # a killed node is fenced well inside the 5 s target, with heartbeats to spare
    assert int(settings["broker.session.timeout.ms"]) >= 4 * int(settings["broker.heartbeat.interval.ms"])
    assert int(settings["broker.session.timeout.ms"]) + int(settings["controller.quorum.fetch.timeout.ms"]) < 5000


def test_one_node_falls_back_to_one_replica_and_no_cluster_settings(tmp_path: Path) -> None:
    config = _config(tmp_path, 1)
    settings = _properties(kafka._properties(config, tmp_path / "data"))
    assert settings["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert settings["offsets.topic.replication.factor"] == settings["transaction.state.log.min.isr"] == "1"
    assert "default.replication.factor" not in settings
    assert not set(kafka.FAILOVER_SETTINGS) & set(settings)


@pytest.mark.parametrize(("formatted_for", "asked"), [(1, 3), (3, 1)])
def test_a_home_formatted_for_another_cluster_size_is_refused_with_the_way_out(
        tmp_path: Path, formatted_for: int, asked: int) -> None:
    layout = ["data"] if formatted_for == 1 else [f"node-{n}/data" for n in range(1, formatted_for + 1)]
    for folder in layout:
        (tmp_path / "kafka" / folder).mkdir(parents=True)
        (tmp_path / "kafka" / folder / "meta.properties").write_text("node.id=1\n")
    (tmp_path / "kafka" / "nodes").write_text(f"{formatted_for}\n")
    with pytest.raises(StackError, match=f"holds a Kafka of {formatted_for} node.*asks for {asked}.*remove"):
        kafka._check_cluster_size(_config(tmp_path, asked))


def test_a_home_never_formatted_takes_any_size_even_after_a_failed_start(tmp_path: Path) -> None:
    kafka._check_cluster_size(_config(tmp_path, 3))  # writes the marker; then the start failed
    kafka._check_cluster_size(_config(tmp_path, 1))
    assert (tmp_path / "kafka" / "nodes").read_text() == "1\n"


def test_a_home_formatted_before_clusters_existed_counts_as_one_node(tmp_path: Path) -> None:
    (tmp_path / "kafka" / "data").mkdir(parents=True)
    (tmp_path / "kafka" / "data" / "meta.properties").write_text("node.id=1\n")
    kafka._check_cluster_size(_config(tmp_path, 1))
    with pytest.raises(StackError, match="holds a Kafka of 1 node"):
        kafka._check_cluster_size(_config(tmp_path, 3))


def test_the_active_controller_is_read_from_the_newest_quorum_state(tmp_path: Path) -> None:
    config = _config(tmp_path, 3)
    for node, (epoch, leader) in zip(kafka.nodes(config), [(4, 2), (7, 3), (-1, -1)], strict=True):
        folder = node.home / "data" / "__cluster_metadata-0"
        folder.mkdir(parents=True)
        (folder / "quorum-state").write_text(f'{{"leaderId":{leader},"leaderEpoch":{epoch}}}')
    controller = kafka.active_controller(config)
    assert controller is not None and controller.name == "kafka-3"


@pytest.mark.parametrize(("spans", "at", "held", "count"), [
    ([], 10.0, 0.0, 0),
    ([(1.0, 2.0, "t")], 10.0, 0.0, 0),  # over before the kill
    ([(9.0, 14.5, "t"), (9.5, 10.1, "t")], 10.0, 5.5, 2),  # waiting at the kill
    ([(11.0, 13.0, "t")], 10.0, 2.0, 1),  # begun inside the window after it
    ([(14.0, 14.2, "t")], 10.0, 0.0, 0),  # begun after the window
])
def test_a_kills_stall_is_the_longest_step_waiting_at_it_or_begun_right_after(
        spans: list[tuple[float, float, str]], at: float, held: float, count: int) -> None:
    assert stall(spans, at, window=3.0) == pytest.approx((held, count))


def test_every_client_refreshes_its_metadata_within_the_failover_target() -> None:
    assert client_kwargs()["metadata_max_age_ms"] == METADATA_MAX_AGE_MS <= 5000
