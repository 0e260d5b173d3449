"""Ingest speed: resources per second of `consortium.fhir.ingest.ingest` (read + parse + validate +
anonymize + write the cohort) next to a bare `fhir.resources` parse of the same NDJSON lines
(`model_validate_json` of the R4B model), in the same run, and their ratio. Goal: ratio >= 0.5.

Input: the demo FHIR of the four UCI hospitals (`consortium demo-data`), 8,263 resources, ingested
in one call. Bare parse and ingest alternate; each pair gives a ratio and the median ratio is
printed (robust to other load on the machine), next to the best rate of each side.

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
    """Run ingest over all sites' folders at once; (resources, seconds)."""
    started = time.perf_counter()
    total = ingest(list(folders.values()), "all", "heart", out, key_path=out.parent / "key").read
    return total, time.perf_counter() - started


def main() -> None:
    """Print both rates and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folders = write_demo_fhir(Path(tmp) / "fhir")
        files = sorted(p for folder in folders.values() for p in folder.glob("*.ndjson"))
        bare_rates, pipe_rates = [], []
        for _ in range(args.repeat):
            n_bare, s_bare = bare_parse(files)
            n_pipe, s_pipe = pipeline(folders, Path(tmp) / "out")
            bare_rates.append(n_bare / s_bare)
            pipe_rates.append(n_pipe / s_pipe)
    ratios = sorted(p / b for p, b in zip(pipe_rates, bare_rates, strict=True))
    print(f"resources: {n_pipe} (demo FHIR, 4 sites), {args.repeat} alternating runs each")
    print(
        f"bare fhir.resources parse (R4B model_validate_json): {max(bare_rates):8.0f} resources/s"
    )
    print(
        f"ingest (parse+validate+anonymize+cohort):            {max(pipe_rates):8.0f} resources/s"
    )
    median = ratios[len(ratios) // 2]
    print(f"ratio ingest / bare parse (median of pairs): {median:.2f}  (goal >= 0.50)")


if __name__ == "__main__":
    main()
