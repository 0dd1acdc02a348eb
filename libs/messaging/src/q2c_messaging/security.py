"""How every Kafka client of ours authenticates: one place that turns the environment
(Q2C_KAFKA_USERNAME, Q2C_KAFKA_PASSWORD, Q2C_KAFKA_SASL_MECHANISM) into the keyword
arguments aiokafka takes, and into FastStream's security object.

No username = PLAINTEXT, as an unsecured broker expects (Q2C_KAFKA_BOOTSTRAP to such a
cluster keeps working). With one = SASL over plain TCP with SCRAM (docs/security.md says
what TLS would add). The password is never part of a repr or a log line."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faststream.security import BaseSecurity, SASLScram256, SASLScram512

USERNAME_ENV = "Q2C_KAFKA_USERNAME"
PASSWORD_ENV = "Q2C_KAFKA_PASSWORD"  # noqa: S105 - the variable's name, not a password
MECHANISM_ENV = "Q2C_KAFKA_SASL_MECHANISM"
DEFAULT_MECHANISM = "SCRAM-SHA-512"
MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256")


class CredentialsError(ValueError):
    pass


@dataclass(frozen=True)
class KafkaCredentials:
    username: str
    password: str = field(repr=False)
    mechanism: str = DEFAULT_MECHANISM

    def __post_init__(self) -> None:
        if self.mechanism not in MECHANISMS:
            raise CredentialsError(f"{MECHANISM_ENV}={self.mechanism!r}: expected one of {', '.join(MECHANISMS)}")
        if not self.username or not self.password:
            raise CredentialsError(f"{USERNAME_ENV} and {PASSWORD_ENV} go together")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "KafkaCredentials | None":
        """The credentials the environment names, or None for PLAINTEXT."""
        env = os.environ if env is None else env
        username = env.get(USERNAME_ENV) or ""
        if not username:
            return None
        return cls(username, env.get(PASSWORD_ENV) or "", env.get(MECHANISM_ENV) or DEFAULT_MECHANISM)

    @classmethod
    def from_file(cls, path: Path) -> "KafkaCredentials":
        """A `.q2c/credentials/<principal>.env` file (KEY=value lines)."""
        values = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
        found = cls.from_env(values)
        if found is None:
            raise CredentialsError(f"{path}: no {USERNAME_ENV}")
        return found

    def env(self) -> dict[str, str]:
        return {USERNAME_ENV: self.username, PASSWORD_ENV: self.password, MECHANISM_ENV: self.mechanism}

    def env_file_text(self) -> str:
        return "".join(f"{k}={v}\n" for k, v in self.env().items())

    def faststream_security(self) -> BaseSecurity:
        kind = SASLScram512 if self.mechanism == "SCRAM-SHA-512" else SASLScram256
        return kind(username=self.username, password=self.password)


def security_kwargs(credentials: KafkaCredentials | None = None, *, from_env: bool = True) -> dict[str, Any]:
    """aiokafka keyword arguments (producer, consumer, admin client) for `credentials`, or for
    the environment's when none are given and `from_env`; empty = PLAINTEXT."""
    if credentials is None and from_env:
        credentials = KafkaCredentials.from_env()
    if credentials is None:
        return {}
    return {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": credentials.mechanism,
        "sasl_plain_username": credentials.username,
        "sasl_plain_password": credentials.password,
    }
