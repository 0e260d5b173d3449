"""Portal passwords (scrypt, salt, constant-time check), sign-in rate limit, the access table."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from portal_auth import (
    ACCESS,
    FAILURE_WINDOW_MS,
    MAX_FAILURES,
    PasswordRecord,
    allowed_pages,
    check_password,
    hash_password,
    password_path,
    set_password,
    sign_in,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "decisions" / "0008-portal-access.md"
PW = "a long enough password"


def test_hash_checks_the_right_password_only_and_salts_differ() -> None:
    first, second = hash_password(PW, n_log2=10), hash_password(PW, n_log2=10)
    assert check_password(first, PW)
    assert not check_password(first, PW + "x")
    assert first.salt_hex != second.salt_hex and first.hash_hex != second.hash_hex
    assert len(bytes.fromhex(first.salt_hex)) == 16


def test_default_cost_is_owasp_minimum() -> None:
    record = hash_password(PW)
    assert (record.n_log2, record.r, record.p) == (17, 8, 1)


def test_set_password_writes_a_private_file_and_refuses_short_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 10"):
        set_password(tmp_path, "short")
    assert not password_path(tmp_path).exists()
    path = set_password(tmp_path, PW, n_log2=10)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    record = PasswordRecord.model_validate_json(path.read_text())
    assert PW not in path.read_text() and check_password(record, PW)


def test_set_password_neither_follows_nor_keeps_a_file_left_at_its_temporary_name(
    tmp_path: Path,
) -> None:
    """A symlink planted at the temporary name used to be followed (the hash written into its
    target), and a leftover temporary file kept its own mode (0644) through the rename."""
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("untouched")
    tmp = password_path(tmp_path).with_suffix(".tmp")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    tmp.symlink_to(elsewhere)
    path = set_password(tmp_path, PW, n_log2=10)
    assert elsewhere.read_text() == "untouched"
    assert not path.is_symlink() and stat.S_IMODE(path.stat().st_mode) == 0o600

    path.unlink()
    tmp.write_text("leftover")
    tmp.chmod(0o644)
    path = set_password(tmp_path, PW, n_log2=10)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_sign_in_without_a_password_says_how_to_set_one(tmp_path: Path) -> None:
    result = sign_in(tmp_path, PW)
    assert not result.ok and "set-password" in result.reason


def test_rate_limit_locks_out_even_the_right_password_until_the_window_passes(
    tmp_path: Path,
) -> None:
    set_password(tmp_path, PW, n_log2=10)
    t0 = 1_000_000_000
    for i in range(MAX_FAILURES):
        result = sign_in(tmp_path, "wrong guess", now_ms=t0 + i)
        assert not result.ok and "wrong password" in result.reason
    locked = sign_in(tmp_path, PW, now_ms=t0 + 10)
    assert not locked.ok and "too many" in locked.reason and locked.retry_after_s > 0
    later = sign_in(tmp_path, PW, now_ms=t0 + FAILURE_WINDOW_MS + 1)
    assert later.ok
    # success clears the record: a new series of failures starts from zero
    assert "4 attempts left" in sign_in(tmp_path, "wrong", now_ms=t0 + FAILURE_WINDOW_MS + 2).reason


def _doc_table() -> dict[str, set[str]]:
    """Rows of the access table in the decision record: `slug` -> roles marked with ✓."""
    lines = [ln for ln in DOC.read_text().splitlines() if ln.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    roles = header[2:]
    table = {}
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        slug = re.sub(r"`", "", cells[1])
        table[slug] = {r for r, c in zip(roles, cells[2:], strict=True) if c == "✓"}
    return table


def test_the_decision_record_and_the_code_state_the_same_rules() -> None:
    assert _doc_table() == {k: set(v) for k, v in ACCESS.items()}


def test_an_auditor_reads_audit_and_consensus_but_no_member_data() -> None:
    assert allowed_pages(["auditor"]) == ["overview", "models", "audit", "consensus"]
    assert allowed_pages(["hospital", "auditor"])[:3] == ["overview", "data", "privacy"]
