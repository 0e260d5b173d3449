"""Key wrapping: only the named member's private key opens its wrap, and labels are bound."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from consortium.canonical import canonical_json
from consortium.crypto import KeyBundle, KeyUnwrapError, unwrap_bundle, wrap_bundle
from consortium.crypto.keywrap import member_public_key


def test_member_unwraps_its_bundle(bundle: KeyBundle, make_member) -> None:
    alice = make_member("alice")
    wrapped = wrap_bundle(bundle, "alice", member_public_key(alice.cert_pem))
    opened = unwrap_bundle(canonical_json(wrapped), alice.private_key)
    assert opened.model_key == bundle.model_key
    assert opened.secret_context == bundle.secret_context
    assert wrapped.public_context_digest == bundle.public_context_digest


def test_another_members_key_cannot_unwrap(bundle: KeyBundle, make_member) -> None:
    alice, bob = make_member("alice"), make_member("bob")
    wrapped = wrap_bundle(bundle, "alice", member_public_key(alice.cert_pem))
    with pytest.raises(KeyUnwrapError, match="wrong private key"):
        unwrap_bundle(wrapped, bob.private_key)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("member_id", "mallory"),
        ("public_context_digest", "0" * 64),
        ("nonce", "00" * 12),
    ],
)
def test_altered_labels_fail_to_unwrap(bundle: KeyBundle, make_member, field, value) -> None:
    alice = make_member("alice")
    record = json.loads(
        canonical_json(wrap_bundle(bundle, "alice", member_public_key(alice.cert_pem)))
    )
    record[field] = value
    with pytest.raises(KeyUnwrapError, match="altered"):
        unwrap_bundle(canonical_json(record), alice.private_key)


def test_each_wrap_uses_a_fresh_ephemeral_key_and_nonce(bundle: KeyBundle, make_member) -> None:
    pub = member_public_key(make_member("alice").cert_pem)
    one, two = wrap_bundle(bundle, "alice", pub), wrap_bundle(bundle, "alice", pub)
    assert one.ephemeral_public_key != two.ephemeral_public_key
    assert one.nonce != two.nonce and one.ciphertext != two.ciphertext


def test_the_clear_bundle_is_not_in_the_wrap(bundle: KeyBundle, make_member) -> None:
    wrapped = canonical_json(wrap_bundle(bundle, "a", member_public_key(make_member("a").cert_pem)))
    assert bundle.model_key not in wrapped and bundle.model_key.hex().encode() not in wrapped
    assert bundle.secret_context[1000:1064] not in wrapped


def test_non_p256_certificates_are_refused(cert_for) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(ValueError, match="P-256"):
        member_public_key(cert_for("p384", key))


def test_garbage_is_not_a_wrapped_key(make_member) -> None:
    with pytest.raises(KeyUnwrapError, match="not a wrapped key"):
        unwrap_bundle(b'{"hello": 1}', make_member("a").private_key)
