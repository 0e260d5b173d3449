"""Reading a Bundle file far above `reader.STREAM_ABOVE` peaks far below the file's size: the
reader holds a chunk, one entry, and per entry only its fullUrl and the entry without its resource
(the Bundle's own item). Read whole, a 200 MB file needed its text and then its parsed tree, over
a GB. Measured, not timed: the peak resident size of a fresh interpreter that reads the file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from consortium.fhir import reader

REPO = Path(__file__).resolve().parents[2]
MIB = 1 << 20

# The peak resident size of this process (VmHWM): ru_maxrss would start from pytest's, as a
# child process keeps its parent's maximum across fork and exec.
READ = """
import sys
from pathlib import Path

from consortium.fhir import reader
from consortium.fhir.reader import iter_file

def peak():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024

before = peak()
count = 0
for item in iter_file(Path(sys.argv[1]), stream_above=int(sys.argv[2]) if sys.argv[2:] else None):
    count += 1
print(count, peak() - before)
"""


def _write_bundle(path: Path, entries: int, note_chars: int) -> None:
    """A transaction Bundle of ``entries`` Observations, each with a note of ``note_chars``."""
    with path.open("w", encoding="utf-8") as out:
        out.write('{"resourceType": "Bundle", "type": "transaction", "entry": [\n')
        for i in range(entries):
            resource = {
                "resourceType": "Observation",
                "id": f"o{i}",
                "status": "final",
                "code": {"text": "note"},
                "subject": {"reference": f"urn:uuid:p{i % 997}"},
                "note": [{"text": f"{i} " + "x" * note_chars}],
            }
            entry = {
                "fullUrl": f"urn:uuid:o{i}",
                "resource": resource,
                "request": {"method": "POST", "url": "Observation"},
            }
            out.write(("" if i == 0 else ",\n") + json.dumps(entry))
        out.write("\n]}\n")


def _peak_growth(path: Path, *threshold: str) -> tuple[int, int]:
    """(items read, growth of the peak resident size while reading) in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", READ, str(path), *threshold],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    count, peak = map(int, done.stdout.split())
    return count, peak


def test_reading_a_200_mb_bundle_peaks_far_below_its_size(tmp_path: Path) -> None:
    entries = 25_000
    large, small = tmp_path / "large.json", tmp_path / "small.json"
    _write_bundle(large, entries, note_chars=8000)
    _write_bundle(small, entries, note_chars=500)
    size, small_size = large.stat().st_size, small.stat().st_size
    assert size > 200_000_000 > 8 * small_size and size > reader.STREAM_ABOVE

    (count, peak), (_, small_peak) = _peak_growth(large), _peak_growth(small, "0")

    print(
        f"{entries} entries: {size / MIB:.0f} MiB peaks {peak / MIB:.1f} MiB higher, "
        f"{small_size / MIB:.0f} MiB {small_peak / MIB:.1f} MiB"
    )
    assert count == entries + 1  # the Bundle and its entries
    assert peak < size / 4
    # what grows with the file is one entry and the buffer, not the resources read before
    assert peak - small_peak < (size - small_size) / 20
