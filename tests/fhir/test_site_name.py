"""`--site` is written in every row and names the site on the ledger, and its error says "letters,
digits, - or _". `str.isalnum` let non-ASCII letters and digits through ("ñ", Arabic-Indic "١"):
only ASCII letters, digits, - and _ are accepted, and nothing is written for any other name."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from consortium.cli import app


@pytest.mark.parametrize("site", ["señora", "site\u0661", "ｓｉｔｅ", "a b", "a.b", "", "s1\n"])
def test_a_site_name_outside_ascii_letters_digits_dash_underscore_is_refused(
    tmp_path: Path, site: str
) -> None:
    source = tmp_path / "in.json"
    source.write_text('{"resourceType": "Patient"}')
    out = tmp_path / "out"

    result = CliRunner().invoke(app, ["ingest", str(source), "--site", site, "--out", str(out)])

    assert result.exit_code != 0
    text = " ".join(result.output.split())  # the error printer may wrap long lines
    assert text.startswith("error: --site") and "letters, digits" in text
    assert not out.exists()


def test_ascii_letters_digits_dash_and_underscore_are_accepted(tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    source.write_text('{"resourceType": "Patient"}')

    result = CliRunner().invoke(
        app, ["ingest", str(source), "--site", "St-Mary_2", "--out", str(tmp_path / "out")]
    )

    assert result.exit_code == 0, result.output
