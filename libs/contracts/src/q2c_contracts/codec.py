"""Bytes on the wire: UTF-8 JSON objects (CONTRACT.md §0)."""

import json
from typing import Any

from pydantic import BaseModel


class NotAJsonObject(ValueError):
    """The record value is not a UTF-8 JSON object."""


def encode(message: BaseModel) -> bytes:
    return message.model_dump_json().encode("utf-8")


def decode_object(raw: bytes | None) -> dict[str, Any]:
    if raw is None:
        raise NotAJsonObject("record has no value")
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotAJsonObject(f"value is not UTF-8 JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise NotAJsonObject(f"value is JSON {type(value).__name__}, not an object")
    return value
