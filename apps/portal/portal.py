"""The institution portal: entry script (`consortium portal` runs `streamlit run` on this file).

Signed out, the only page is the sign-in form. Signed in, the menu holds the pages the member's
ledger roles allow (portal_auth.ACCESS, docs/decisions/0008-portal-access.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:  # the helper modules sit next to this script
    sys.path.insert(0, str(_HERE))

import streamlit as st  # noqa: E402
from portal_auth import allowed_pages  # noqa: E402
from portal_ui import (  # noqa: E402
    current,
    end_session,
    idle_watch,
    member_roles,
    show_sign_in,
    signed_in,
)

TITLES = {
    "overview": ("Overview", ":material/home:"),
    "data": ("Data", ":material/database:"),
    "privacy": ("Privacy", ":material/shield:"),
    "training": ("Training", ":material/model_training:"),
    "models": ("Models", ":material/deployed_code:"),
    "audit": ("Audit", ":material/fact_check:"),
    "consensus": ("Consensus", ":material/link:"),
}

st.set_page_config(page_title="consortium portal", page_icon="🏥", layout="wide")

if not signed_in():
    st.navigation([st.Page(show_sign_in, title="Sign in", url_path="signin")]).run()
else:
    data = current()
    roles = member_roles(data)
    pages = [
        st.Page(_HERE / "views" / f"{slug}.py", title=TITLES[slug][0], icon=TITLES[slug][1])
        for slug in allowed_pages(roles)
    ]
    with st.sidebar:
        st.markdown(f"**{data.member_id}** · {', '.join(roles)}")
        if data.members().get(data.member_id, {}).get("status") == "revoked":
            st.warning(
                "This member is revoked: the ledger refuses its new transactions, and none of its "
                "updates not yet in a model version will enter one or earn a reward."
            )
        if st.button("Sign out"):
            end_session()
            st.rerun()
        idle_watch()
    st.navigation(pages).run()
