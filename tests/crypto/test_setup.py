"""Provisioning at init: shares for members, none for aggregators/auditors, no secret on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from consortium.blobs import LocalBlobStore
from consortium.canonical import sha256_hex
from consortium.crypto import (
    CkksContext,
    KeyUnwrapError,
    decrypt_update,
    encrypt_update,
    load_member_keys,
    provision_keys,
    share_key,
)

ROLES = {
    "h1": ["hospital"],
    "v1": ["verifier"],
    "admin": ["admin", "hospital"],
    "agg": ["aggregator"],
    "aud": ["auditor"],
    "h2": ["hospital", "auditor"],
}


@pytest.fixture
def provisioned(tmp_path: Path, make_member):
    members = {m: make_member(m) for m in ROLES}
    store = LocalBlobStore(tmp_path / "consortium" / "blobs")
    result = provision_keys(
        tmp_path / "consortium",
        [(m, members[m].cert_pem, roles) for m, roles in ROLES.items()],
        store,
    )
    return result, members, store


def test_shares_go_to_members_that_may_hold_the_secret(provisioned) -> None:
    result, _, store = provisioned
    assert [s.member_id for s in result.shares] == ["h1", "v1", "admin"]
    assert set(result.skipped) == {"agg", "aud", "h2"}
    assert all(s.public_context_digest == result.public_context_digest for s in result.shares)
    assert all(store.has(s.wrapped_key_digest) for s in result.shares)


def test_members_load_their_keys_from_their_msp(provisioned) -> None:
    result, members, store = provisioned
    share = next(s for s in result.shares if s.member_id == "v1")
    keys = load_member_keys(members["v1"].msp_dir, store, share.wrapped_key_digest, member_id="v1")
    assert keys.model_key == result.bundle.model_key
    upd = encrypt_update({"w": [0.25, -0.5]}, result.bundle.ckks)
    assert decrypt_update(upd, keys.ckks)["w"].tolist() == pytest.approx([0.25, -0.5], abs=1e-6)


def test_a_wrap_for_someone_else_is_refused(provisioned) -> None:
    result, members, store = provisioned
    share = next(s for s in result.shares if s.member_id == "h1")
    with pytest.raises(KeyUnwrapError, match="is for member 'h1'"):
        load_member_keys(members["v1"].private_key, store, share.wrapped_key_digest, member_id="v1")
    with pytest.raises(KeyUnwrapError):
        load_member_keys(members["v1"].private_key, store, share.wrapped_key_digest)


def test_a_share_that_opens_to_another_context_than_the_ledgers_is_refused(
    provisioned, make_member
) -> None:
    """A key holder wrapped another consortium's keys for a member: the wrap opens, but to a
    context the ledger does not name."""
    from consortium.crypto.keywrap import KeyBundle

    result, members, store = provisioned
    rogue = share_key(KeyBundle.generate(), "v1", members["v1"].cert_pem, ("verifier",), store)
    opened = load_member_keys(
        members["v1"].msp_dir, store, rogue.wrapped_key_digest, member_id="v1"
    )
    assert opened.public_context_digest != result.public_context_digest  # the wrap alone opens
    with pytest.raises(KeyUnwrapError, match="not the consortium's"):
        load_member_keys(
            members["v1"].msp_dir, store, rogue.wrapped_key_digest, member_id="v1",
            context_digest=result.public_context_digest,
        )  # fmt: skip
    honest = next(s for s in result.shares if s.member_id == "v1")
    keys = load_member_keys(
        members["v1"].msp_dir, store, honest.wrapped_key_digest, member_id="v1",
        context_digest=honest.public_context_digest,
    )  # fmt: skip
    assert keys.model_key == result.bundle.model_key


def test_public_context_file_is_the_published_one(provisioned) -> None:
    result, _, store = provisioned
    data = result.public_context_path.read_bytes()
    assert sha256_hex(data) == result.public_context_digest
    assert store.get(result.public_context_digest) == data
    assert not CkksContext.from_public_bytes(data).can_decrypt


def test_nothing_on_disk_holds_the_clear_secret(provisioned, tmp_path: Path) -> None:
    result, _, _ = provisioned
    sk_file = tmp_path / "sk.bin"
    result.bundle.ckks.context.secret_key().data.save(str(sk_file))
    sk = sk_file.read_bytes()
    sk_file.unlink()
    secrets = [sk[i : i + 64] for i in range(16, len(sk) - 64, 8192)] + [result.bundle.model_key]
    assert all(s in result.bundle.to_bytes() for s in secrets)  # the windows do find the secret
    files = [p for p in (tmp_path / "consortium").rglob("*") if p.is_file()]
    assert len(files) >= 4  # public context file + blob, three wraps
    for path in files:
        data = path.read_bytes()
        assert not any(s in data for s in secrets), path


def test_provisioning_twice_is_refused(provisioned, tmp_path: Path) -> None:
    _, members, store = provisioned
    with pytest.raises(FileExistsError, match="already has keys"):
        provision_keys(
            tmp_path / "consortium", [("h1", members["h1"].cert_pem, ["hospital"])], store
        )


def test_share_key_refuses_aggregators(provisioned) -> None:
    result, members, store = provisioned
    with pytest.raises(PermissionError, match="aggregator"):
        share_key(result.bundle, "agg", members["agg"].cert_pem, ["aggregator"], store)
