"""Training: this member's updates and their fate, endorsements given and received."""

from __future__ import annotations

import portal_ledger as pl
import streamlit as st
from portal_charts import short
from portal_ui import require

data, roles = require("training")
me = data.member_id
st.title("Training")

mine = pl.updates(data, member=me)
votes = pl.endorsements(data)
st.subheader("Updates this member submitted")
if mine.empty:
    st.info(f"{me} has not submitted any update.")
else:
    fates = pl.update_fates(mine)
    for col, (label, count) in zip(st.columns(len(fates)), fates.items(), strict=True):
        col.metric(label, count)
    st.dataframe(mine.assign(update_id=mine["update_id"].map(short)), hide_index=True)
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

refused = pl.refused(data, me)
if not refused.empty:
    st.subheader("Transactions the contract refused")
    st.caption("Kept on the ledger with their validation code (docs/decisions/0001-protocol.md).")
    st.dataframe(refused, hide_index=True)

st.subheader("Endorsements received")
received = votes[votes["submitter"] == me]
if received.empty:
    st.info("No verifier has judged an update of this member yet.")
else:
    st.dataframe(received.assign(update_id=received["update_id"].map(short)), hide_index=True)

st.subheader("Endorsements given")
given = votes[votes["endorser"] == me]
if given.empty:
    st.info(
        "This member has not endorsed any update (it needs the verifier role and a seat "
        "in an update's committee)."
    )
else:
    st.dataframe(given.assign(update_id=given["update_id"].map(short)), hide_index=True)
