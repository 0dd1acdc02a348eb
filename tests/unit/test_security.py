"""The Kafka principals and ACLs generated from the catalog (docs/security.md), and the one
helper every client builds its login with."""

import re
from pathlib import Path

import pytest

from q2c_localstack.config import REPO_ROOT, load_services
from q2c_messaging.acls import Acl, Operation, Resource, acl_table, generate_acls, principals
from q2c_messaging.catalog import load_catalog
from q2c_messaging.security import CredentialsError, KafkaCredentials, security_kwargs
from q2c_messaging.settings import RuntimeSettings

CATALOG = load_catalog()
SERVICES = [s.name for s in load_services()]
ACLS = generate_acls(CATALOG, SERVICES)
DOC = REPO_ROOT / "docs" / "security.md"


def topics(principal: str, operation: Operation) -> set[str]:
    return {a.name for a in ACLS if a.principal == principal and a.resource is Resource.TOPIC
            and a.operation is operation}


def test_the_docs_table_is_the_generated_one() -> None:
    table = acl_table(ACLS, CATALOG)
    found = re.search(r"<!-- acl-table:start -->\n(.*?)<!-- acl-table:end -->", DOC.read_text(), re.S)
    assert found, "docs/security.md lost its acl-table markers"
    assert found.group(1) == table, f"docs/security.md's ACL table is stale; the generated one:\n{table}"


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_writes_and_reads_exactly_what_the_catalog_says(service: str) -> None:
    assert topics(service, Operation.WRITE) == {s.name for s in CATALOG if service in s.writers}
    assert topics(service, Operation.READ) == {s.name for s in CATALOG if service in s.consumers}
    assert Acl(service, Resource.GROUP, service, *_literal(Operation.READ)) in ACLS


def _literal(operation: Operation) -> tuple:  # type: ignore[type-arg]
    from q2c_messaging.acls import Pattern

    return (Pattern.LITERAL, operation)


def test_the_outside_parties_write_only_their_input_topics() -> None:
    assert topics("sales-connector", Operation.WRITE) == {
        s.name for s in CATALOG if re.fullmatch(r"dataverse\.[a-z_]+\.changes", s.name)}
    assert topics("scm-client", Operation.WRITE) == {
        s.name for s in CATALOG if re.fullmatch(r"scm\.[a-z]+\.commands", s.name)}
    assert topics("sales-connector", Operation.READ) == {
        s.name for s in CATALOG if s.name.endswith(".writes")} | {"dataverse.notifications"}
    assert topics("scm-client", Operation.READ) == {"scm.command.results", "scm.processor.events"} | {
        s.name for s in CATALOG if re.fullmatch(r"scm\.[a-z]+\.events", s.name)}


def test_only_the_quote_service_writes_quote_events() -> None:
    assert {a.principal for a in ACLS if a.name == "scm.quote.events" and a.operation is Operation.WRITE} == {"quote"}


def test_the_operator_reads_everything_and_writes_only_the_external_inputs() -> None:
    assert topics("operator", Operation.READ) == {s.name for s in CATALOG}
    assert topics("operator", Operation.WRITE) == topics("sales-connector", Operation.WRITE) | topics(
        "scm-client", Operation.WRITE)


def test_no_acl_names_the_broker_and_every_principal_may_produce_idempotently() -> None:
    assert {a.principal for a in ACLS} == set(principals(SERVICES))
    assert "broker" not in principals(SERVICES)
    assert {a.principal for a in ACLS if a.operation is Operation.IDEMPOTENT_WRITE} == set(principals(SERVICES))


def test_no_username_means_plaintext() -> None:
    assert KafkaCredentials.from_env({}) is None
    assert security_kwargs(None, from_env=False) == {}


def test_credentials_become_aiokafka_and_faststream_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("Q2C_KAFKA_USERNAME", "scm-client")
    monkeypatch.setenv("Q2C_KAFKA_PASSWORD", "s3cret")
    assert security_kwargs() == {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
                                 "sasl_plain_username": "scm-client", "sasl_plain_password": "s3cret"}
    creds = KafkaCredentials.from_env()
    assert creds is not None and "s3cret" not in repr(creds)
    settings = RuntimeSettings(db_url="postgresql://x")
    assert settings.kafka_credentials == creds
    assert "s3cret" not in repr(settings)
    security = creds.faststream_security()
    assert (security.username, security.password) == ("scm-client", "s3cret")


def test_a_credentials_file_round_trips(tmp_path: Path) -> None:
    creds = KafkaCredentials("operator", "abc123", "SCRAM-SHA-256")
    path = tmp_path / "operator.env"
    path.write_text(creds.env_file_text())
    assert KafkaCredentials.from_file(path) == creds


@pytest.mark.parametrize("env", [
    {"Q2C_KAFKA_USERNAME": "x"},  # a username without a password
    {"Q2C_KAFKA_USERNAME": "x", "Q2C_KAFKA_PASSWORD": "y", "Q2C_KAFKA_SASL_MECHANISM": "PLAIN"},
])
def test_incomplete_or_unknown_settings_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(CredentialsError):
        KafkaCredentials.from_env(env)


def test_the_broker_speaks_sasl_only_and_trusts_only_itself(tmp_path: Path) -> None:
    from q2c_localstack import kafka_security
    from q2c_localstack.config import StackConfig

    config = StackConfig(home=tmp_path, cache=tmp_path)
    props = dict(line.split("=", 1) for line in kafka_security.server_properties(config).splitlines()
                 if line and not line.startswith("#"))
    assert props["super.users"] == "User:broker"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert set(props["listener.security.protocol.map"].split(",")) == {"CONTROLLER:SASL_PLAINTEXT",
                                                                       "CLIENT:SASL_PLAINTEXT"}
    assert all(address.split("://")[1].startswith("127.0.0.1:") for address in props["listeners"].split(","))
    assert stat_mode(tmp_path / "kafka" / "secret") == 0o600
    # the same secret, the same passwords: a second call derives, never re-draws
    assert kafka_security.password(config, "quote") == kafka_security.password(config, "quote")
    assert kafka_security.password(config, "quote") != kafka_security.password(config, "order")


def stat_mode(path: Path) -> int:
    import stat

    return stat.S_IMODE(path.stat().st_mode)


def test_storage_formatted_before_sasl_is_refused_with_a_way_out(tmp_path: Path) -> None:
    from q2c_localstack import kafka_security
    from q2c_localstack.config import StackConfig, StackError

    config = StackConfig(home=tmp_path, cache=tmp_path)
    data = tmp_path / "kafka" / "data"
    data.mkdir(parents=True)
    kafka_security.check_formatted_with_sasl(config, data)  # nothing formatted yet: fine
    (data / "meta.properties").write_text("node.id=1\n")
    with pytest.raises(StackError, match="formatted without SASL users"):
        kafka_security.check_formatted_with_sasl(config, data)
    kafka_security.password(config, "broker")  # a stack formatted with SASL has its secret
    kafka_security.check_formatted_with_sasl(config, data)
