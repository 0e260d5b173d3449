"""The committed JSON Schemas match the pydantic models and accept what the contract stores."""

from __future__ import annotations

import importlib.util
import json

import jsonschema

from .conftest import ROOT, VECTORS

SPEC = importlib.util.spec_from_file_location("schemas_gen", ROOT / "data_schemas" / "generate.py")
assert SPEC is not None and SPEC.loader is not None
schemas_gen = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(schemas_gen)

PREFIX_TO_SCHEMA = {
    "member/": "Member", "task/": "Task", "sharekey/": "ShareKey", "endorse/": "Endorsement",
    "proposal/": "Proposal", "attest/": "Attestation", "included/": "Included",
    "version/": "LearningBlock", "head/": "Head", "balance/": "Balance", "epsilon/": "Epsilon",
    "download/": "Download", "update/": "Update", "aggregate/": "Aggregate",
}  # fmt: skip


def test_committed_schemas_are_up_to_date() -> None:
    assert schemas_gen.stale_files() == []


def test_every_stored_value_in_the_vectors_validates_against_its_schema() -> None:
    ledger = ROOT / "data_schemas" / "ledger"
    validators = {
        prefix: jsonschema.Draft202012Validator(
            json.loads((ledger / f"state.{name}.schema.json").read_text())
        )
        for prefix, name in PREFIX_TO_SCHEMA.items()
    }
    values: dict[str, tuple[str, object]] = {}
    for path in sorted((VECTORS / "cases").glob("*.json")):
        for key, value in json.loads(path.read_text())["state_after"].items():
            values[json.dumps([key, value], sort_keys=True)] = (key, value)
    for key, value in values.values():
        prefix = key.split("/")[0] + "/"
        if prefix == "sub/":
            assert isinstance(value, str)
        else:
            validators[prefix].validate(value)
    assert len(values) > 80  # distinct (key, value) pairs over all vectors


def test_schema_refuses_a_float() -> None:
    schema = json.loads((ROOT / "data_schemas/ledger/state.Balance.schema.json").read_text())
    try:
        jsonschema.validate({"member_id": "h1", "units": 1.5}, schema)
    except jsonschema.ValidationError:
        return
    raise AssertionError("a float balance passed the schema")
