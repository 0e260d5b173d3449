"""Sign-in and access rules of the institution portal.

Three things live here, none of them Streamlit-specific so that they are tested directly:

- **Password hashes.** One portal password per member, stored as a JSON file in the member's folder
  (``members/<id>/portal/password.json``, mode 0600). The hash is scrypt (RFC 7914) from `hashlib`
  with a fresh 16-byte random salt per password: a memory-hard function, so that a stolen file costs
  an attacker memory as well as time per guess. The default cost N=2**17, r=8, p=1 is the OWASP
  Password Storage Cheat Sheet's minimum for scrypt (128 MiB per guess); the parameters are stored
  next to the hash so that they can be raised without invalidating existing files. Comparison is
  constant-time (`hmac.compare_digest`), so response time does not leak how many bytes matched.
- **Rate limiting.** Failed sign-ins are recorded in ``members/<id>/portal/signin-failures.json``
  (on disk, not in a browser session, so opening a new tab or restarting the portal does not reset
  the count). After `MAX_FAILURES` failures inside `FAILURE_WINDOW_MS`, further attempts are refused
  *before* the password is hashed (a locked-out guesser cannot even make the server spend scrypt
  work) until the oldest failure leaves the window. A successful sign-in clears the record.
- **Access rules.** `ACCESS` is the table of docs/decisions/0008-portal-access.md: which of the
  member's ledger roles open which page or action. A member holding several roles gets the union.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from pathlib import Path

from pydantic import BaseModel

__all__ = [
    "ACCESS",
    "FAILURE_WINDOW_MS",
    "MAX_FAILURES",
    "PAGES",
    "PasswordRecord",
    "SignInResult",
    "allowed",
    "allowed_pages",
    "check_password",
    "hash_password",
    "password_path",
    "set_password",
    "sign_in",
]

MAX_FAILURES = 5
FAILURE_WINDOW_MS = 15 * 60 * 1000
_MIN_PASSWORD_LEN = 10
# One portal process serves many sessions: the failure record is read-modify-write, and holding
# the lock through the scrypt check also means one 128 MiB derivation at a time per process.
_lock = threading.Lock()

# Pages (by slug) and actions, with the roles that may use them. Keep in step with
# docs/decisions/0008-portal-access.md; tests/portal/test_access.py checks every row.
_ALL = frozenset({"hospital", "verifier", "aggregator", "auditor", "admin"})
ACCESS: dict[str, frozenset[str]] = {
    "overview": _ALL,
    "data": frozenset({"hospital", "verifier"}),
    "download_quarantine": frozenset({"hospital"}),
    "privacy": frozenset({"hospital"}),
    "training": frozenset({"hospital", "verifier", "aggregator", "admin"}),
    "models": _ALL,
    "download_model": frozenset({"hospital", "verifier", "admin"}),
    "audit": _ALL,
    "verify_chain": _ALL,
    "consensus": _ALL,
}
PAGES = ("overview", "data", "privacy", "training", "models", "audit", "consensus")


def allowed(roles: tuple[str, ...] | list[str], what: str) -> bool:
    """Whether a member with ``roles`` may open page or use action ``what`` (see `ACCESS`)."""
    return bool(ACCESS[what].intersection(roles))


def allowed_pages(roles: tuple[str, ...] | list[str]) -> list[str]:
    """The page slugs a member with ``roles`` sees, in menu order."""
    return [page for page in PAGES if allowed(roles, page)]


class PasswordRecord(BaseModel):
    """The stored form of a portal password: scrypt parameters, salt and derived key (hex)."""

    algorithm: str = "scrypt"
    n_log2: int
    r: int
    p: int
    salt_hex: str
    hash_hex: str


def password_path(member_dir: Path) -> Path:
    """Where the portal password hash of the member whose folder is ``member_dir`` lives."""
    return member_dir / "portal" / "password.json"


def _failures_path(member_dir: Path) -> Path:
    return member_dir / "portal" / "signin-failures.json"


def _scrypt(password: str, salt: bytes, n_log2: int, r: int, p: int) -> bytes:
    # maxmem must exceed 128 * r * N bytes or OpenSSL refuses; leave headroom.
    maxmem = 256 * r * (2**n_log2)
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=2**n_log2, r=r, p=p, maxmem=maxmem, dklen=32
    )


def hash_password(password: str, *, n_log2: int = 17, r: int = 8, p: int = 1) -> PasswordRecord:
    """Hash ``password`` with scrypt and a new random salt (16 bytes from `secrets`)."""
    salt = secrets.token_bytes(16)
    key = _scrypt(password, salt, n_log2, r, p)
    return PasswordRecord(n_log2=n_log2, r=r, p=p, salt_hex=salt.hex(), hash_hex=key.hex())


def check_password(record: PasswordRecord, password: str) -> bool:
    """Constant-time check of ``password`` against a stored record."""
    if record.algorithm != "scrypt":
        return False
    key = _scrypt(password, bytes.fromhex(record.salt_hex), record.n_log2, record.r, record.p)
    return hmac.compare_digest(key, bytes.fromhex(record.hash_hex))


def set_password(member_dir: Path, password: str, *, n_log2: int = 17) -> Path:
    """Store a new portal password for the member in ``member_dir``; returns the file written.

    Refuses passwords shorter than 10 characters (`ValueError`). The file is written with mode 0600
    through a temporary file and an atomic rename, so a crash never leaves half a hash.
    """
    if len(password) < _MIN_PASSWORD_LEN:
        raise ValueError(f"the password must have at least {_MIN_PASSWORD_LEN} characters")
    record = hash_password(password, n_log2=n_log2)
    path = password_path(member_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)  # a leftover (or a planted symlink) keeps neither mode nor target
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(record.model_dump_json())
    os.replace(tmp, path)
    _failures_path(member_dir).unlink(missing_ok=True)
    return path


class SignInResult(BaseModel):
    """The outcome of one sign-in attempt: ``ok``, or why not and when to retry."""

    ok: bool
    reason: str = ""
    retry_after_s: int = 0


def _read_failures(member_dir: Path, now_ms: int) -> list[int]:
    try:
        stamps = json.loads(_failures_path(member_dir).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return []
    return [int(t) for t in stamps if now_ms - int(t) < FAILURE_WINDOW_MS]


def _write_failures(member_dir: Path, stamps: list[int]) -> None:
    path = _failures_path(member_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(stamps), encoding="utf-8")


def sign_in(member_dir: Path, password: str, *, now_ms: int | None = None) -> SignInResult:
    """Check a sign-in attempt for the member in ``member_dir``, applying the rate limit."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    with _lock:
        failures = _read_failures(member_dir, now)
        if len(failures) >= MAX_FAILURES:
            wait_s = (min(failures) + FAILURE_WINDOW_MS - now) // 1000 + 1
            return SignInResult(
                ok=False,
                reason=f"too many failed sign-ins; try again in {wait_s} s",
                retry_after_s=wait_s,
            )
        path = password_path(member_dir)
        if not path.exists():
            return SignInResult(
                ok=False,
                reason="no portal password is set for this member; run `consortium portal "
                f"set-password --dir <the consortium folder> --member {member_dir.name}` on "
                "the node",
            )
        record = PasswordRecord.model_validate_json(path.read_text(encoding="utf-8"))
        if check_password(record, password):
            _failures_path(member_dir).unlink(missing_ok=True)
            return SignInResult(ok=True)
        failures.append(now)
        _write_failures(member_dir, failures)
        left = MAX_FAILURES - len(failures)
        return SignInResult(ok=False, reason=f"wrong password ({left} attempts left)")
