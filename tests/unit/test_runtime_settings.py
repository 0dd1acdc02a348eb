"""What a service process reads from its environment."""

import pytest

from q2c_messaging.settings import RuntimeSettings


def test_the_http_host_is_loopback_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("Q2C_HTTP_HOST", raising=False)
    assert RuntimeSettings(db_url="postgresql://x").http_host == "127.0.0.1"
    monkeypatch.setenv("Q2C_HTTP_HOST", "0.0.0.0")
    assert RuntimeSettings(db_url="postgresql://x").http_host == "0.0.0.0"
