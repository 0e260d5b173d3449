"""Privacy: ε this member spent per task against the task's budget, over time, with warnings.

Two sources, shown side by side: the ε the member declared on the ledger with each update (public,
what the contract checks against the budget) and the member's own accountant store (what training
has reserved locally, which runs ahead of the ledger while a run is in flight).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import portal_ledger as pl
import portal_local as loc
import streamlit as st
from portal_charts import line
from portal_data import to_decimal
from portal_ui import require

WARN_AT = 0.8  # warn when 80 % of a task's budget is spent: about one or two updates left

data, roles = require("privacy")
st.title("Privacy budget")
st.caption(f"ε spent by {data.member_id} per task (differential privacy, (ε, δ)).")

tasks = data.tasks()
history = pl.epsilon_history(data, data.member_id)
local = loc.accountant_files(data.member_dir, data.member_id)


def show_site_budget() -> None:
    """One ε over all of this hospital's training on its patients (node.toml
    site_epsilon_budget): every task and `consortium train` on the cohort, composed."""
    from consortium.privacy.accountant import left_text, spent_text

    try:
        site = loc.site_budget(data.member_dir)
    except ValueError as err:
        st.error(f"node.toml of {data.member_id} does not load: {err}")
        return
    if site is None:
        st.caption(
            "No site budget is set (node.toml site_epsilon_budget): each task's budget is "
            "checked alone, and a patient's ε over several tasks adds up."
        )
        return
    histories = site.histories()
    total = site.epsilon_spent(histories)
    st.subheader("Site budget: all training on these patients")
    cols = st.columns(3)
    cols[0].metric("ε spent, every task and local run composed", spent_text(total))
    cols[1].metric(f"site budget (δ = {site.delta:g}, node.toml)", f"{site.epsilon:g}")
    cols[2].metric("non-private local runs (outside ε)", len(site.non_private_runs()))
    fraction = min(1.0, total / site.epsilon)
    st.progress(fraction, text=f"{fraction:.0%} of the site budget used, "
                               f"{left_text(site.epsilon - total)} ε left")  # fmt: skip
    each = site.spent(histories)
    if each:
        st.dataframe(
            pd.DataFrame({"accountant (task/member)": list(each),
                          "ε alone": [spent_text(v) for v in each.values()]}),
            hide_index=True,
        )  # fmt: skip


show_site_budget()
if not tasks:
    st.info("No task is published yet, so no privacy budget is in use.")
    st.stop()


def local_epsilon(path_text: str) -> float | None:
    """ε of a local accountant store file, recomputed by the privacy package (None if absent)."""
    try:
        from consortium.privacy.accountant import epsilon_of
    except ImportError:
        return None
    record = json.loads(Path(path_text).read_text(encoding="utf-8"))
    steps = [
        (float(e["noise_multiplier"]), float(e["sample_rate"]), int(e["steps"]))
        for e in record.get("history", [])
    ]
    if not steps:
        return 0.0
    return float(epsilon_of(steps, delta=float(record["delta"]), accountant=record["accountant"]))


for task_id, task in tasks.items():
    budget = float(to_decimal(task.get("epsilon_budget")) or 0)
    mine = history[history["task"] == task_id]
    spent = float(mine["epsilon"].max()) if not mine.empty else 0.0
    st.subheader(f"{task.get('title', task_id)} ({task_id})")
    cols = st.columns(4)
    cols[0].metric("ε declared on the ledger", f"{spent:.3f}")
    cols[1].metric(f"ε budget (δ = {task.get('delta')})", f"{budget:g}")
    cols[2].metric("updates sent", len(mine))
    reserved = local_epsilon(str(local[task_id])) if task_id in local else None
    cols[3].metric("ε reserved locally", "—" if reserved is None else f"{reserved:.3f}")
    used = max(spent, reserved or 0.0)
    fraction = min(1.0, used / budget) if budget > 0 else 1.0
    st.progress(fraction, text=f"{fraction:.0%} of the budget used")
    if used >= budget:
        st.error("The budget is spent: this node refuses to train on this task any further.")
    elif fraction >= WARN_AT:
        per_update = spent / len(mine) if len(mine) else 0.0
        fits = int((budget - used) // per_update) if per_update > 0 else 0
        room = (
            f"room for about {fits} more update{'s' if fits > 1 else ''}"
            if fits
            else "not enough for another update"
        )
        st.warning(
            f"Budget almost spent: {budget - used:.3f} ε left, {room} at the recent "
            f"rate ({per_update:.3f} ε per update). Ask the task's publisher before the node "
            "stops training on this task."
        )
    if not mine.empty:
        line(
            mine[["time", "epsilon"]],
            x="time:T",
            y="epsilon:Q",
            title="cumulative ε",
            y_format=".2f",
            zero=True,
            rule=budget,
            rule_label="budget",
        )
if history.empty:
    st.info("This member has not submitted any update yet: no ε spent.")
else:
    with st.expander("Every declaration"):
        st.dataframe(pd.DataFrame(history), hide_index=True)
