"""The run report's JSON (``deploy``/``rollback --format json``) follows its schema, whose outcome and cause
enums are exactly the one vocabulary of ``netimmutable.outcomes``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from netimmutable.deploy_model import Phase
from netimmutable.outcomes import Cause, HostOutcome

from .conftest import Net

SCHEMA = Path(__file__).parents[3] / "netimmutable" / "schemas" / "run-report.schema.json"


def _schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA.read_text())
    return data


def test_the_schema_names_every_outcome_cause_and_phase_and_nothing_else() -> None:
    defs = _schema()["$defs"]
    assert defs["outcome"]["enum"] == [o.value for o in HostOutcome]
    assert defs["cause"]["enum"] == [c.value for c in Cause]
    assert defs["phase"]["enum"] == [p.value for p in Phase]


def test_deploy_and_rollback_json_validate(net: Net) -> None:
    validator = jsonschema.Draft202012Validator(_schema())
    net.wrong_remote_as("r2")  # r2 is rolled back, the others are unchanged
    deployed = net.cli("deploy", "--format", "json", "--yes")
    assert deployed.exit_code == 4
    report = json.loads(deployed.stdout)
    validator.validate(report)
    assert {h["host"]: (h["outcome"], h["cause"]) for h in report["hosts"]}["r2"] == ("rolled-back", "checks")

    rolled = net.cli("rollback", "r1", "--format", "json", "--yes")
    assert rolled.exit_code == 0, rolled.output
    validator.validate(json.loads(rolled.stdout))


def test_a_rolled_back_host_records_when_its_check_failed_and_when_its_rollback_verified(net: Net) -> None:
    net.wrong_remote_as("r2")

    report = net.deploy(canary="r2")

    r2 = report.host("r2")
    assert r2 is not None and r2.failed_utc is not None and r2.ended_utc is not None, r2
    assert report.started_utc <= r2.failed_utc <= r2.ended_utc <= report.ended_utc
    [run] = net.records().runs(limit=1)
    stored = run.host("r2")
    assert stored is not None and (stored.failed_utc, stored.ended_utc) == (r2.failed_utc, r2.ended_utc)


def _doc_table(heading: str) -> set[str]:
    """The first-column words of the docs/change-window.md table whose header row starts with ``heading``."""
    import re

    text = (Path(__file__).parents[3] / "docs" / "change-window.md").read_text()
    start = text.index(f"| {heading} |")
    rows = []
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("| `"):
            break
        rows.append(re.match(r"\| `([^`]+)`", line).group(1))  # type: ignore[union-attr]
    return set(rows)


def test_the_docs_tables_name_every_outcome_and_cause_and_nothing_else() -> None:
    assert _doc_table("outcome") == {o.value for o in HostOutcome}
    assert _doc_table("cause") == {c.value for c in Cause if c is not Cause.NONE}
