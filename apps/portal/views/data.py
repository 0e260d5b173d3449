"""Data: this member's ingest runs, their reports and warnings, the quarantine, k-anonymity and
suppression.

No row of patient data is shown: reports are summarized as figures, the cohort by its shape, and
quarantined resources by name, size and a redacted reason (portal_local.py explains why).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pandas as pd
import portal_local as loc
import streamlit as st
from portal_auth import allowed
from portal_ui import require, while_signed_in

data, roles = require("data")
st.title("Data")
st.caption(f"Ingest runs of {data.member_id} only. Patient rows are never shown here.")

runs = [run for root in (data.member_dir, *data.ingest_dirs) for run in loc.ingest_runs(root)]
if not runs:
    st.info(
        f"No ingest run found under {data.member_dir}. Run `consortium ingest --out` into this "
        "member's folder, or start the portal with `--ingest DIR` for each ingest output folder."
    )
    st.stop()
labels = loc.run_labels(runs)

summary = pd.DataFrame(
    [
        {
            "run": label,
            "cohort rows": r.cohort_rows,
            "cohort columns": len(r.cohort_columns),
            "quarantined files": len(r.quarantine),
            "warnings": len(loc.ingest_warnings(r.report) or []),
            "written (UTC)": f"{loc.run_date(r)[0]:%Y-%m-%d %H:%M}",
        }
        for r, label in zip(runs, labels, strict=True)
    ]
)
st.dataframe(summary, hide_index=True)
run = runs[labels.index(st.selectbox("Ingest run", labels))]
written, source = loc.run_date(run)
st.caption(f"This run was written {written:%Y-%m-%d %H:%M} UTC, from {source}.")

lacks = loc.ingest_warnings(run.report)
st.subheader("Ingest warnings" if lacks is None else f"Ingest warnings: {len(lacks)}")
if lacks is None:
    st.caption(
        "This report records no warnings: it was written before `consortium ingest` recorded "
        "what a cohort table lacks. Ingest the export again to have it checked."
    )
elif not lacks:
    st.success("No ingest warning in this run's report.")
else:
    for warning in lacks:
        st.warning(warning)
    st.caption(
        "What this run's cohort table lacks because its input did, as `consortium ingest` wrote "
        'it in report.json (docs/ingest.md, "What the cohort lacks"). The run completed; read '
        "them before anyone trains on this table: each says what is missing and where it should "
        "have come from."
    )

facts = loc.report_facts(run.report)
privacy = loc.privacy_facts(facts)
left, right = st.columns(2)
with left:
    st.subheader("Report")
    table = pd.DataFrame({"figure": list(facts), "value": [str(v) for v in facts.values()]})
    st.dataframe(table, hide_index=True)
    st.caption(
        "report.json as `consortium ingest` wrote it (docs/ingest.md): read, accepted and "
        "quarantined count FHIR resources (read = accepted + quarantined); by_type.<type>.<count> "
        "is the same per resource type (by_type.Patient.read: Patient resources read); used: the "
        "resources that fed the cohort table; unlinked_patients: patients referenced but not in "
        "the input; rows: cohort rows released; key_fingerprint: names the pseudonymization key "
        "without revealing it; written_ms: when the run was written, in milliseconds since "
        "1970-01-01 UTC."
    )
with right:
    st.subheader("k-anonymity and suppression")
    if privacy:
        st.dataframe(
            pd.DataFrame({"figure": list(privacy), "value": [str(v) for v in privacy.values()]}),
            hide_index=True,
        )
        k, suppressed = run.report.get("k"), run.report.get("suppressed")
        if k is not None and suppressed is not None:
            st.caption(
                f"k-anonymity: a cohort row whose combination of age band, sex and zip3 occurs "
                f"fewer than k = {k} times is removed, so every released row looks like at least "
                f"{k} patients on what an outsider could know; suppressed: the {suppressed} rows "
                "removed that way (not in the cohort's row count)."
            )
    else:
        st.info("This report has no k-anonymity figures.")
    st.subheader("Cohort")
    st.write(f"{run.cohort_rows or 0} rows; columns: {', '.join(run.cohort_columns) or 'none'}")

st.subheader(f"Quarantine: {len(run.quarantine)} resource(s)")
if not run.quarantine:
    st.success("Nothing was quarantined in this run.")
    st.stop()
st.caption(
    "Quarantined resources are raw input and may contain direct identifiers: only their name, "
    "size and the reason (with quoted values redacted) are shown."
)
quarantined = pd.DataFrame([q.model_dump() for q in run.quarantine])
if not allowed(roles, "download_quarantine"):
    # a source file can be named after its patient (Synthea: Given_Family_uuid.json): only a
    # member that may read the raw file may read its name
    quarantined = quarantined.drop(columns=["source"])
st.dataframe(quarantined, hide_index=True)
if not allowed(roles, "download_quarantine"):
    st.info("Only a hospital admin of this member may download raw quarantined files.")
    st.stop()
choice = st.selectbox("Raw file to download", [q.name for q in run.quarantine])
st.warning(
    f"The raw file may contain direct identifiers. You download it as a hospital admin of "
    f"{data.member_id}: keep it inside the hospital, do not forward it."
)
st.download_button(  # read on click: no raw file waits in Streamlit's unguarded media store
    "Download raw quarantined file",
    data=while_signed_in(partial(loc.quarantine_file, Path(run.root), run.name, choice)),
    file_name=choice.replace("/", "_"),
    mime="application/octet-stream",
)
