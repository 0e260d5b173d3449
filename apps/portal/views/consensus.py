"""Consensus: PoLe learning blocks, difficulty (required gain), block intervals, rewards."""

from __future__ import annotations

import portal_ledger as pl
import streamlit as st
from portal_charts import line
from portal_ui import require

data, roles = require("consensus")
st.title("Consensus (Proof of Learning)")
tasks = data.tasks()
if not tasks:
    st.info("No task published yet: no learning block.")
    st.stop()
task_id = st.selectbox("Task", list(tasks), format_func=lambda t: f"{tasks[t]['title']} ({t})")
task = tasks[task_id]
blocks = pl.versions(data, task_id)
blocks = blocks[blocks["height"] > 0]
if blocks.empty:
    st.info("No learning block yet: the model is still version 0.")
else:
    intervals = blocks["interval_s"].dropna()
    cv = (
        float(intervals.std(ddof=0) / intervals.mean())
        if len(intervals) > 1 and intervals.mean()
        else None
    )
    cols = st.columns(4)
    cols[0].metric("Learning blocks", len(blocks))
    cols[1].metric("Mean interval (s)", f"{intervals.mean():.1f}" if len(intervals) else "—")
    cols[2].metric("Target interval (s)", f"{task['target_interval_ms'] / 1000:.1f}")
    cols[3].metric(
        "Interval CV",
        f"{cv:.2f}" if cv is not None else "—",
        help="coefficient of variation of block intervals (lower = steadier)",
    )
    show = [
        c
        for c in (
            "height",
            "time",
            "interval_s",
            "required_gain_bp",
            "decayed",
            "gain_bp",
            "metric_bp",
            "sealer",
            "next_required_gain_bp",
        )
        if c in blocks
    ]
    st.dataframe(blocks[show], hide_index=True)
    st.caption(
        "bp = basis points, 1/10,000 of AUROC. metric_bp: the version's AUROC, measured by one "
        "attesting site on its own held-out rows (the median gain); gain_bp: its gain over the "
        "parent, at that site; required_gain_bp: the gain the block had to reach (the "
        "difficulty); next_required_gain_bp: what it sets for the next block."
    )
    decay = int(task.get("gain_decay_intervals", 0))
    if decay:
        late = int(blocks["decayed"].sum()) if "decayed" in blocks else 0
        st.caption(
            f"A block that came later than the target interval met a lower requirement: the "
            f"parent's, falling to the task's floor of {task['min_required_gain_bp']} bp over "
            f"{decay} more target intervals ({decay * task['target_interval_ms'] / 1000:.0f} s), "
            f"so that the chain does not wait for a gain that no longer comes (decisions/0009, "
            f'"Liveness"). {late} of {len(blocks)} blocks here met a decayed requirement '
            f"(column decayed); required_gain_bp is what each block met."
        )
    if len(intervals):
        st.subheader("Block intervals")
        line(
            blocks[["height", "interval_s"]].dropna(),
            x="height:O",
            y="interval_s:Q",
            title="seconds since the parent block",
            rule=task["target_interval_ms"] / 1000,
            rule_label="target interval",
        )
    if "required_gain_bp" in blocks:
        st.subheader("Difficulty (required gain, basis points)")
        line(
            blocks[["height", "required_gain_bp"]],
            x="height:O",
            y="required_gain_bp:Q",
            title="required gain (bp)",
            y_format="d",
        )
    if "rewards" in blocks:
        st.subheader("Rewards per block")
        rows = [
            {"height": int(b["height"]), "member": m, "units": u}
            for b in blocks.to_dict("records")
            for m, u in (b["rewards"] or {}).items()
        ]
        if rows:
            import pandas as pd

            st.bar_chart(pd.DataFrame(rows), x="height", y="units", color="member")

st.subheader("Balances")
balances = pl.balances(data)
if balances.empty:
    st.info("No reward has been paid yet.")
else:
    st.dataframe(balances, hide_index=True)
