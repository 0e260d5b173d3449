"""`consortium model pull --out`: an existing file is not replaced without --force, and a path that
cannot be written is refused before the download is recorded on the ledger."""

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from consortium.cli import app
from consortium.config import ConsortiumConfig
from consortium.federation.publish import TaskParams
from consortium.ledger.factory import open_ledger

runner = CliRunner()


@pytest.fixture(scope="module")
def consortium_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("c") / "c"
    assert runner.invoke(app, ["init", str(root), "--member", "a"]).exit_code == 0
    params = root.parent / "task.json"
    params.write_text(
        json.dumps(TaskParams(task_id="t1", title="t", seed=7).model_dump(mode="json"))
    )
    published = runner.invoke(app, ["task", "publish", str(params), "--dir", str(root)])
    assert published.exit_code == 0, published.output
    return root


def _downloads(root: Path) -> int:
    ledger = open_ledger(ConsortiumConfig.load(root), "a")
    try:
        return sum(1 for _ in ledger.evaluate("ListDownloads", {"task_id": "t1"}))
    finally:
        ledger.close()


def _pull(root: Path, out: Path, *extra: str) -> tuple[int, str]:
    args = ["model", "pull", "--dir", str(root), "--member", "a", "--out", str(out), *extra]
    result = runner.invoke(app, args)
    return result.exit_code, result.output


def test_an_existing_out_is_kept_unless_force(consortium_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.safetensors"
    out.write_bytes(b"an earlier model")
    code, output = _pull(consortium_dir, out)
    assert code == 2 and "--force" in output
    assert out.read_bytes() == b"an earlier model"
    code, output = _pull(consortium_dir, out, "--force")
    assert code == 0, output
    assert out.read_bytes() != b"an earlier model"


def test_an_out_under_a_file_is_refused_before_the_download_is_recorded(
    consortium_dir: Path, tmp_path: Path
) -> None:
    (tmp_path / "afile").write_text("x")
    before = _downloads(consortium_dir)
    code, output = _pull(consortium_dir, tmp_path / "afile" / "model.safetensors")
    assert code == 2, output
    assert "error:" in output
    assert _downloads(consortium_dir) == before


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that leaves new files readable by every local user (0644), as many systems have."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def test_the_plaintext_model_and_its_provenance_are_the_owners_only(
    consortium_dir: Path, tmp_path: Path, open_umask: None
) -> None:
    """Only members can decrypt a model: its plaintext copy is not readable by other local users,
    whatever the umask, and a replaced file (--force) does not keep the old file's mode."""
    out = tmp_path / "model.safetensors"
    provenance = tmp_path / "model.safetensors.provenance.json"
    for extra in ((), ("--force",)):
        if extra:
            out.chmod(0o644)
            provenance.chmod(0o644)
        code, output = _pull(consortium_dir, out, *extra)
        assert code == 0, output
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        assert stat.S_IMODE(provenance.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name, provenance.name]
