"""Generate the JSON Schemas of the ledger records in `data_schemas/ledger/` from the pydantic
models of `consortium.ledger.contract.records` (the models are the source of truth).

    .venv/bin/python data_schemas/generate.py          # rewrite data_schemas/ledger/
    .venv/bin/python data_schemas/generate.py --check  # exit 1 if a committed schema is stale

One file per model: `state.<Record>.schema.json` for world-state values,
`tx.<Function>.schema.json` for transaction arguments, `query.<Function>.schema.json` for query
arguments.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from consortium.ledger.contract.records import ARGS_MODELS, QUERY_ARGS_MODELS, STATE_MODELS

LEDGER = Path(__file__).resolve().parent / "ledger"


def schemas() -> dict[str, str]:
    """File name -> schema text, for every record and argument model."""
    out: dict[str, str] = {}
    groups = (("state", STATE_MODELS), ("tx", ARGS_MODELS), ("query", QUERY_ARGS_MODELS))
    for prefix, models in groups:
        for name, model in models.items():
            schema = model.model_json_schema()
            schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
            schema["$id"] = f"consortium/ledger/{prefix}.{name}"
            text = json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
            out[f"{prefix}.{name}.schema.json"] = text
    return out


def stale_files() -> list[str]:
    """Names of schema files missing, extra or different from the models."""
    wanted = schemas()
    present = {p.name: p.read_text() for p in LEDGER.glob("*.schema.json")}
    return sorted(
        name for name in set(wanted) | set(present) if wanted.get(name) != present.get(name)
    )


def main() -> int:
    """Write the schemas, or with ``--check`` report stale ones."""
    if "--check" in sys.argv:
        stale = stale_files()
        for name in stale:
            print(f"stale: data_schemas/ledger/{name}")
        return 1 if stale else 0
    LEDGER.mkdir(exist_ok=True)
    wanted = schemas()
    for path in LEDGER.glob("*.schema.json"):
        if path.name not in wanted:
            path.unlink()
    for name, text in wanted.items():
        (LEDGER / name).write_text(text)
    print(f"{len(wanted)} schemas in {LEDGER}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
