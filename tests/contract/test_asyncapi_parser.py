"""docs/asyncapi.json through the reference parser (@asyncapi/parser, pinned by
contracts/asyncapi/package-lock.json and installed with `npm ci` on first use), and its
operations: who sends and who receives on every channel, as the topic catalog says."""

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from q2c_localstack.asyncapi import OUTPUT, document
from q2c_localstack.config import DEPLOY
from q2c_localstack.contract import CONTRACTS
from q2c_messaging.catalog import load_catalog

TOOL = CONTRACTS / "asyncapi"


@pytest.fixture(scope="module")
def parser() -> Path:
    """The pinned parser, installed here if `make` has not done it yet. No skip: a machine
    without Node 20 and npm fails this test."""
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "Node 20 and npm are needed for the AsyncAPI check"
    installed = TOOL / "node_modules" / ".package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < (TOOL / "package-lock.json").stat().st_mtime:
        run = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=TOOL,
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, f"npm ci failed in contracts/asyncapi:\n{run.stdout}\n{run.stderr}"
    return TOOL / "validate.mjs"


def parse(parser: Path, path: Path) -> tuple[int, dict[str, Any]]:
    run = subprocess.run(["node", str(parser), str(path)], cwd=TOOL, capture_output=True, text=True, timeout=120)
    assert run.stdout, run.stderr
    return run.returncode, json.loads(run.stdout.splitlines()[-1])


def test_the_reference_parser_accepts_the_document(parser: Path) -> None:
    code, report = parse(parser, OUTPUT)
    assert code == 0 and report["errors"] == [], report["errors"]
    assert report["warnings"] == [], report["warnings"]
    assert report["version"] == "3.0.0"
    catalog = load_catalog(DEPLOY / "kafka" / "topics.yaml")
    assert report["channels"] == len(list(catalog))
    parsed = {(o["action"], o["channel"][0], o["id"].split("__")[0]) for o in report["operations"]}
    expected = {(action, spec.name, party.replace("-", "_")) for spec in catalog
                for action, parties in (("send", spec.writers), ("receive", spec.consumers)) for party in parties}
    assert parsed == expected


def test_every_channel_has_a_sender_and_a_receiver() -> None:
    doc = document(load_catalog(DEPLOY / "kafka" / "topics.yaml"))
    for name, channel in doc["channels"].items():
        actions = {o["action"] for o in doc["operations"].values() if o["channel"]["$ref"] == f"#/channels/{name}"}
        assert actions == {"send", "receive"}, channel["address"]


def test_the_parser_refuses_a_broken_document(parser: Path, tmp_path: Path) -> None:
    broken = copy.deepcopy(json.loads(OUTPUT.read_text()))
    operation = next(iter(broken["operations"].values()))
    operation["action"] = "publish"  # AsyncAPI 2 wording, not 3
    operation["channel"] = {"$ref": "#/channels/no_such_channel"}
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    code, report = parse(parser, path)
    assert code == 1 and report["errors"], report
