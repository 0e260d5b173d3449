"""Ingest speed: resources per second of `consortium.fhir.ingest.ingest` (read + parse + validate +
anonymize + write the cohort) next to a bare `fhir.resources` parse of the same NDJSON lines
(`model_validate_json` of the R4B model), in the same run, and their ratio. Goal: ratio >= 0.5.

Input: the demo FHIR of the four UCI hospitals (`consortium demo-data`), each site's folder
ingested on its own, repeated; the best of the repetitions counts for both sides.

Run: .venv/bin/python bench/ingest.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from fhir.resources.R4B import get_fhir_model_class

from consortium.datasets.demo import write_demo_fhir
from consortium.fhir.ingest import ingest


def bare_parse(files: list[Path]) -> tuple[int, float]:
    """Parse and validate every line with fhir.resources only; (resources, seconds)."""
    lines = [line for f in files for line in f.read_text(encoding="utf-8").splitlines()]
    started = time.perf_counter()
    for line in lines:
        resource_type = json.loads(line[: line.index(",")] + "}")["resourceType"]
        get_fhir_model_class(resource_type).model_validate_json(line)
    return len(lines), time.perf_counter() - started


def pipeline(folders: dict[str, Path], out: Path) -> tuple[int, float]:
    """Run ingest over each site's folder; (resources, seconds)."""
    started = time.perf_counter()
    total = 0
    for site, folder in folders.items():
        total += ingest([folder], site, "heart", out / site, key_path=out / "key").read
    return total, time.perf_counter() - started


def main() -> None:
    """Print both rates and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folders = write_demo_fhir(Path(tmp) / "fhir")
        files = sorted(p for folder in folders.values() for p in folder.glob("*.ndjson"))
        bare_best = pipe_best = 0.0
        for _ in range(args.repeat):
            n_bare, s_bare = bare_parse(files)
            n_pipe, s_pipe = pipeline(folders, Path(tmp) / "out")
            bare_best = max(bare_best, n_bare / s_bare)
            pipe_best = max(pipe_best, n_pipe / s_pipe)
    print(f"resources: {n_pipe} (demo FHIR, 4 sites), best of {args.repeat}")
    print(f"bare fhir.resources parse (R4B model_validate_json): {bare_best:10.0f} resources/s")
    print(f"ingest (parse+validate+anonymize+cohort):            {pipe_best:10.0f} resources/s")
    print(f"ratio ingest / bare parse: {pipe_best / bare_best:.2f}  (goal >= 0.50)")


if __name__ == "__main__":
    main()
