"""`consortium task publish`: version 0 is built, stored encrypted and usable by members."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from consortium.canonical import sha256_hex
from consortium.cli import app
from consortium.config import ConsortiumConfig
from consortium.federation.publish import TaskParams, input_width
from consortium.learning.serialize import from_safetensors
from consortium.ledger.factory import open_ledger
from consortium.pole.provenance import pull_model

runner = CliRunner()


@pytest.fixture(scope="module")
def consortium_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("c") / "c"
    result = runner.invoke(app, ["init", str(root), "--member", "a", "--member", "b",
                                 "--aggregator", "agg"])  # fmt: skip
    assert result.exit_code == 0, result.output
    return root


def _params(tmp_path: Path, **overrides: object) -> Path:
    params = TaskParams(task_id="t1", title="heart", seed=7).model_dump(mode="json") | overrides
    path = tmp_path / "task.json"
    path.write_text(json.dumps(params))
    return path


def test_a_published_task_gives_every_member_an_encrypted_version_0(
    consortium_dir: Path, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["task", "publish", str(_params(tmp_path)), "--dir",
                                 str(consortium_dir)])  # fmt: skip
    assert result.exit_code == 0, result.output
    config = ConsortiumConfig.load(consortium_dir)
    task = open_ledger(config, "b").evaluate("GetTask", {"task_id": "t1"})
    assert task["model_spec"]["in_features"] == input_width("heart")

    pulled = pull_model(config, "a", task_id="t1", version=0, out=tmp_path / "v0.safetensors")

    data = (tmp_path / "v0.safetensors").read_bytes()
    assert sha256_hex(data) == task["initial_model_digest"] == pulled.model_digest
    arrays, _ = from_safetensors(data)
    assert arrays["layers.0.weight"].shape == (16, input_width("heart"))
    blob = (consortium_dir / "blobs").rglob(task["initial_blob_digest"])
    assert data not in next(blob).read_bytes()  # stored encrypted, not in the clear


def test_a_task_the_contract_would_refuse_is_refused_before_anything_is_stored(
    consortium_dir: Path, tmp_path: Path
) -> None:
    before = sorted(p.name for p in (consortium_dir / "blobs").rglob("*"))
    path = _params(tmp_path, task_id="t2", quorum=9)
    result = runner.invoke(app, ["task", "publish", str(path), "--dir", str(consortium_dir)])
    assert result.exit_code == 2
    assert "quorum must not exceed committee_size" in result.output
    # pydantic's own wording of a check of the whole file is not the user's business
    assert "task.json: quorum must not" in result.output and "Value error" not in result.output
    assert sorted(p.name for p in (consortium_dir / "blobs").rglob("*")) == before


def _blobs(root: Path) -> list[str]:
    """Every file and folder name in the blob store: a stored blob shows as new names."""
    return sorted(p.name for p in (root / "blobs").rglob("*"))


def test_only_an_admin_may_publish(consortium_dir: Path, tmp_path: Path) -> None:
    """A hospital holds the model key, so it could build and store version 0; it is refused
    before it does, leaving no blob behind, with what to do."""
    path = _params(tmp_path, task_id="t3")
    before = _blobs(consortium_dir)
    result = runner.invoke(
        app,
        ["task", "publish", str(path), "--dir", str(consortium_dir), "--as", "a"],
        terminal_width=400,
    )
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "MISSING_ROLE" in text and "publish as an admin of the consortium" in text
    assert _blobs(consortium_dir) == before


def test_a_task_id_taken_is_refused_before_version_0_is_stored(
    consortium_dir: Path, tmp_path: Path
) -> None:
    """The ledger is asked for the task first: a refused publication leaves no blob behind."""
    first = _params(tmp_path, task_id="taken")
    args = ["task", "publish", str(first), "--dir", str(consortium_dir)]
    assert runner.invoke(app, args).exit_code == 0
    before = _blobs(consortium_dir)
    path = _params(tmp_path, task_id="taken", seed=8)  # another version 0, another blob
    args = ["task", "publish", str(path), "--dir", str(consortium_dir)]
    result = runner.invoke(app, args, terminal_width=400)
    assert result.exit_code == 2, result.output
    assert _blobs(consortium_dir) == before
    assert " ".join(result.output.split()) == (
        "error: the ledger refused the task: TASK_EXISTS: task 'taken' exists; "
        f"give {path} another task_id (`consortium task list` shows those taken)"
    )


def test_a_task_published_meanwhile_is_still_refused_by_the_ledger(
    consortium_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another publisher may take the task_id between the read and the transaction: the
    contract's own check refuses it then, with the same message."""
    from consortium.ledger.base import ContractError
    from consortium.ledger.embedded.ledger import EmbeddedLedger

    real = EmbeddedLedger.evaluate

    def not_there_yet(self: EmbeddedLedger, fn: str, args: dict[str, object]) -> object:
        if fn == "GetTask":
            raise ContractError("TASK_NOT_FOUND", f"no task {args['task_id']!r}")
        return real(self, fn, args)

    assert runner.invoke(app, ["task", "publish", str(_params(tmp_path, task_id="raced")),
                               "--dir", str(consortium_dir)]).exit_code == 0  # fmt: skip
    monkeypatch.setattr(EmbeddedLedger, "evaluate", not_there_yet)
    path = _params(tmp_path, task_id="raced", seed=8)
    result = runner.invoke(app, ["task", "publish", str(path), "--dir", str(consortium_dir)],
                           terminal_width=400)  # fmt: skip
    assert result.exit_code == 2, result.output
    assert " ".join(result.output.split()) == (
        "error: the ledger refused the task: TASK_EXISTS: task 'raced' exists; "
        f"give {path} another task_id (`consortium task list` shows those taken)"
    )


def test_a_published_task_draws_its_committees_from_the_head(tmp_path: Path) -> None:
    root = tmp_path / "c5"
    members = [arg for m in ("a", "b", "c", "d", "e") for arg in ("--member", m)]
    assert runner.invoke(app, ["init", str(root), *members]).exit_code == 0
    # a committee smaller than the other verifiers: with the head's draw a submitter cannot
    # pick it (decisions/0001, "Committees"), so there is nothing to warn about
    params = _params(tmp_path, task_id="small", committee_size=2, quorum=1)
    result = runner.invoke(app, ["task", "publish", str(params), "--dir", str(root)])
    assert result.exit_code == 0, result.output
    assert "committee" not in result.output, result.output
    task = open_ledger(ConsortiumConfig.load(root), "a").evaluate("GetTask", {"task_id": "small"})
    assert task["committee_seed"] == "head"
    # a quorum no committee can reach with these five verifiers (four besides a submitter)
    params = _params(tmp_path, task_id="big", committee_size=10, quorum=5)
    result = runner.invoke(app, ["task", "publish", str(params), "--dir", str(root)])
    assert result.exit_code == 0 and "every update will be refused" in result.output


# A user's mistakes end in one `error:` line (exit 2), never a traceback.
def _fails_cleanly(args: list[str], expected: str) -> None:
    result = runner.invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and expected in result.output


def test_task_list_outside_a_consortium_directory(tmp_path: Path) -> None:
    _fails_cleanly(["task", "list", "--dir", str(tmp_path / "nope")], "consortium init")


def test_task_publish_outside_a_consortium_directory(tmp_path: Path) -> None:
    path = _params(tmp_path)
    _fails_cleanly(["task", "publish", str(path), "--dir", str(tmp_path / "nope")], "init")


def test_task_publish_as_an_unknown_identity(consortium_dir: Path, tmp_path: Path) -> None:
    path = _params(tmp_path, task_id="t-as")
    args = ["task", "publish", str(path), "--dir", str(consortium_dir), "--as", "nobody"]
    _fails_cleanly(args, "no identity named 'nobody'")


def test_task_publish_given_a_folder(consortium_dir: Path, tmp_path: Path) -> None:
    _fails_cleanly(["task", "publish", str(tmp_path), "--dir", str(consortium_dir)], "folder")


def test_task_publish_with_an_unknown_cohort(consortium_dir: Path, tmp_path: Path) -> None:
    path = _params(tmp_path, task_id="t-cohort", cohort="nosuch")
    _fails_cleanly(["task", "publish", str(path), "--dir", str(consortium_dir)], "nosuch")


def test_task_publish_with_a_zero_width_layer(consortium_dir: Path, tmp_path: Path) -> None:
    path = _params(tmp_path, task_id="t-hidden", hidden=[0])
    _fails_cleanly(["task", "publish", str(path), "--dir", str(consortium_dir)], "hidden")


def test_publishing_before_the_keys_are_shared_says_how_to_share_them(tmp_path: Path) -> None:
    # a genesis without key shares, as `consortium fabric bootstrap` left a Fabric channel before
    from consortium.identity.setup import create_identities, member_roles
    from consortium.ledger.factory import bootstrap_ledger

    roles = member_roles(members=["a", "b"], admins=["admin"], aggregators=[], auditors=[],
                         verifiers=[])  # fmt: skip
    config = create_identities(tmp_path / "c", "nokeys", roles)
    bootstrap_ledger(config, "admin")

    result = runner.invoke(app, ["task", "publish", str(_params(tmp_path)), "--dir",
                                 str(config.root)])  # fmt: skip

    assert result.exit_code == 2, result.output
    assert "SHARE_NOT_FOUND" in result.output and "fabric share-keys" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


# A member's copy of the consortium directory holds only its own private key: a command that
# signs or reads as an identity whose key is elsewhere says so in one line, before anything else.
def _copy_of_b(consortium_dir: Path, tmp_path: Path) -> Path:
    """b's copy of the directory: every identity's certificate, only b's private key."""
    import shutil

    copy = tmp_path / "b-copy"
    shutil.copytree(consortium_dir, copy)
    for keystore in (copy / "members").glob("*/msp/keystore"):
        if keystore.parent.parent.name != "b":
            shutil.rmtree(keystore)
    return copy


@pytest.fixture()
def hospital_copy(consortium_dir: Path, tmp_path: Path) -> Path:
    return _copy_of_b(consortium_dir, tmp_path)


def _one_error_line(args: list[str]) -> str:
    result = runner.invoke(app, args, terminal_width=400)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_task_list_reads_as_an_identity_whose_key_is_here(
    consortium_dir: Path, tmp_path: Path
) -> None:
    # it opened the ledger as the first member by name ('a'), whose key is not in b's copy: a
    # traceback ending in "cannot act as 'a' here"
    path = _params(tmp_path, task_id="listed")
    published = runner.invoke(app, ["task", "publish", str(path), "--dir", str(consortium_dir)])
    assert published.exit_code == 0, published.output
    copy = _copy_of_b(consortium_dir, tmp_path)
    result = runner.invoke(app, ["task", "list", "--dir", str(copy)])
    assert result.exit_code == 0, result.output
    assert "listed" in result.output and "error" not in result.output


def test_task_list_as_an_identity_whose_key_is_elsewhere(hospital_copy: Path) -> None:
    line = _one_error_line(["task", "list", "--dir", str(hospital_copy), "--as", "a"])
    keystore = hospital_copy / "members" / "a" / "msp" / "keystore"
    assert f"no private key of 'a' in {keystore}" in line
    assert "--as NAME" in line and "(here: b)" in line


def test_task_list_where_no_key_is_here(hospital_copy: Path) -> None:
    import shutil

    shutil.rmtree(hospital_copy / "members" / "b" / "msp" / "keystore")
    line = _one_error_line(["task", "list", "--dir", str(hospital_copy)])
    assert "holds no member's private key" in line
    assert str(hospital_copy / "members") in line and "--dir" in line


def test_task_publish_without_the_admins_key_fails_before_building_anything(
    hospital_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # it built version 0 (torch) and then said "cannot act as 'admin' here: expected exactly one
    # file in …/keystore, found 0 … with --member or --as" (publish has no --member)
    from consortium.federation import publish

    def built(*_: object, **__: object) -> None:
        raise AssertionError("version 0 was built")

    monkeypatch.setattr(publish, "publish_task", built)
    path = _params(tmp_path, task_id="t-nokey")
    line = _one_error_line(["task", "publish", str(path), "--dir", str(hospital_copy)])
    keystore = hospital_copy / "members" / "admin" / "msp" / "keystore"
    assert f"no private key of 'admin' in {keystore}" in line
    assert "--as NAME" in line and "no admin's key is here" in line
    assert "--member" not in line


def test_task_list_as_an_unknown_identity(consortium_dir: Path) -> None:
    args = ["task", "list", "--dir", str(consortium_dir), "--as", "nobody"]
    _fails_cleanly(args, "no identity named 'nobody'")


def test_a_verdict_timeout_enters_the_task_record_only_when_set() -> None:
    from consortium.federation.publish import TaskParams, task_record

    digest = "0" * 64
    plain = task_record(TaskParams(task_id="t", title="t"), digest, digest)
    timed = task_record(
        TaskParams(task_id="t", title="t", verdict_timeout_ms=30_000), digest, digest
    )

    assert "verdict_timeout_ms" not in plain  # a chaincode from before the field takes it
    assert timed["verdict_timeout_ms"] == 30_000


def test_a_published_task_requires_a_reason_with_every_reject() -> None:
    # attesters give the check a proposal failed (decisions/0001, AttestBlock), and the contract
    # holds a task published with attest_reasons to it
    from consortium.federation.publish import TaskParams, task_record

    record = task_record(TaskParams(task_id="t", title="t"), "0" * 64, "0" * 64)

    assert record["attest_reasons"] is True


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--task-id", "heart study"], "task_id: String should match pattern"),
        (["--task-id", "t", "--cohort", "lung"], "unknown cohort 'lung'"),
    ],
)
def test_task_template_refuses_what_publish_would(args: list[str], says: str) -> None:
    """A template printed for a task id or cohort that `task publish` refuses: the mistake showed
    only after the file was edited, at publish time. It is refused at once, with nothing printed
    to redirect into task.json."""
    result = runner.invoke(app, ["task", "template", *args], terminal_width=400)

    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and says in result.output
    assert '"task_id":' not in result.output
