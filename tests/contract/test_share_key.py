"""ShareKey over an existing share: an admin's share replaces one a member gave, an admin's share
is final, and a member never overwrites a share (0001-protocol.md, ShareKey)."""

from __future__ import annotations

from typing import Any

from consortium.ledger.contract.scenario import Scenario, fake_digest

CONTEXT = fake_digest("public context")


def _share(member_id: str, wrap: str) -> dict[str, Any]:
    return {
        "member_id": member_id,
        "wrapped_key_digest": fake_digest(wrap),
        "public_context_digest": CONTEXT,
    }


def _holders(sc: Scenario) -> None:
    sc.ok("admin", "ShareKey", _share("admin", "admin's wrap"))
    sc.ok("admin", "ShareKey", _share("h1", "h1's wrap"))


def test_an_admins_share_replaces_a_bogus_one_a_member_gave_first(sc: Scenario) -> None:
    # Arrange: a key holder front-runs the admin with a wrap h2 cannot open.
    _holders(sc)
    sc.ok("h1", "ShareKey", _share("h2", "bogus wrap"))

    # Act
    outcome = sc.run("admin", "ShareKey", _share("h2", "h2's wrap"))

    # Assert
    assert outcome.valid, f"{outcome.code}: {outcome.message}"
    stored = sc.ok("aud", "GetShareKey", {"member_id": "h2"})
    assert stored["wrapped_key_digest"] == fake_digest("h2's wrap")
    assert stored["by"] == "admin"
    assert stored["replaced"] == fake_digest("bogus wrap")
    assert outcome.result == stored


def test_a_share_that_replaced_nothing_says_so(sc: Scenario) -> None:
    _holders(sc)

    stored = sc.ok("aud", "GetShareKey", {"member_id": "h1"})

    assert stored["replaced"] is None


def test_an_admins_share_is_final(sc: Scenario) -> None:
    _holders(sc)

    again = sc.run("admin", "ShareKey", _share("h1", "another wrap"))
    by_member = sc.run("h1", "ShareKey", _share("h1", "another wrap"))

    assert (again.code, by_member.code) == ("SHARE_EXISTS", "SHARE_EXISTS")
    assert sc.ok("aud", "GetShareKey", {"member_id": "h1"})["wrapped_key_digest"] == fake_digest(
        "h1's wrap"
    )


def test_a_member_never_overwrites_a_members_share(sc: Scenario) -> None:
    _holders(sc)
    sc.ok("h1", "ShareKey", _share("h2", "h2's wrap"))

    outcome = sc.run("h2", "ShareKey", _share("h2", "bogus wrap"))

    assert outcome.code == "SHARE_EXISTS"
    assert sc.ok("aud", "GetShareKey", {"member_id": "h2"})["wrapped_key_digest"] == fake_digest(
        "h2's wrap"
    )
