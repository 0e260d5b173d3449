"""`consortium trace` prints an attestation's metrics only when the attester measured them: one
that abstained could not measure the metric on its rows, and one that rejected did not score the
proposed version, but measured its parent when its rows could; what it did not measure it sends as
0 (`consortium.federation.attester`), a placeholder the contract never reads (it ranks the
accepting attestations only; decisions/0001, AttestBlock). A reject's reason is printed beside it
("-" for a reject recorded before attesters gave reasons)."""

from __future__ import annotations

from io import StringIO

from rich.console import Console

from consortium.cli.trace import print_provenance
from consortium.pole.provenance import AttestationInfo, Provenance

VERDICTS = [  # (attester, verdict, reason, metric_bp, base_metric_bp), as each sent them
    ("hungary", "accept", None, 7450, 7100),
    ("switzerland", "abstain", None, 0, 0),
    ("va", "reject", "VERSION_MISMATCH", 0, 7100),  # measured the parent, not the version
    ("basel", "reject", "PROPOSAL_LATE", 0, 0),  # its rows could not measure the parent either
    ("bern", "reject", None, 0, 7100),  # attested before attesters gave reasons
]


def _provenance() -> Provenance:
    return Provenance(
        task_id="heart", version=1, model_digest="ab" * 32, blob_digest="cd" * 32,
        parent_digest="ef" * 32, aggregate_id="agg", aggregate_digest="01" * 32,
        sealer="cleveland", metric_bp=7450, base_metric_bp=7100, gain_bp=350,
        required_gain_bp=0, next_required_gain_bp=0, interval_ms=60_000, ms=1_795_000_000_000,
        rewards={}, members=[], epsilon_by_member={}, updates=[], proposal=None, aggregate=None,
        attestations=[
            AttestationInfo(member_id=m, verdict=v, reason=r, metric_bp=bp, base_metric_bp=base)
            for m, v, r, bp, base in VERDICTS
        ],
    )  # fmt: skip


def _attestation_rows(text: str) -> dict[str, list[str]]:
    """The attestations table's rows by attester: verdict, reason, AUROC bp, parent bp, tx."""
    table = text[text.index("attestations") :]
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if cells and cells[0] in {m for m, *_ in VERDICTS}:
            rows[cells[0]] = cells[1:]
    return rows


def test_trace_prints_no_metric_for_an_attester_that_did_not_measure_it() -> None:
    out = StringIO()

    print_provenance(Console(file=out, width=200), _provenance())

    rows = _attestation_rows(out.getvalue())
    assert rows["hungary"][:4] == ["accept", "-", "7450", "7100"]
    assert rows["switzerland"][:4] == ["abstain", "-", "-", "-"]
    assert rows["va"][:4] == ["reject", "VERSION_MISMATCH", "-", "7100"]  # the parent it measured
    assert rows["basel"][:4] == ["reject", "PROPOSAL_LATE", "-", "-"]  # the placeholder goes
    assert rows["bern"][:4] == ["reject", "-", "-", "7100"]
