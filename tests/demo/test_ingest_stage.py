"""The demo's ingest stage tells the hospital admin watching it what each hospital's table lacks:
the warnings `consortium ingest` writes in report.json (Switzerland measured no cholesterol) are
printed under that hospital's ingest line, with where its full report is. Before, the demo printed
the counts only, and the warnings stayed in a file nobody watching the demo opens."""

from __future__ import annotations

import json
from pathlib import Path

from consortium.demo import DemoReport, ingest_sites


def test_each_hospitals_ingest_warnings_are_printed_under_its_line(tmp_path: Path) -> None:
    lines: list[str] = []

    ingest_sites(tmp_path, ("switzerland", "va"), 0, lines.append)

    report_path = tmp_path / "ingest" / "switzerland" / "report.json"
    [chol] = json.loads(report_path.read_text(encoding="utf-8"))["warnings"]
    assert chol.startswith("the feature chol has no value in any row"), chol
    assert lines[0].startswith("  switzerland  read 1013 resources"), lines
    assert lines[1:3] == [f"    warning: {chol}", f"    full report: {report_path}"], lines
    # VA's table lacks nothing: its line stands alone
    assert json.loads((tmp_path / "ingest" / "va" / "report.json").read_text())["warnings"] == []
    assert len(lines) == 4 and lines[3].startswith("  va           read 1667 resources"), lines


def test_the_stage_returns_each_hospitals_warnings_for_the_demos_report(tmp_path: Path) -> None:
    ingested = ingest_sites(tmp_path, ("switzerland", "va"), 0, lambda _: None)

    written = {
        site: json.loads((tmp_path / "ingest" / site / "report.json").read_text())["warnings"]
        for site in ("switzerland", "va")
    }
    assert ingested.warnings == written, ingested.warnings
    assert len(written["switzerland"]) == 1 and written["va"] == []  # VA is listed, without any
    assert set(ingested.tables) == {"switzerland", "va"}
    assert len(ingested.tables["switzerland"]) == 107  # the rows its ingest line counts
    # the demo's report.json holds them per hospital, next to the scores
    field = DemoReport.model_fields["ingest_warnings"]
    assert field.annotation == dict[str, list[str]] and field.default_factory is not None


def test_progress_lines_are_printed_as_they_are_not_as_markup() -> None:
    from rich.console import Console

    from consortium.cli.demo import plain_say

    console = Console(record=True, width=200)
    line = "    warning: [bold]x[/] under /data/[site]/report.json"
    with console.status("starting") as status:
        plain_say(console, status)(line)  # the spinner's line escapes it too: no MarkupError
    plain_say(console)("[/]")  # a closing tag alone made rich raise

    assert console.export_text().splitlines() == [line, "[/]"]
