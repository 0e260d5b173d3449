"""Overview: this member, its roles, node status, ledger height, latest model, blocks over time."""

from __future__ import annotations

import time

import portal_ledger as pl
import portal_local as loc
import streamlit as st
from portal_charts import bp_text, line
from portal_ui import require

data, roles = require("overview")
member = data.members().get(data.member_id, {})
tasks = data.tasks()
txs = data.transactions()

st.title(f"{data.member_id}")
st.markdown(f"Roles on the ledger: **{', '.join(roles) or 'none'}**")
st.caption(f"Consortium directory: {data.dir}")
balances = pl.balances(data)
units = balances[balances["member"] == data.member_id]["balance"].sum()
cols = st.columns(4)
cols[0].metric("Status on the ledger", member.get("status", "not registered"))
cols[1].metric("Ledger height (blocks)", data.height())
cols[2].metric("Tasks", len(tasks))
cols[3].metric("Reward units", int(units))

st.subheader("Node status")
node = loc.node_status(data.member_dir)
if node is None:
    st.info(f"No node has run for {data.member_id} on this machine (no node.toml or state).")
else:
    settings = node.get("settings", {})
    process = loc.node_process(data.member_dir)
    lock = f"members/{data.member_id}/state/node.lock"
    if process["running"]:
        st.write(f"The node is running (pid {process['pid'] or 'not written yet'}).")
    elif process["running"] is None:
        st.write(f"Whether the node is running cannot be told here: a running node holds {lock}, "
                 "and this system has no /proc/locks to say whether one does.")  # fmt: skip
    else:
        st.write(f"The node is not running (no process holds {lock}).")
    followed, height = node.get("next_block"), data.height()
    if followed is None:
        st.write("The node is configured but has not followed the ledger yet.")
    else:
        behind = height - followed
        ago = int(time.time() - node["state_mtime"])
        progress = "caught up" if behind <= 0 else f"{behind} blocks behind"
        st.write(
            f"It has processed the ledger up to block {followed - 1} of {height - 1} ({progress}); "
            f"it last saved its state {ago} s ago."
            if process["running"] is not False
            else f"When it stopped it had processed the ledger up to block {followed - 1} (the "
            f"ledger now has {height - 1}); it last saved its state {ago} s ago."
        )
    if settings and "hospital" in roles:  # only a hospital trains: the plan is its own
        st.caption(
            f"Task {settings.get('task_id', '?')}, {settings.get('planned_updates', '?')} planned "
            f"updates, differential privacy {'on' if settings.get('dp', True) else 'OFF'}."
        )
    elif settings:
        st.caption(f"Task {settings.get('task_id', '?')}.")
if txs:
    last = txs[-1]
    age_s = max(0, int(time.time() - last.timestamp_ms / 1000))
    mine = sum(t.creator == data.member_id for t in txs)
    st.write(
        f"The ledger is readable. Last transaction: {last.fn} in block {last.block_number}, "
        f"{age_s} s ago. {data.member_id} signed {mine} of the ledger's {len(txs)} transactions "
        "(every member's, valid and refused)."
    )
else:
    st.info("The ledger is readable but holds no transaction yet.")

versions = pl.versions(data)
st.subheader("Latest model per task")
if versions.empty:
    st.info("No task has been published yet, so there is no model.")
else:
    latest = versions.groupby("task").tail(1)
    task_cols = st.columns(max(1, len(latest)))
    for col, row in zip(task_cols, latest.to_dict("records"), strict=False):
        title = tasks.get(row["task"], {}).get("title", row["task"])
        col.metric(
            f"{title}: version {int(row['height'])}", f"AUROC {bp_text(row.get('metric_bp'))}"
        )
        if row.get("measured_by"):
            col.caption(
                f"measured by {row['measured_by']} on its own held-out rows (the median gain among "
                f"{len(row.get('attesters') or [])} attesting sites); see Models for every site"
            )
    blocks = versions[versions["height"] > 0]
    if blocks.empty:
        st.info("No learning block yet: every task is still at its initial model (version 0).")
    elif "metric_bp" in blocks:
        st.subheader("Learning blocks over time")
        chart = blocks.assign(auroc=blocks["metric_bp"] / 10000)[
            ["time", "task", "height", "auroc", "measured_by"]
        ]
        line(chart, x="time:T", y="auroc:Q", color="task:N", title="attested AUROC", y_format=".3f")
        st.caption(
            "Each point is one site's measurement on its own rows (measured_by, in the tooltip): "
            "a jump between two blocks measured at different sites is not a change of the model."
        )
