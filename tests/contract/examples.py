"""The examples of docs/contract.md: every ```json block, with the topic and key named by the
`<!-- example: <topic> key=<key> -->` line above it."""

import json
import re
from dataclasses import dataclass
from typing import Any

from q2c_localstack.contract import REPO

CONTRACT_DOC = REPO / "docs" / "contract.md"
_BLOCK = re.compile(r"(?:<!-- example: (?P<topic>\S+) key=(?P<key>\S+) -->\n)?```json\n(?P<body>.*?)```", re.S)


@dataclass(frozen=True)
class Example:
    topic: str
    key: str
    value: dict[str, Any]
    line: int

    def __str__(self) -> str:
        return f"docs/contract.md:{self.line} ({self.topic})"


def examples(text: str | None = None) -> list[Example]:
    text = CONTRACT_DOC.read_text() if text is None else text
    found = []
    for match in _BLOCK.finditer(text):
        line = text.count("\n", 0, match.start("body"))
        if match["topic"] is None:
            raise AssertionError(f"docs/contract.md:{line}: a ```json block without an example line above it")
        found.append(Example(match["topic"], match["key"], json.loads(match["body"]), line))
    return found
