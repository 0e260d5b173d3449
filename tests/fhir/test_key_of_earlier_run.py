"""A re-ingest into a folder keeps the pseudonym key its cohort was made with.

The pids decide the held-out split (`learning.data.holdout_split`) and link a patient across
exports. A mistyped `--key` path, or a deleted `secrets/pseudonym.key`, used to create a new key
silently and replace the cohort with one whose every pid differed: rows moved between training and
held-out. Such a run is refused, naming both keys and what to do, and nothing is created or
changed."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from consortium.cli import app

PATIENT = '{"resourceType": "Patient", "id": "p1", "gender": "female"}'


def _ingest(source: Path, out: Path, *key: str) -> tuple[int, str]:
    args = ["ingest", str(source), "--site", "cleveland", "--out", str(out), *key]
    result = CliRunner().invoke(app, args)
    return result.exit_code, " ".join(result.output.split())


def _first_run(tmp_path: Path) -> tuple[Path, Path, bytes]:
    source = tmp_path / "in.json"
    source.write_text(PATIENT)
    out = tmp_path / "out"
    code, text = _ingest(source, out)
    assert code == 0, text
    return source, out, (out / "report.json").read_bytes()


def test_a_key_path_that_does_not_exist_is_refused_for_a_folder_with_a_cohort(
    tmp_path: Path,
) -> None:
    source, out, report = _first_run(tmp_path)
    typo = tmp_path / "keys" / "cleveland.key"

    code, text = _ingest(source, out, "--key", str(typo))

    assert code == 2
    assert text.startswith(f"error: the pseudonym key {typo} does not exist")
    assert "give the key file it was made with" in text and "new --out folder" in text
    assert not typo.exists()
    assert (out / "report.json").read_bytes() == report


def test_another_key_is_refused_for_a_folder_with_a_cohort(tmp_path: Path) -> None:
    source, out, report = _first_run(tmp_path)
    other = tmp_path / "other.key"
    other.write_bytes(bytes(range(32)))
    other.chmod(0o600)

    code, text = _ingest(source, out, "--key", str(other))

    assert code == 2
    earlier = report.decode().split('"key_fingerprint": "')[1][:16]
    assert text.startswith(f"error: the pseudonym key {other} is the key ")
    assert f"holds a cohort made with the key {earlier}" in text
    assert (out / "report.json").read_bytes() == report


def test_a_deleted_default_key_is_not_replaced_by_a_new_one(tmp_path: Path) -> None:
    source, out, report = _first_run(tmp_path)
    (out / "secrets" / "pseudonym.key").unlink()

    code, text = _ingest(source, out)

    assert code == 2
    assert f"restore {out / 'secrets' / 'pseudonym.key'} from its backup" in text
    assert not (out / "secrets" / "pseudonym.key").exists()
    assert (out / "report.json").read_bytes() == report


def test_the_same_key_ingests_again(tmp_path: Path) -> None:
    source, out, _ = _first_run(tmp_path)

    code, text = _ingest(source, out, "--key", str(out / "secrets" / "pseudonym.key"))

    assert code == 0, text
