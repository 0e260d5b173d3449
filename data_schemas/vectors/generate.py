r"""Generate the shared contract test vectors in `data_schemas/vectors/cases/`.

Each vector is one transaction (or query) run by the Python contract on an in-memory world state:
the state before (key -> JSON value), the creator (certificate included), the transaction (fn,
args, tx_id, timestamp_ms, and ``args_json``: the exact argument text a client sends, which is
what both contracts parse, so that ``100.0`` stays a float), the expected validation code and
result, and the state after. Files are ASCII (``\uXXXX`` escapes), so even a lone surrogate in
an argument survives the file.

``state_before`` holds the keys the transaction read (every key it got and every key its range
reads returned): replaying on it gives the transaction exactly the reads it had on the full world
state, and it keeps each vector a few kilobytes instead of the whole consortium's state.
``state_after`` is ``state_before`` with the transaction's writes applied. The
TypeScript chaincode replays the same files (`chaincode/test/vectors.test.ts`), and
`tests/contract/test_vectors.py` replays them against the Python contract.

The scenario below builds one consortium step by step and records a vector at each step; every
step states the code it expects, so the generator itself fails if the contract changed behaviour.

The test identities' certificates are created once (`identities.json`, made by the consortium CA
of `consortium.identity.ca`) and reused on every run, so regenerating gives identical files.

    .venv/bin/python data_schemas/vectors/generate.py          # rewrite cases/
    .venv/bin/python data_schemas/vectors/generate.py --check  # fail if cases/ is out of date
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from consortium.canonical import canonical_json
from consortium.ledger.base import Creator
from consortium.ledger.contract.memory import MemoryState
from consortium.ledger.contract.scenario import Scenario

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases"
ARGUMENTS = HERE / "arguments.json"
IDENTITIES = HERE / "identities.json"

# name -> (member id in the certificate, MSP, roles in the certificate)
PEOPLE: dict[str, tuple[str, str, list[str]]] = {
    "admin": ("admin", "Org1MSP", ["admin"]),
    "h1": ("h1", "Org1MSP", ["hospital"]),
    "h2": ("h2", "Org2MSP", ["hospital"]),
    "h3": ("h3", "Org3MSP", ["hospital", "verifier"]),
    "v1": ("v1", "Org1MSP", ["verifier"]),
    "v2": ("v2", "Org2MSP", ["verifier"]),
    "v3": ("v3", "Org3MSP", ["verifier"]),
    "agg": ("agg", "Org1MSP", ["aggregator"]),
    "aud": ("aud", "Org2MSP", ["auditor"]),
    "late": ("late", "Org3MSP", ["hospital"]),
    "outsider": ("outsider", "Org9MSP", ["hospital"]),
    "rogue-h1": ("h1", "Org1MSP", ["hospital"]),  # claims h1 with another certificate
}


def load_identities() -> dict[str, Creator]:
    """The stored test identities, created on first use."""
    if not IDENTITIES.exists():
        _create_identities()
    data = json.loads(IDENTITIES.read_text())
    return {name: Creator(**fields) for name, fields in data["identities"].items()}


def _create_identities() -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    from consortium.identity.ca import CertificateAuthority

    ca = CertificateAuthority.create("consortium-vectors")
    out: dict[str, Any] = {}
    for name, (member_id, msp_id, roles) in PEOPLE.items():
        cert, _key = ca.issue(member_id, roles, "client")
        pem = cert.public_bytes(Encoding.PEM).decode()
        out[name] = {"member_id": member_id, "msp_id": msp_id, "roles": roles, "cert_pem": pem}
    IDENTITIES.write_text(json.dumps({"ca_pem": ca.cert_pem, "identities": out}, indent=1) + "\n")


def _plain_state(items: dict[str, bytes]) -> dict[str, Any]:
    return {key: json.loads(value) for key, value in sorted(items.items())}


class ReadTracingState(MemoryState):
    """A memory state that remembers every key a transaction read (point reads and ranges)."""

    def __init__(self, items: dict[str, bytes]) -> None:
        super().__init__(items)
        self.read: set[str] = set()

    def get(self, key: str) -> bytes | None:
        self.read.add(key)
        return super().get(key)

    def range(self, start: str, end: str) -> Iterator[tuple[str, bytes]]:
        for key, value in super().range(start, end):
            self.read.add(key)
            yield key, value


class Recorder:
    """A scenario that records a vector for each transaction it runs."""

    def __init__(self) -> None:
        self.people = load_identities()
        self.sc = Scenario(self.people)
        self.vectors: list[dict[str, Any]] = []
        self.arguments: list[dict[str, Any]] = []
        self.valid_args: dict[str, dict[str, Any]] = {}

    def member_args(self, name: str, roles: list[str] | None = None) -> dict[str, Any]:
        """RegisterMember args for a stored identity."""
        who = self.people[name]
        return {
            "member_id": who.member_id,
            "msp_id": who.msp_id,
            "roles": roles or list(who.roles),
            "cert_pem": who.cert_pem,
        }

    def step(
        self, name: str, who: str, fn: str, args: dict[str, Any], expect: str | None = "VALID",
        *, keep: bool = True, about: str = "", after_ms: int | None = None,
        args_json: str | None = None, group: str = "cases",
    ) -> Any:  # fmt: skip
        """Run one transaction, check its code (unless ``expect`` is None), record the vector;
        ``keep=False`` undoes it."""
        before = self.sc.state.items()
        saved = (self.sc.now_ms, self.sc.counter)
        tracing = ReadTracingState(before)
        self.sc.state = tracing
        tx_id = self.sc.next_tx_id()
        if args_json is not None:
            args = json.loads(args_json)
        outcome = self.sc.run(who, fn, args, tx_id=tx_id, after_ms=after_ms)
        if expect is not None and outcome.code != expect:
            raise SystemExit(f"{name}: expected {expect}, got {outcome.code}: {outcome.message}")
        seen = {key: value for key, value in before.items() if key in tracing.read}
        creator = self.people[who]
        if outcome.valid and args_json is None:
            self.valid_args.setdefault(fn, copy.deepcopy(args))
        (self.vectors if group == "cases" else self.arguments).append(
            {
                "name": name,
                "about": about,
                "state_before": _plain_state(seen),
                "creator": creator.model_dump(mode="json"),
                "tx": {
                    "kind": "query" if self.sc.contract.is_query(fn) else "invoke",
                    "fn": fn,
                    "args": copy.deepcopy(args),
                    "args_json": args_json if args_json is not None else json.dumps(args),
                    "tx_id": tx_id,
                    "timestamp_ms": self.sc.now_ms,
                },
                "expected": {"code": outcome.code, "result": outcome.result},
                "state_after": _plain_state({**seen, **outcome.writes}),
            }
        )
        self.sc.state = MemoryState(tracing.items())
        if not keep:
            self.sc.state = MemoryState(before)
            self.sc.now_ms, self.sc.counter = saved
        return outcome.result

    def _arguments_file(self) -> str:
        """The argument vectors in one file: one creator for all, one compact vector per line,
        `args_json` only (the exact text both contracts parse)."""
        creators = {json.dumps(v["creator"], sort_keys=True) for v in self.arguments}
        assert len(creators) == 1, "argument vectors share one creator"
        lines = []
        for v in self.arguments:
            tx = {k: v["tx"][k] for k in ("kind", "fn", "args_json", "tx_id", "timestamp_ms")}
            short = {
                "name": v["name"], "tx": tx, "expected": v["expected"],
                "state_before": v["state_before"], "state_after": v["state_after"],
            }  # fmt: skip
            lines.append(json.dumps(short, separators=(",", ":")))
        head = json.dumps({"creator": self.arguments[0]["creator"]})[:-1]
        return head + ', "vectors": [\n' + ",\n".join(lines) + "\n]}\n"

    def write(self, check: bool) -> int:
        """Write (or compare) cases/ (one file per vector) and arguments.json; returns the
        number of stale files."""
        CASES.mkdir(exist_ok=True)
        wanted = {
            CASES / f"{i:03d}-{v['name']}.json": json.dumps(v, indent=1) + "\n"
            for i, v in enumerate(self.vectors)
        }
        wanted[ARGUMENTS] = self._arguments_file()
        present = {*CASES.glob("*.json"), *([ARGUMENTS] if ARGUMENTS.exists() else [])}
        stale = sorted(present ^ set(wanted)) + sorted(
            p for p, text in wanted.items() if p in present and p.read_text() != text
        )
        if not check:
            for path in present - set(wanted):
                path.unlink()
            for path, text in wanted.items():
                path.write_text(text)
        return len(stale)


def main() -> int:
    """Build the scenario and write or check the vectors."""
    from mutations import build_mutations
    from scenarios import build  # the steps, kept in their own module

    rec = Recorder()
    build(rec)
    build_mutations(rec)
    for vector in rec.vectors:  # every stored value is canonical JSON of a plain value
        for value in vector["state_after"].values():
            canonical_json(value)
    check = "--check" in sys.argv
    stale = rec.write(check)
    codes = sorted({v["expected"]["code"] for v in rec.vectors})
    print(
        f"{len(rec.vectors)} scenario vectors, {len(codes)} codes, "
        f"{len(rec.arguments)} argument vectors, {stale} stale files"
    )
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    raise SystemExit(main())
