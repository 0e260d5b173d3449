"""Audit: blocks and transactions with filters, chain verification, model tracing, CSV export."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pandas as pd
import portal_actions as act
import portal_ledger as pl
import streamlit as st
from portal_charts import short
from portal_data import VALID, PortalUnavailable
from portal_ui import require, while_signed_in

data, roles = require("audit")
st.title("Audit")
txs = pl.tx_table(data)
refused = int((txs["code"] != VALID).sum())
st.caption(
    f"{len(txs)} transactions in {data.height()} blocks, valid and refused alike: {refused} "
    "refused by the contract (kept on the ledger with their validation code; choose the codes "
    "under Validation code to see them)."
)

with st.expander("Filters", expanded=True):
    c1, c2, c3, c4 = st.columns(4)
    members = c1.multiselect("Member", sorted(txs["member"].unique()))
    types = c2.multiselect("Type", sorted(txs["type"].unique()))
    task_ids = c3.multiselect("Task", sorted(t for t in txs["task"].unique() if t))
    codes = c4.multiselect("Validation code", sorted(txs["code"].unique()))
    days = sorted({t.date() for t in txs["time"]}) if not txs.empty else []
    span = st.date_input("Time (UTC days)", value=(days[0], days[-1]) if days else None)
shown = txs
for column, chosen in (("member", members), ("type", types), ("task", task_ids), ("code", codes)):
    if chosen:
        shown = shown[shown[column].isin(chosen)]
if isinstance(span, tuple) and len(span) == 2:
    lo = datetime.combine(span[0], time.min, tzinfo=UTC)
    hi = datetime.combine(span[1], time.max, tzinfo=UTC)
    shown = shown[(shown["time"] >= lo) & (shown["time"] <= hi)]

st.subheader(f"Transactions ({len(shown)} shown)")
st.dataframe(shown, hide_index=True)
st.download_button(  # made on click, as the other downloads: see views/models.py
    "Export CSV",
    while_signed_in(lambda: shown.to_csv(index=False).encode("utf-8")),
    file_name=f"ledger-{data.member_id}.csv",
    mime="text/csv",
)

st.subheader("Blocks")
if txs.empty:
    st.info("The ledger holds no block with a transaction yet.")
else:
    blocks = (
        txs.groupby("block")
        .agg(
            time=("time", "min"),
            transactions=("tx_id", "count"),
            refused=("code", lambda c: int((c != "VALID").sum())),
            types=("type", lambda t: ", ".join(sorted(set(t)))),
        )
        .reset_index()
    )
    st.dataframe(blocks, hide_index=True)

st.subheader("Attestations of proposed blocks")
attested = pl.attestations(data)
# Member and Task narrow this table as they do the transactions (an attestation is one member's
# AttestBlock on one task); Type, Validation code and Time do not: every row is a valid
# AttestBlock, and pl.attestations has no time column.
picked = attested
for column, chosen in (("site", members), ("task", task_ids)):
    if chosen:
        picked = picked[picked[column].isin(chosen)]
if attested.empty:
    st.info("No proposed block has been attested yet.")
elif picked.empty:
    st.info(f"No attestation matches the filters (Member, Task): {len(attested)} in all.")
else:
    st.caption(
        f"{len(picked)} of {len(attested)} shown (the Member and Task filters apply here). Every "
        "committee member's verdict on every proposed block, sealed or not (AttestBlock): a reject "
        "says why (reason), and each shows the AUROC it measured on its own held-out rows (blank "
        "where it measured none)."
    )
    st.dataframe(
        picked.drop(columns=["model_digest"]).assign(proposal_id=picked["proposal_id"].map(short)),
        hide_index=True,
    )
    st.caption(pl.ATTEST_REASONS)

st.subheader("Model downloads")
downloads = pl.downloads(data)
if downloads.empty:
    st.info("No model download is recorded on the ledger.")
else:
    st.caption("Who downloaded which version, as recorded on the ledger (RecordDownload).")
    st.dataframe(downloads, hide_index=True)

st.subheader("Verify the chain")
st.caption("Re-checks every block's hash chain and signatures and replays the world state.")
# Streamlit forgets a click on the next rerun (the trace button's, a filter's): each action's last
# result is kept in the session and shown until the action is run again
if st.button("Verify the whole ledger"):
    bar = st.progress(0.0, text="starting")
    try:
        report = act.verify_chain(data, lambda f, label: bar.progress(f, text=label))
    except PortalUnavailable as err:
        st.session_state["audit_verify"] = ("error", f"Verification could not run: {err}", None)
    except Exception as err:  # a verification failure is a finding, not a crash
        st.session_state["audit_verify"] = ("error", f"The ledger did NOT verify: {err}", None)
    else:
        bar.progress(1.0, text="done")
        where = report.failure.describe() if report.failure else "no detail"
        st.session_state["audit_verify"] = (
            ("success", f"The ledger verifies: {report.blocks} blocks, {report.transactions} "
             f"transactions ({report.invalid} refused, kept with their codes), {report.members} "
             f"members, in {report.elapsed_ms} ms.")
            if report.ok else ("error", f"The ledger does NOT verify: {where}")
        ) + (report.model_dump(mode="json"),)  # fmt: skip
if "audit_verify" in st.session_state:
    kind, text, detail = st.session_state["audit_verify"]
    (st.success if kind == "success" else st.error)(text)
    if detail is not None:
        st.json(detail, expanded=False)

st.subheader("Trace a model version")
tasks = data.tasks()
if not tasks:
    st.info("No task published yet.")
    st.stop()
c1, c2 = st.columns(2)
task_id = c1.selectbox("Task", list(tasks), key="trace_task")
heights = [int(h) for h in pl.versions(data, task_id)["height"]]
version = c2.selectbox("Version", heights[::-1], key="trace_version")
st.dataframe(pd.DataFrame(pl.lineage(data, task_id, int(version))), hide_index=True)
if st.button("Run the full trace (recomputes the version from the ledger and the blobs)"):
    try:
        with st.spinner("Tracing…"):
            traced = act.trace_version(data, task_id, int(version))
        st.session_state["audit_trace"] = (task_id, int(version), traced)
    except Exception as err:  # a trace that cannot be done is a finding, not a crash
        st.session_state["audit_trace"] = (task_id, int(version), str(err))
if "audit_trace" in st.session_state:
    traced_task, traced_version, traced = st.session_state["audit_trace"]
    if (traced_task, traced_version) != (task_id, int(version)):
        st.caption(f"Last trace run: version {traced_version} of task {traced_task}.")
    if isinstance(traced, str):
        st.error(f"Trace failed: {traced}")
    else:
        verdicts = {k: traced[k] for k in ("blob_ok", "aggregate_ok", "model_ok") if k in traced}
        if traced["recomputed"] and all(verdicts.values()) and not traced["problems"]:
            st.success(f"Version {traced_version} recomputed byte for byte: {verdicts}")
        elif traced["recomputed"]:
            st.error(f"Version {traced_version} does NOT trace: {'; '.join(traced['problems'])}")
        else:
            st.info(
                "Provenance read from the ledger; the recomputation needs the model key: "
                + "; ".join(traced["problems"])
            )
        prov = traced["provenance"]
        st.dataframe(pl.contributors(prov), hide_index=True)
        st.caption(pl.PROVENANCE_METRICS)
        st.json(prov, expanded=False)
