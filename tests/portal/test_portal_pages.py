"""Every portal page under Streamlit's AppTest (simulated, scripted and empty consortia), with the
role rules. Tests on the simulated consortium compare with its ledger; the scripted one has
deterministic content for exact assertions."""

from __future__ import annotations

import json
import os
import shutil
import stat
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from portal_auth import allowed
from portal_fixture import PASSWORD, ROLES, TASK

PAGES = ["overview", "data", "privacy", "training", "models", "audit", "consensus"]


def rendered_text(at: Any) -> str:
    """Everything a person could read on the page, dataframes included."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "text", "info",
                 "warning", "error", "success", "metric"):  # fmt: skip
        parts += [str(getattr(e, "value", "")) + str(getattr(e, "label", "")) for e in at.get(kind)]
    parts += [e.value.to_csv() for e in at.dataframe]
    return "\n".join(parts)


@pytest.mark.parametrize("which", ["simulated", "scripted", "empty"])
@pytest.mark.parametrize("member", sorted(ROLES))
def test_every_allowed_page_renders_and_others_are_not_routed(
    request: pytest.FixtureRequest, portal: Any, which: str, member: str
) -> None:
    root: Path = request.getfixturevalue(which)
    at = portal(root, member)
    assert not at.exception
    for page in PAGES:
        if allowed(ROLES[member], page):
            at.switch_page(f"views/{page}.py").run()
            assert not at.exception, (member, page, [e.value for e in at.exception])
            assert at.title, (member, page)
        else:
            with pytest.raises(ValueError, match="registered"):
                at.switch_page(f"views/{page}.py")


def test_a_page_script_run_directly_still_checks_the_role(scripted: Path, portal: Any) -> None:
    from streamlit.testing.v1 import AppTest

    portal(scripted, "auditor")  # sets the member and directory
    direct = AppTest.from_file(str(Path(__file__).parents[2] / "apps/portal/views/data.py"))
    direct.session_state["portal_user"] = {"method": "test", "who": "auditor", "seen": time.time()}
    direct.run()
    assert not direct.exception
    assert any("may not open the data page" in e.value for e in direct.error)
    assert not direct.dataframe


def test_auditor_cannot_download_models(simulated: Path, portal: Any) -> None:
    at = portal(simulated, "auditor", page="models")
    assert any("Download refused" in e.value for e in at.error)
    assert not [b for b in at.button if "Pull model" in b.label]


def test_hospital_is_offered_the_model_pull(scripted: Path, portal: Any) -> None:
    at = portal(scripted, "cleveland", page="models")
    assert [b for b in at.button if "Pull model" in b.label]
    table = at.dataframe[0].value
    assert list(table["height"]) == [0, 1, 2]


def test_data_page_never_shows_the_identifier(
    simulated_with_name: tuple[Path, str], portal: Any
) -> None:
    root, name = simulated_with_name
    at = portal(root, "cleveland", page="data")
    text = rendered_text(at)
    quarantine = at.dataframe[-1].value
    assert list(quarantine["resource_type"]) == ["Patient"]
    assert "birthDate" in quarantine["reason"][0]
    assert name.split()[0] not in text and name.split()[1] not in text
    assert at.get("download_button"), "a hospital admin may download the raw file"


def test_verifier_only_member_sees_data_but_cannot_download_raw(
    scripted: Path, portal: Any
) -> None:
    at = portal(scripted, "lab", page="data")
    assert not at.get("download_button")
    assert any("Only a hospital admin" in e.value for e in at.info)


def test_privacy_warns_before_the_budget_runs_out(scripted: Path, portal: Any) -> None:
    at = portal(scripted, "cleveland", page="privacy")
    assert any("Budget almost spent" in w.value for w in at.warning)
    assert not at.error  # 3.4 of 4: not yet spent


def test_training_shows_a_rejection_and_its_reason(scripted: Path, portal: Any) -> None:
    at = portal(scripted, "switzerland", page="training")
    mine = at.dataframe[0].value
    assert "rejected" in set(mine["status"])
    assert any("NORM_OUTLIER" in w.value for w in at.warning)


def test_audit_filters_by_type_and_refused_code(scripted: Path, portal: Any) -> None:
    at = portal(scripted, "auditor", page="audit")
    at.multiselect[1].select("SubmitUpdate").run()
    shown = at.dataframe[0].value
    assert len(shown) == 6 and set(shown["type"]) == {"SubmitUpdate"}
    at.multiselect[1].unselect("SubmitUpdate").run()
    at.multiselect[3].select("ROLE_FORBIDDEN").run()
    refused = at.dataframe[0].value
    assert list(refused["member"]) == ["auditor"] and list(refused["type"]) == ["RecordDownload"]
    assert at.get("download_button")  # CSV export


def test_audit_verifies_the_simulated_chain(simulated: Path, portal: Any) -> None:
    at = portal(simulated, "auditor", page="audit")
    next(b for b in at.button if b.label.startswith("Verify")).click().run()
    assert not at.exception and not at.error
    assert any("The ledger verifies" in s.value for s in at.success)


def test_consensus_lists_the_learning_blocks(scripted: Path, portal: Any) -> None:
    at = portal(scripted, "auditor", page="consensus")
    blocks = at.dataframe[0].value
    assert list(blocks["height"]) == [1, 2]
    balances = at.dataframe[-1].value
    assert set(balances["member"]) == {"cleveland", "hungary", "switzerland"}


def test_consensus_says_which_blocks_met_a_decayed_requirement(scripted: Path, portal: Any) -> None:
    from consortium.node.open import open_session

    # what the ledger says: a block met less than its parent asked for only when it was late
    s = open_session(scripted, "auditor")
    chain = s.q("ListVersions", task_id=TASK)
    late = [b["required_gain_bp"] < a["next_required_gain_bp"] for a, b in pairwise(chain)]
    task = s.task()
    assert task["gain_decay_intervals"] == 4  # the simulator's task (`SimConfig`)
    at = portal(scripted, "auditor", page="consensus")
    assert list(at.dataframe[0].value["decayed"]) == late
    caption = next(c.value for c in at.caption if "decayed requirement" in c.value)
    assert f"{sum(late)} of {len(late)} blocks here met a decayed requirement" in caption
    assert "floor of -1000 bp over 4 more target intervals (20 s)" in caption


def test_a_block_that_met_less_than_its_parent_asked_is_marked_decayed() -> None:
    import portal_ledger as pl

    class Ledger:
        def query(self, fn: str, args: dict[str, Any]) -> Any:
            assert fn == "ListVersions"
            return [  # version 0, an on-time block, a late one, and one after a retarget
                {"height": 0, "ms": 0, "required_gain_bp": 50, "next_required_gain_bp": 50},
                {"height": 1, "ms": 4000, "required_gain_bp": 50, "next_required_gain_bp": 50},
                {"height": 2, "ms": 20000, "required_gain_bp": -30, "next_required_gain_bp": 20},
                {"height": 3, "ms": 24000, "required_gain_bp": 20, "next_required_gain_bp": 20},
            ]

        def tasks(self) -> dict[str, Any]:
            return {"t": {}}

    frame = pl.versions(Ledger(), "t")  # type: ignore[arg-type]
    assert list(frame["decayed"]) == [False, False, True, False]


def test_sign_in_refuses_a_wrong_password_then_accepts_the_right_one(
    scripted: Path, portal: Any
) -> None:
    at = portal(scripted, "hungary", signed_in=False)
    assert at.title[0].value.startswith("Sign in")
    at.text_input[0].input("not the password")
    at.button[0].click().run()
    assert any("wrong password" in e.value for e in at.error)
    assert "portal_user" not in at.session_state
    at.text_input[0].input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception
    assert at.session_state["portal_user"]["who"] == "hungary"
    assert at.title[0].value == "hungary"  # the overview


def _ledger(root: Path, fn: str, args: dict[str, Any]) -> Any:
    from consortium.config import ConsortiumConfig
    from consortium.ledger.factory import open_ledger

    ledger = open_ledger(ConsortiumConfig.load(root), "auditor")
    try:
        return ledger.evaluate(fn, args)
    finally:
        ledger.close()


def test_hospital_pulls_the_latest_version_checked_against_the_ledger_and_recorded(
    simulated: Path, portal: Any
) -> None:
    head = _ledger(simulated, "GetHead", {"task_id": TASK})
    at = portal(simulated, "hungary", page="models")
    assert at.selectbox[1].value == head["height"]  # the latest version is offered first
    next(b for b in at.button if "Pull model" in b.label).click().run()
    assert not at.exception and not at.error
    assert any(head["model_digest"] in s.value for s in at.success)
    # the provenance JSON under the download carries base_metric_bp: a caption says what it is
    assert _says_what_base_metric_bp_is(" ".join(c.value for c in at.caption))
    recorded = _ledger(simulated, "ListDownloads", {"task_id": TASK})
    assert [(d["member_id"], d["version"]) for d in recorded] == [("hungary", head["height"])]
    # the decrypted model is as private to the node's account as its key files
    downloads = simulated / "members" / "hungary" / "portal" / "downloads"
    assert stat.S_IMODE(downloads.stat().st_mode) & 0o077 == 0, oct(downloads.stat().st_mode)


def test_auditor_traces_a_version_to_its_members_without_the_model_key(
    simulated: Path, portal: Any
) -> None:
    head = _ledger(simulated, "GetHead", {"task_id": TASK})
    block = _ledger(simulated, "GetVersion", {"task_id": TASK, "version": head["height"]})
    members = sorted(
        _ledger(simulated, "GetUpdate", {"task_id": TASK, "update_id": u})["update"]["member_id"]
        for u in block["updates"]
    )
    at = portal(simulated, "auditor", page="audit")
    next(b for b in at.button if b.label.startswith("Run the full trace")).click().run()
    assert not at.exception
    assert any("needs the model key" in i.value for i in at.info)
    inputs = at.dataframe[-1].value
    assert sorted(inputs["member_id"]) == members if members else inputs.empty


def _says_what_base_metric_bp_is(captions: str) -> bool:
    """Whether a caption defines base_metric_bp as an attester defines it (federation/attester):
    the AUROC of the proposal's parent version, on the same attester's held-out rows."""
    return "base_metric_bp" in captions and all(
        words in captions for words in ("parent version's AUROC", "same attester", "same rows")
    )


def test_the_per_site_metrics_say_what_base_metric_bp_is(scripted: Path, portal: Any) -> None:
    at = portal(scripted, "auditor", page="models")
    assert not at.exception
    assert any("base_metric_bp" in d.value.columns for d in at.dataframe)  # the per-site table
    captions = " ".join(c.value for c in at.caption)
    assert _says_what_base_metric_bp_is(captions), captions
    assert "metric_bp − base_metric_bp" in captions, captions


def test_the_traced_provenance_says_what_base_metric_bp_is(simulated: Path, portal: Any) -> None:
    at = portal(simulated, "auditor", page="audit")
    next(b for b in at.button if b.label.startswith("Run the full trace")).click().run()
    assert not at.exception
    captions = " ".join(c.value for c in at.caption)
    assert _says_what_base_metric_bp_is(captions), captions


def test_hospital_recomputes_the_latest_version_byte_for_byte(simulated: Path, portal: Any) -> None:
    at = portal(simulated, "cleveland", page="audit")
    next(b for b in at.button if b.label.startswith("Run the full trace")).click().run()
    assert not at.exception and not at.error
    assert any("recomputed byte for byte" in s.value for s in at.success)


def test_openid_connect_is_offered_only_when_configured(scripted: Path, portal: Any) -> None:
    from streamlit.testing.v1 import AppTest

    plain = portal(scripted, "hungary", signed_in=False)
    assert not [b for b in plain.button if "OpenID" in b.label]
    at = AppTest.from_file(str(Path(__file__).parents[2] / "apps/portal/portal.py"))
    at.secrets["auth"] = {"client_id": "portal", "server_metadata_url": "https://idp.invalid/"}
    at.run()
    offered = [b for b in at.button if "OpenID" in b.label]
    missing_lib = [w for w in at.warning if "Authlib is missing" in w.value]
    assert not at.exception and (offered or missing_lib)


OIDC_EMAIL = "it-admin@hospital.example"


def _oidc_portal(
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    verified: bool,
    issued_s_ago: float = 5,
    valid_s: float = 3600,
) -> Any:
    """Hungary's portal with OpenID Connect configured and an identity cookie for OIDC_EMAIL,
    whose ID token was issued ``issued_s_ago`` and is valid for ``valid_s`` seconds."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CONSORTIUM_PORTAL_DIR", str(root))
    monkeypatch.setenv("CONSORTIUM_PORTAL_MEMBER", "hungary")
    at = AppTest.from_file(str(Path(__file__).parents[2] / "apps/portal/portal.py"),
                           default_timeout=30)  # fmt: skip
    at.secrets["auth"] = {"client_id": "portal", "server_metadata_url": "https://idp.invalid/"}
    at.secrets["portal"] = {"allowed_emails": [OIDC_EMAIL]}
    issued = int(time.time() - issued_s_ago)
    at.user = {"is_logged_in": True, "email": OIDC_EMAIL, "email_verified": verified,
               "iat": issued, "exp": issued + valid_s}  # fmt: skip
    return at


def test_an_idle_openid_session_is_signed_out_not_resumed_from_the_cookie(
    scripted: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _oidc_portal(scripted, monkeypatch, verified=True)
    at.run()
    assert at.title[0].value == "hungary"  # signed in through the identity provider
    at.session_state["portal_user"] = {"method": "oidc", "who": OIDC_EMAIL,
                                       "seen": time.time() - 3600}  # fmt: skip
    at.run()
    assert "portal_user" not in at.session_state
    assert at.title[0].value.startswith("Sign in")


@pytest.mark.parametrize(
    ("issued_s_ago", "valid_s"),
    [(2 * 86400, 3600), (45 * 60, 86400)],  # expired; still valid but older than the idle limit
)
def test_an_identity_cookie_from_an_earlier_visit_does_not_sign_in(
    scripted: Path, monkeypatch: pytest.MonkeyPatch, issued_s_ago: float, valid_s: float
) -> None:
    # Streamlit keeps the identity cookie 30 days: a tab closed without "Sign out" must not let
    # the next person at that browser in, as a password session would not
    at = _oidc_portal(
        scripted, monkeypatch, verified=True, issued_s_ago=issued_s_ago, valid_s=valid_s
    )
    at.run()
    assert "portal_user" not in at.session_state
    assert at.title[0].value.startswith("Sign in")
    assert any("sign in again" in i.value for i in at.info)


def test_an_email_the_identity_provider_has_not_verified_is_refused(
    scripted: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = _oidc_portal(scripted, monkeypatch, verified=False)
    at.run()
    assert "portal_user" not in at.session_state
    assert at.title[0].value.startswith("Sign in")
    assert any("not verified" in e.value for e in at.error)


def test_sign_out_forgets_the_pulled_model(scripted: Path, portal: Any) -> None:
    at = portal(scripted, "cleveland", page="models")
    at.session_state["pulled"] = {"task": "heart", "version": 2, "model": Path("/x")}
    next(b for b in at.sidebar.button if b.label == "Sign out").click().run()
    assert at.title[0].value.startswith("Sign in")
    assert "pulled" not in at.session_state


def test_a_member_without_raw_access_does_not_see_source_file_names(
    scripted_copy: Path, portal: Any, tmp_path: Path
) -> None:
    # Synthea writes one Bundle per patient, named after the patient
    from consortium.datasets.demo import demo_resources
    from consortium.fhir.ingest import ingest

    root = scripted_copy
    lab = root / "members" / "lab"
    shutil.rmtree(lab / "ingest")
    patient = json.loads(json.dumps(demo_resources("switzerland")["Patient"][0]))
    patient["birthDate"] = "1950-13-40"  # quarantined
    export = tmp_path / "synthea"
    export.mkdir()
    name = "Brigitte554_Gerber21_5f1e2c3a-77b0-4a2e-9c1d-0a1b2c3d4e5f.json"
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": patient}]}
    (export / name).write_text(json.dumps(bundle), encoding="utf-8")
    ingest([export], "switzerland", "heart", lab / "ingest", 2)
    at = portal(root, "lab", page="data")  # roles: verifier only
    shown = rendered_text(at)
    assert not at.exception and "resource(s)" in shown
    assert "Gerber" not in shown and "Brigitte" not in shown


def test_ingest_folders_outside_the_member_folder_are_shown(
    scripted: Path, portal: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal_fixture import write_ingest_run

    outside = tmp_path / "site-data"
    write_ingest_run(outside, tmp_path)
    monkeypatch.setenv("CONSORTIUM_PORTAL_INGEST", str(outside))
    at = portal(scripted, "hungary", page="data")
    assert not at.exception
    assert list(at.dataframe[0].value["run"]) == ["site-data/ingest"]


def test_per_site_metrics_are_those_of_the_attested_blocks(simulated: Path, portal: Any) -> None:
    blocks = _ledger(simulated, "ListVersions", {"task_id": TASK})
    at = portal(simulated, "auditor", page="models")
    assert not at.exception
    assert len(blocks) > 1, "the short simulation sealed no learning block"
    sites = at.dataframe[1].value
    for block in blocks[1:]:
        shown = sites[(sites["height"] == block["height"]) & (sites["verdict"] == "accept")]
        assert sorted(shown["site"]) == block["attesters"]


def test_an_idle_session_is_signed_out(scripted: Path, portal: Any) -> None:
    at = portal(scripted, "hungary")
    assert at.title[0].value == "hungary"
    at.session_state["portal_user"] = {
        "method": "test",
        "who": "hungary",
        "seen": time.time() - 3600,
    }
    at.run()
    assert at.title[0].value.startswith("Sign in")
    assert "portal_user" not in at.session_state


@pytest.mark.parametrize("member", sorted(ROLES))
def test_download_actions_follow_the_access_table(scripted: Path, portal: Any, member: str) -> None:
    roles = ROLES[member]
    models = portal(scripted, member, page="models")
    offered = bool([b for b in models.button if "Pull model" in b.label])
    assert offered == allowed(roles, "download_model")
    audit = models.switch_page("views/audit.py").run()
    assert [b for b in audit.button if b.label.startswith("Verify")]  # every member verifies
    if allowed(roles, "data"):
        data = audit.switch_page("views/data.py").run()
        raw = bool(data.get("download_button"))
        has_runs = member in ("cleveland", "lab")
        assert raw == (has_runs and allowed(roles, "download_quarantine"))


def test_a_revoked_member_is_told_so(scripted: Path, portal: Any) -> None:
    from portal_fixture import REVOKED

    at = portal(scripted, REVOKED)
    assert any("revoked" in w.value for w in at.sidebar.warning)
    assert not portal(scripted, "hungary").sidebar.warning


def test_the_per_site_chart_plots_the_measured_attestations_only(
    simulated: Path, portal: Any
) -> None:
    # whether a site abstained depends on the simulation's timing (an abstention's placeholder
    # metric itself is tested in test_portal_reasons); whatever it gave, chart and table agree
    import pyarrow as pa

    at = portal(simulated, "auditor", page="models")
    table = at.dataframe[1].value
    abstained = table["verdict"] == "abstain"
    assert table.loc[abstained, "metric_bp"].isna().all()
    (chart,) = at.get("vega_lite_chart")
    plotted = pa.ipc.open_stream(chart.proto.datasets[0].data.data).read_pandas()
    measured = table[~abstained]
    assert sorted(zip(plotted["height"], plotted["site"], strict=True)) == sorted(
        zip(measured["height"], measured["site"], strict=True)
    )


def test_an_auditor_sees_who_downloaded_which_version(scripted: Path, portal: Any) -> None:
    recorded = _ledger(scripted, "ListDownloads", {"task_id": TASK})
    assert recorded, "the scripted rounds record a download"
    at = portal(scripted, "auditor", page="audit")
    table = next(d.value for d in at.dataframe if {"version", "model_digest"} <= set(d.value))
    shown = sorted(zip(table["member"], table["version"], table["model_digest"], strict=True))
    assert shown == sorted((d["member_id"], d["version"], d["model_digest"]) for d in recorded)


def test_privacy_shows_the_site_budget_the_node_counts(scripted_copy: Path, portal: Any) -> None:
    from consortium.node.settings import load_settings, site_budget_of
    from consortium.privacy.accountant import AccountantStore, spent_text

    root = scripted_copy
    member = root / "members" / "cleveland"
    at = portal(root, "cleveland", page="privacy")
    assert "No site budget is set" in rendered_text(at)
    (member / "node.toml").write_text("site_epsilon_budget = 6.0\n")
    site = site_budget_of(member, load_settings(member))  # the folders the node counts
    assert site is not None
    store = AccountantStore(
        member / "state", member_id="cleveland", task_id=TASK, accountant="rdp",
        epsilon_budget=4.0, delta=1e-5, site=site,
    )  # fmt: skip
    store.reserve(noise_multiplier=2.0, sample_rate=0.1, steps=50)

    at = portal(root, "cleveland", page="privacy")
    text = rendered_text(at)
    assert "Site budget: all training on these patients" in text
    assert spent_text(site.epsilon_spent()) in text and f"{TASK}/cleveland" in text


def _median_attester(root: Path, proposal_id: str) -> str:
    """The accepting attester of ``proposal_id`` with the lower-median gain (ties by member id):
    the one whose metric the contract writes into the learning block (docs/pole.md)."""
    from consortium.config import ConsortiumConfig
    from consortium.ledger.factory import open_ledger

    ledger = open_ledger(ConsortiumConfig.load(root), "auditor")
    try:
        accepts = sorted(
            (int(tx.args["metric_bp"]) - int(tx.args["base_metric_bp"]), tx.creator)
            for tx in ledger.transactions(0)
            if tx.fn == "AttestBlock" and tx.code == "VALID"
            and tx.args["proposal_id"] == proposal_id and tx.args["verdict"] == "accept"
        )  # fmt: skip
    finally:
        ledger.close()
    return accepts[(len(accepts) - 1) // 2][1]


def test_a_versions_auroc_says_which_site_measured_it(scripted: Path, portal: Any) -> None:
    # the AUROC of a version is one site's, measured on its own held-out rows: versions measured
    # at different sites are not comparable, so the page must say whose it is
    blocks = _ledger(scripted, "ListVersions", {"task_id": TASK})[1:]
    at = portal(scripted, "auditor", page="models")
    table = at.dataframe[0].value
    for block in blocks:
        row = table[table["height"] == block["height"]].iloc[0]
        assert row["measured_by"] == _median_attester(scripted, block["proposal_id"])
    overview = portal(scripted, "auditor", page="overview")
    head = blocks[-1]
    site = _median_attester(scripted, head["proposal_id"])
    assert any(
        f"measured by {site} on its own held-out rows" in c.value for c in overview.caption
    ), [c.value for c in overview.caption]


def test_the_audit_page_says_how_many_transactions_were_refused(
    scripted: Path, portal: Any
) -> None:
    from consortium.config import ConsortiumConfig
    from consortium.ledger.factory import open_ledger

    ledger = open_ledger(ConsortiumConfig.load(scripted), "auditor")
    try:
        refused = sum(tx.code != "VALID" for tx in ledger.transactions(0))
    finally:
        ledger.close()
    assert refused, "the scripted rounds hold a refused download"
    at = portal(scripted, "auditor", page="audit")
    assert any(f"{refused} refused by the contract" in c.value for c in at.caption), [
        c.value for c in at.caption
    ]


def test_the_audit_results_stay_on_the_page_until_run_again(simulated: Path, portal: Any) -> None:
    # Streamlit forgets a button's click on the next rerun: each result is kept in the session
    at = portal(simulated, "cleveland", page="audit")
    next(b for b in at.button if b.label.startswith("Verify")).click().run()
    next(b for b in at.button if b.label.startswith("Run the full trace")).click().run()
    assert not at.exception
    shown = [s.value for s in at.success]
    assert any("The ledger verifies" in s for s in shown), shown
    assert any("recomputed byte for byte" in s for s in shown), shown
    at.run()  # any other rerun (a filter, a rerun of the page) keeps both too
    assert len([s for s in at.success if "The ledger verifies" in s.value]) == 1
    assert any("recomputed byte for byte" in s.value for s in at.success)


def test_the_overview_counts_this_members_transactions_among_the_ledgers(
    scripted: Path, portal: Any
) -> None:
    from consortium.config import ConsortiumConfig
    from consortium.ledger.factory import open_ledger

    ledger = open_ledger(ConsortiumConfig.load(scripted), "auditor")
    try:
        txs = list(ledger.transactions(0))
    finally:
        ledger.close()
    mine = sum(tx.creator == "cleveland" for tx in txs)
    at = portal(scripted, "cleveland", page="overview")
    text = rendered_text(at)
    assert f"cleveland signed {mine} of the ledger's {len(txs)} transactions" in text, text


def test_the_overview_says_whether_the_node_is_running(scripted_copy: Path, portal: Any) -> None:
    from consortium.node.lock import one_node_per_member

    root = scripted_copy
    member = root / "members" / "cleveland"
    (member / "node.toml").write_text('task_id = "heart"\nplanned_updates = 3\n')
    (member / "state").mkdir(exist_ok=True)
    (member / "state" / "events.json").write_text('{"next_block": 12}')
    stopped = rendered_text(portal(root, "cleveland", page="overview"))
    assert "The node is not running" in stopped and "blocks behind" not in stopped, stopped
    with one_node_per_member(member / "state", "cleveland"):
        running = rendered_text(portal(root, "cleveland", page="overview"))
    assert f"The node is running (pid {os.getpid()})" in running and "blocks behind" in running


def test_the_training_plan_is_shown_only_for_a_member_that_trains(
    scripted_copy: Path, portal: Any
) -> None:
    root = scripted_copy
    for name in ("aggregator", "cleveland"):  # node.toml as the demo writes it for every node
        (root / "members" / name / "node.toml").write_text(
            'task_id = "heart"\nplanned_updates = 6\ndp = true\n'
        )
    aggregator = rendered_text(portal(root, "aggregator", page="overview"))
    assert "planned updates" not in aggregator and "differential privacy" not in aggregator
    assert "Task heart" in aggregator
    hospital = rendered_text(portal(root, "cleveland", page="overview"))
    assert "6 planned updates, differential privacy on" in hospital


def test_basis_points_and_a_minoritys_reject_reasons_are_explained(
    scripted: Path, portal: Any
) -> None:
    training = portal(scripted, "cleveland", page="training")
    captions = " ".join(c.value for c in training.caption)
    assert "metric_bp" in training.dataframe[-1].value.columns  # the endorsements table
    assert "bp = basis points" in captions, captions
    assert "reject_reasons" in captions and "minority" in captions, captions
    consensus = portal(scripted, "auditor", page="consensus")
    captions = " ".join(c.value for c in consensus.caption)
    assert "required_gain_bp" in consensus.dataframe[0].value.columns
    assert "bp = basis points" in captions and "required_gain_bp" in captions, captions


def test_privacy_shows_delta_beside_epsilon_and_counts_updates_in_plain_words(
    scripted: Path, portal: Any
) -> None:
    from consortium.config import ConsortiumConfig
    from consortium.ledger.factory import open_ledger

    ledger = open_ledger(ConsortiumConfig.load(scripted), "auditor")
    try:
        delta = ledger.evaluate("GetTask", {"task_id": TASK})["delta"]
    finally:
        ledger.close()
    at = portal(scripted, "cleveland", page="privacy")
    labels = [m.label for m in at.metric]
    assert f"ε budget (δ = {delta})" in labels, labels
    (warning,) = [w.value for w in at.warning if "Budget almost spent" in w.value]
    assert "(s)" not in warning and "not enough for another update at the" in warning, warning


def test_the_data_page_dates_the_run_and_explains_its_figures(
    simulated_with_name: tuple[Path, str], portal: Any
) -> None:
    from portal_local import ingest_runs, run_date

    root, _ = simulated_with_name
    (run,) = ingest_runs(root / "members" / "cleveland")
    when, source = run_date(run)
    assert source.startswith("report.json's written_ms"), source  # as `consortium ingest` writes
    at = portal(root, "cleveland", page="data")
    captions = " ".join(c.value for c in at.caption)
    assert f"{when:%Y-%m-%d %H:%M} UTC, from {source}" in captions, captions
    assert "by_type.Patient.read" in captions  # the report's keys, explained
    assert "written_ms: when the run was written" in captions, captions
    k, suppressed = run.report["k"], run.report["suppressed"]
    assert f"fewer than k = {k} times" in captions and f"{suppressed} rows" in captions, captions


def test_training_shows_each_role_its_own_work(simulated: Path, portal: Any) -> None:
    """A verifier that trains on nothing (a lab) is shown what it judged, not "has not submitted
    any update"; an admin, who neither trains nor judges, is shown the consortium's updates."""
    lab = portal(simulated, "lab", page="training")
    assert not lab.exception
    headings = [s.value for s in lab.subheader]
    assert "Endorsements given" in headings, headings
    assert "Updates this member submitted" not in headings
    assert "Endorsements received" not in headings

    admin = portal(simulated, "admin", page="training")
    assert not admin.exception
    headings = [s.value for s in admin.subheader]
    assert "Updates this member submitted" not in headings
    assert "Endorsements given" not in headings
    assert "Updates on the ledger (every member's)" in headings, headings
    shown = admin.dataframe[0].value
    submitters = set(shown["member"])
    assert {"cleveland", "hungary"} <= submitters, submitters
