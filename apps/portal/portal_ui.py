"""Streamlit plumbing shared by the portal's pages: which member, who is signed in, role checks.

The member and consortium directory come from the environment (``CONSORTIUM_PORTAL_DIR``,
``CONSORTIUM_PORTAL_MEMBER``, set by `consortium portal`) or from the script's own arguments
(``streamlit run apps/portal/portal.py -- --dir DIR --member NAME``). A portal serves exactly one
member: the node's own.

Every page starts with `require(page)`: it stops the page unless somebody is signed in and the
member's ledger roles allow the page (docs/decisions/0008-portal-access.md). The menu hides pages
a member may not open, but the check is made again here because a page can be asked for by URL.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st
from portal_auth import allowed, sign_in
from portal_data import PortalData, PortalUnavailable

__all__ = [
    "current",
    "end_session",
    "idle_watch",
    "require",
    "show_sign_in",
    "signed_in",
    "while_signed_in",
]

SESSION_KEY = "portal_user"
# a browser left open at a nurses' station signs itself out (`consortium portal --idle-minutes`)
SESSION_IDLE_S = float(os.environ.get("CONSORTIUM_PORTAL_IDLE_S") or 30 * 60)


def _settings() -> tuple[Path, str, tuple[Path, ...]]:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--dir", default=os.environ.get("CONSORTIUM_PORTAL_DIR", ""))
    parser.add_argument("--member", default=os.environ.get("CONSORTIUM_PORTAL_MEMBER", ""))
    parser.add_argument("--ingest", action="append", default=[])
    args, _ = parser.parse_known_args(sys.argv[1:])
    from_env = os.environ.get("CONSORTIUM_PORTAL_INGEST", "")
    ingest = tuple(Path(p) for p in [*from_env.split(os.pathsep), *args.ingest] if p)
    if not args.dir or not args.member:
        st.error(
            "This portal does not know which member it serves: start it with "
            "`consortium portal --dir DIR --member NAME`."
        )
        st.stop()
    return Path(args.dir), str(args.member), ingest


@st.cache_resource(show_spinner=False)
def _data(consortium_dir: str, member_id: str, ingest: tuple[str, ...]) -> PortalData:
    return PortalData(Path(consortium_dir), member_id, ingest_dirs=tuple(Path(p) for p in ingest))


def current() -> PortalData:
    """The `PortalData` of the member this portal serves (one per process, shared by sessions)."""
    consortium_dir, member_id, ingest = _settings()
    return _data(str(consortium_dir.resolve()), member_id, tuple(str(p.resolve()) for p in ingest))


def member_roles(data: PortalData) -> tuple[str, ...]:
    """The member's roles, or a clear stop when the ledger cannot be read."""
    try:
        return data.roles()
    except PortalUnavailable as err:
        st.error(str(err))
        st.stop()
    except Exception as err:  # no ledger yet, bad directory: say what to do
        st.error(f"Cannot read the ledger of {data.dir}: {err}")
        st.info("Check that `consortium init` ran for this directory and the member exists.")
        st.stop()
    raise AssertionError("unreachable")


def signed_in() -> bool:
    """Whether this browser session is signed in (and not idle for too long)."""
    user: dict[str, Any] | None = st.session_state.get(SESSION_KEY)
    if not user:
        return False
    if not _active(user):
        end_session()
        return False
    user["seen"] = time.time()
    return True


def _active(user: dict[str, Any] | None) -> bool:
    """Whether a session's sign-in record is neither ended nor idle for too long."""
    if not user or user.get("ended"):
        return False
    return time.time() - float(user.get("seen", 0)) <= SESSION_IDLE_S


def while_signed_in(read: Callable[[], bytes]) -> Callable[[], bytes]:
    """``read``, for a deferred download button, refused once this session has signed out or
    been idle too long.

    Streamlit calls a deferred download's callable when the browser asks for the file, outside
    any script run: the checks `require` made when the page was drawn are not made again, so a
    page left open past the idle timeout would still hand out the model or a raw quarantined
    file to whoever clicks (and a client can ask for the file without rerunning the page)."""
    user = st.session_state.get(SESSION_KEY)

    def guarded() -> bytes:
        if not _active(user):
            raise PermissionError("this session is signed out or was idle: sign in again")
        return read()

    return guarded


@st.fragment(run_every=max(1.0, min(60.0, SESSION_IDLE_S / 4)))
def idle_watch() -> None:
    """Drawn once per signed-in page: every few seconds (a quarter of the idle limit, at most a
    minute) it checks the session without counting as activity, and once the session is idle too
    long it reruns the whole app, which signs out and replaces the page with the sign-in form.
    Without it a page left open stayed readable until someone clicked."""
    if not _active(st.session_state.get(SESSION_KEY)):
        st.rerun(scope="app")


def end_session() -> None:
    """Forget everything this browser session holds (the sign-in, a pulled model's paths) and,
    after an OpenID Connect sign-in, the identity cookie too: Streamlit keeps that cookie for 30
    days, and the sign-in page would otherwise sign the browser straight back in with it."""
    user = st.session_state.get(SESSION_KEY) or {}
    user["ended"] = True  # download buttons drawn for this session refuse from now on
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if user.get("method") == "oidc":
        st.logout()  # also ends the identity provider's session cookie


def _oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets.toml: OIDC is simply not configured
        return False


def _oidc_allowed(email: str) -> bool:
    try:
        allowed_emails = st.secrets.get("portal", {}).get("allowed_emails", [])
    except Exception:
        return False
    return email.lower() in {str(e).lower() for e in allowed_emails}


def _recent_identity() -> bool:
    """Whether the ID token behind ``st.user`` is unexpired and was issued within the idle limit.

    Streamlit keeps the identity cookie for 30 days whatever the token says, so without this a
    tab closed without "Sign out" would let the next person at that browser straight in, where a
    password session ends with its tab. OpenID Connect requires both claims (``iat``, ``exp``)."""
    try:
        issued, expires = float(str(st.user.get("iat"))), float(str(st.user.get("exp")))
    except (TypeError, ValueError):
        return False
    now = time.time()
    return now < expires and now - issued <= SESSION_IDLE_S


def _accept_oidc() -> None:
    if not _oidc_configured() or not getattr(st.user, "is_logged_in", False):
        return
    email = str(st.user.get("email", ""))
    if st.user.get("email_verified") in (False, "false"):  # Entra ID sends no such claim: allowed
        st.error(f"The identity provider has not verified {email}; ask the node's admin.")
        return
    if not _recent_identity():
        st.info(f"The organisation sign-in of {email} is from an earlier visit: sign in again.")
        return
    if _oidc_allowed(email):
        st.session_state[SESSION_KEY] = {"method": "oidc", "who": email, "seen": time.time()}
        st.rerun()
    st.error(f"{email} is not in this portal's allowed_emails; ask the node's admin.")


def show_sign_in() -> None:
    """The sign-in page: a password form, and an OpenID Connect button when configured."""
    data = current()
    st.title(f"Sign in — {data.member_id}")
    st.caption(f"Consortium portal of member **{data.member_id}**")  # nothing more before sign-in
    _accept_oidc()
    with st.form("sign_in", clear_on_submit=True):
        password = st.text_input("Portal password", type="password", key="password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        result = sign_in(data.member_dir, password)
        if result.ok:
            st.session_state[SESSION_KEY] = {"method": "password", "who": data.member_id}
            st.session_state[SESSION_KEY]["seen"] = time.time()
            st.rerun()
        st.error(f"Sign-in refused: {result.reason}")
    if _oidc_configured():
        st.divider()
        if importlib.util.find_spec("authlib") is None:
            st.warning(
                "OpenID Connect is configured but Authlib is missing on this node: "
                "`pip install 'streamlit[auth]'`. Use the portal password meanwhile."
            )
        elif st.button("Sign in with your organisation (OpenID Connect)"):
            st.login()


def require(page: str) -> tuple[PortalData, tuple[str, ...]]:
    """Stop unless signed in and allowed to see ``page``; return the data and member roles."""
    if not signed_in():
        st.warning("Please sign in first.")
        st.stop()
    data = current()
    roles = member_roles(data)
    if not allowed(roles, page):
        st.error(
            f"Member {data.member_id} (roles: {', '.join(roles) or 'none'}) may not open the "
            f"{page} page; see docs/decisions/0008-portal-access.md."
        )
        st.stop()
    return data, roles
