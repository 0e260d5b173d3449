"""Models: versions with metrics per site, and download with provenance (as `model pull`)."""

from __future__ import annotations

import json
from functools import partial

import portal_actions as act
import portal_ledger as pl
import streamlit as st
from portal_auth import allowed
from portal_charts import bp_text, line, short
from portal_ui import require, while_signed_in

data, roles = require("models")
st.title("Models")
tasks = data.tasks()
if not tasks:
    st.info("No task is published yet, so there is no model.")
    st.stop()
task_id = st.selectbox("Task", list(tasks), format_func=lambda t: f"{tasks[t]['title']} ({t})")
versions = pl.versions(data, task_id)
table = versions.copy()
# version 0 is the published initial model: nobody attested a metric for it
table["auroc"] = [
    bp_text(v) if h > 0 else "—"
    for h, v in zip(table["height"], table.get("metric_bp", [None] * len(table)), strict=True)
]
if "model_digest" in table:
    table["model_digest"] = table["model_digest"].map(short)
table["updates"] = table["updates"].map(len)
show = [
    c
    for c in ("height", "time", "auroc", "measured_by", "gain_bp", "sealer", "updates",
              "model_digest")
    if c in table
]  # fmt: skip
st.dataframe(table[show], hide_index=True)
st.caption(
    "auroc: measured by one site (measured_by) on its own held-out rows: the attester whose gain "
    "was the median. Sites differ in size and case mix, so compare a version with its parent "
    "through gain_bp (measured at one site), not auroc across rows. bp = basis points, "
    "1/10,000: a gain_bp of 100 is +0.0100 AUROC."
)

sites = pl.attestations(data)
final = set(versions["proposal_id"]) if "proposal_id" in versions else set()
sites = sites[(sites["task"] == task_id) & sites["proposal_id"].isin(final)]
if not sites.empty:
    st.subheader("Metric per site")
    st.caption(
        "Each attester evaluated the proposed version on its own held-out data; one that abstained "
        "could not measure the metric there, and one that rejected did not score the version (its "
        "reason says why it rejected): neither has a metric, and the chart leaves them out."
    )
    measured = sites.dropna(subset=["metric_bp"])  # an abstention or reject has no metric
    per_site = measured.assign(auroc=measured["metric_bp"].astype(float) / 10000)
    line(
        per_site[["height", "site", "auroc"]],
        x="height:O",
        y="auroc:Q",
        color="site:N",
        title="AUROC per site",
        y_format=".3f",
    )
    st.dataframe(
        sites.drop(columns=["task", "proposal_id"]).assign(
            model_digest=sites["model_digest"].map(short)
        ),
        hide_index=True,
    )
    st.caption(pl.ATTESTED_METRICS)
    if (sites["verdict"] == "reject").any():
        st.caption(pl.ATTEST_REASONS)

st.subheader("Download a version")
heights = [int(h) for h in versions["height"]]
version = st.selectbox("Version", heights[::-1])
if not allowed(roles, "download_model"):
    st.error(
        f"Download refused: member {data.member_id} has roles {', '.join(roles)}; models may be "
        "downloaded by hospitals, verifiers and admins only (auditors and aggregators cannot)."
    )
elif st.button("Pull model (checks the digest, records the download on the ledger)"):
    try:
        with st.spinner("Pulling, checking and recording…"):
            outcome = act.pull_model(data, roles, task_id, int(version))
    except Exception as err:  # a blob missing or failing its check is a finding, not a crash
        st.error(f"Model pull failed: {err}")
    else:
        st.session_state["pulled"] = {"task": task_id, "version": int(version), **outcome}
pulled = st.session_state.get("pulled")
if pulled and (pulled["task"], pulled["version"]) != (task_id, version):
    pulled = None  # the pull of another version
if pulled and not pulled["match"]:
    st.error(
        f"Digest mismatch: ledger {pulled['expected']}, file {pulled['got']}. The file is not "
        "offered; pull the model again."
    )
elif pulled:
    st.success(f"SHA-256 of the model matches the ledger: {pulled['got']}")
    # The bytes are read and hashed again when the button is clicked (a callable), not on every
    # rerun: Streamlit serves a download from its media store at a URL no sign-in guards, so a
    # model waits there only once a signed-in member asked for it, and never after this session
    # signed out.
    st.download_button(
        "Download model (.safetensors)",
        while_signed_in(partial(act.verified_model, pulled["model"], pulled["expected"])),
        file_name=pulled["model"].name,
        mime="application/octet-stream",
    )
    if pulled["provenance"] is not None:
        st.download_button(
            "Download provenance (.json)",
            while_signed_in(partial(act.model_bytes, pulled["provenance"])),
            file_name=pulled["provenance"].name,
            mime="application/json",
        )
        provenance = json.loads(act.model_bytes(pulled["provenance"]))
        st.markdown(pl.provenance_summary(provenance))
        st.caption(
            "Contributors: n_samples = training rows, epsilon_spent = the member's cumulative ε "
            f"on this task (δ = {tasks[task_id].get('delta')}), weight and contribution in "
            "parts per million, reward in units."
        )
        st.dataframe(pl.contributors(provenance), hide_index=True)
        with st.expander("Provenance (JSON)"):
            st.caption(pl.PROVENANCE_METRICS)
            st.json(provenance)

mine = pl.downloads(data)
mine = mine[mine["member"] == data.member_id]
if not mine.empty:
    st.subheader("Downloads this member recorded on the ledger")
    st.dataframe(mine.assign(model_digest=mine["model_digest"].map(short)), hide_index=True)
