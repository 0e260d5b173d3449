"""Training: this member's work. A hospital's updates and their fate and the endorsements it
received, a verifier's endorsements given, an aggregator's aggregates and what became of them."""

from __future__ import annotations

import portal_ledger as pl
import streamlit as st
from portal_charts import short
from portal_ui import require

data, roles = require("training")
me = data.member_id
st.title("Training")

votes = pl.endorsements(data)
METRIC_BP = (
    "metric_bp: the AUROC the endorser measured, on its own held-out rows, for the model with the "
    "update applied, in bp = basis points (1/10,000: 7500 is AUROC 0.75). A verifier publishes it "
    'only when it accepts (0 otherwise; docs/decisions/0004, "What the verifiers publish").'
)


def show_updates() -> None:
    """A hospital's updates: their fate, the never-included ones, the rejected ones' reasons."""
    mine = pl.updates(data, member=me)
    st.subheader("Updates this member submitted")
    if mine.empty:
        st.info(f"{me} has not submitted any update.")
        return
    fates = pl.update_fates(mine)
    for col, (label, count) in zip(st.columns(len(fates)), fates.items(), strict=True):
        col.metric(label, count)
    st.dataframe(mine.assign(update_id=mine["update_id"].map(short)), hide_index=True)
    st.caption(
        "reject_reasons: the reasons of the committee's verifiers that voted to reject. On an "
        "update that was accepted or included they are an outvoted minority's: the update "
        "passed its committee's quorum all the same."
    )
    stuck = mine[mine["never_included"] != ""]
    if not stuck.empty:
        st.warning(
            "Never to be included in a model version: "
            + "; ".join(
                f"{short(u)} ({status}): {why}"
                for u, status, why in zip(
                    stuck["update_id"], stuck["status"], stuck["never_included"], strict=True
                )
            )
        )
        st.caption(
            "The contract refuses such an update in any aggregate or block (a revoked member's, "
            "or one more than the task's max_staleness versions behind the head: the head only "
            "grows), whatever its committee decides for a pending one. It keeps its status on "
            "the ledger and earns nothing, and the ε declared for it stays spent; a member not "
            "revoked trains on a newer version instead "
            '(docs/decisions/0001-protocol.md, "Staleness at inclusion").'
        )
    rejected = mine[mine["status"] == "rejected"]
    if not rejected.empty:
        st.warning(
            "Rejected updates and the verifiers' reasons: "
            + "; ".join(
                f"{short(u)}: {r or 'no reason'}"
                for u, r in zip(rejected["update_id"], rejected["reject_reasons"], strict=True)
            )
        )
        if rejected["reject_reasons"].str.contains("on probation", regex=False).any():
            st.caption(
                "On probation: this member's previous judged update was rejected as a direction "
                "outlier, so until one of its updates is accepted the verifiers reject any update "
                "that points against the consortium's trajectory (docs/decisions/0007-bafl.md)."
            )
        if rejected["reject_reasons"].str.contains("record z", regex=False).any():
            st.caption(
                "Record z: this member's earlier updates in the task, taken together, pointed "
                "against the consortium's trajectory beyond what noise does, so the verifiers "
                "reject any update of it that does not clearly point along the trajectory "
                '(docs/decisions/0007-bafl.md, "A member\'s record").'
            )


def show_aggregates() -> None:
    """An aggregator's aggregates (PostAggregate) and what became of each."""
    st.subheader("Aggregates this member posted")
    posted = pl.aggregates(data, by=me)
    if posted.empty:
        st.info(f"{me} has not posted any aggregate yet.")
        return
    short_ids = {c: posted[c].map(short) for c in ("aggregate_id", "proposal_id")}
    st.dataframe(posted.assign(**short_ids), hide_index=True)
    st.caption(
        "Each aggregate is the encrypted weighted sum of accepted updates computed on "
        "base_version (PostAggregate); a sealer decrypts it and proposes it as the next version. "
        "status: the version it became, or how the proposal that named it (proposal_id) closed "
        "(below_target: the attested gain fell short of the required gain), or why none was made "
        "(docs/decisions/0001-protocol.md)."
    )


# Each role sees its own work: a hospital its updates and the endorsements they received, a
# verifier the endorsements it gave, an aggregator its aggregates (it trains on no data, nobody
# judges it and it judges nothing). An admin does none of these: it oversees the consortium, so it
# sees every member's updates, which any member may read on the ledger.
trains = "hospital" in roles
if "aggregator" in roles:
    show_aggregates()
if trains:
    show_updates()
if not set(roles) & {"hospital", "verifier", "aggregator"}:
    st.subheader("Updates on the ledger (every member's)")
    every = pl.updates(data)
    if every.empty:
        st.info("No member has submitted an update yet.")
    else:
        st.dataframe(every.assign(update_id=every["update_id"].map(short)), hide_index=True)
        st.caption(
            "This member trains and verifies nothing; the updates of every member are shown "
            "instead, with their fate. reject_reasons on an accepted or included update are an "
            "outvoted minority's."
        )

refused = pl.refused(data, me)
if not refused.empty:
    st.subheader("Transactions the contract refused")
    st.caption("Kept on the ledger with their validation code (docs/decisions/0001-protocol.md).")
    st.dataframe(refused, hide_index=True)

if trains:
    st.subheader("Endorsements received")
    received = votes[votes["submitter"] == me]
    if received.empty:
        st.info("No verifier has judged an update of this member yet.")
    else:
        st.dataframe(received.assign(update_id=received["update_id"].map(short)), hide_index=True)
        st.caption(METRIC_BP)

if "verifier" in roles:
    st.subheader("Endorsements given")
    given = votes[votes["endorser"] == me]
    if given.empty:
        st.info(
            "This member has not endorsed any update (it needs the verifier role and a seat "
            "in an update's committee)."
        )
    else:
        st.dataframe(given.assign(update_id=given["update_id"].map(short)), hide_index=True)
        st.caption(METRIC_BP)
