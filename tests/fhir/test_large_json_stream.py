"""A `.json` file above `reader.STREAM_ABOVE` is read in chunks: the top-level object's members one
by one and each element of a Bundle's `entry` on its own, so a Bundle export of several GB does not
need several times its size in memory. It must give the same items as reading the whole file: same
order, positions, data, fullUrls and `bundle_urls`; only the Bundle's own item has no `raw` (its
`verbatim()` is the Bundle without its entries' resources, as a nested Bundle's is). Lowering the
threshold to 0 streams every file, and a small chunk puts chunk ends inside the entries."""

from __future__ import annotations

import codecs
import gzip
import json
from pathlib import Path

import pytest

from consortium.fhir import reader
from consortium.fhir.reader import RawResource, iter_file

NEVER = 1 << 50


def _fields(item: RawResource) -> tuple[object, ...]:
    return (
        item.source,
        item.position,
        item.raw,
        item.data,
        item.parse_error,
        item.full_url,
        item.bundle_urls,
    )


def assert_streamed_like_whole(path: Path) -> list[RawResource]:
    """The items of ``path`` read in chunks equal those of the whole file; returns them."""
    whole = list(iter_file(path, stream_above=NEVER))
    streamed = list(iter_file(path, stream_above=0))
    assert len(streamed) == len(whole)
    if streamed and streamed[0].raw is None and streamed[0].position == "file":
        # the Bundle read in chunks: its verbatim text is the Bundle without entry resources
        assert streamed[0].verbatim() == json.dumps(whole[0].data, ensure_ascii=False)
        streamed[0].raw = whole[0].raw
    for got, expected in zip(streamed, whole, strict=True):
        assert _fields(got) == _fields(expected)
    return list(iter_file(path, stream_above=0))


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "CHUNK_CHARS", 1000)


def _is_bundle(path: Path) -> bool:
    data = json.loads(path.read_text(encoding="utf-8"))
    return data.get("resourceType") == "Bundle" and isinstance(data.get("entry"), list)


def test_hl7_examples_read_in_chunks_give_the_same_items(hl7_examples: Path) -> None:
    names = ["Patient-example.json", "Composition-example.json"]
    lists = sorted(p.name for p in hl7_examples.glob("List-*.json"))  # List has an `entry` too
    bundles = [
        p.name
        for p in sorted(hl7_examples.glob("Bundle-*.json"))
        if p.stat().st_size < 3_000_000 and _is_bundle(p)
    ]
    assert len(bundles) == 36 and "Bundle-terminologies.json" in bundles  # its `entry` comes first
    for name in [*names, *lists, *bundles]:
        streamed = assert_streamed_like_whole(hl7_examples / name)
        if name in bundles:
            assert streamed[0].raw is None, f"{name} was not read in chunks"
        else:
            assert streamed[0].raw is not None, f"{name} is not a Bundle: it is read whole"


def test_the_demo_transaction_bundles_give_the_same_items(demo_dir: Path) -> None:
    for path in sorted((demo_dir / "bundles").glob("*.json")):
        items = assert_streamed_like_whole(path)
        assert items[0].raw is None and len(items) > 500
        assert items[0].data is not None and items[0].data["type"] == "transaction"
        assert all(e.get("request") for e in items[0].data["entry"])  # kept in the Bundle
        assert items[1].bundle_urls is items[0].bundle_urls


def _bundle_text(*members: str) -> str:
    return "{" + ",\n ".join(members) + "}"


ENTRIES = json.dumps(
    [
        {"fullUrl": "urn:uuid:o1", "resource": {"resourceType": "Observation", "id": "o1",
         "subject": {"reference": "urn:uuid:p1"}, "note": [{"text": "Grüße \u2603 " * 300}]}},
        {"fullUrl": "urn:uuid:p1", "resource": {"resourceType": "Patient", "id": "p1"},
         "request": {"method": "PUT", "url": "Patient/p1"}},
        {"fullUrl": "urn:uuid:x", "request": {"method": "DELETE", "url": "Patient/x"}},
        {"resource": "not an object"},
        7,
        {"resource": {"resourceType": "Bundle", "type": "collection", "entry": [
            {"fullUrl": "urn:uuid:p2", "resource": {"resourceType": "Patient", "id": "p2"}}]}},
        {"resource": {"resourceType": "Patient", "name": [{"family": "@"}]}},
    ],
    indent=2,
    ensure_ascii=False,
).replace('"@"', '"\\ud800"')  # fmt: skip


@pytest.mark.parametrize(
    ("members", "streamed"),
    [
        (['"resourceType": "Bundle"', '"type": "transaction"', f'"entry": {ENTRIES}'], True),
        ([f'"entry": {ENTRIES}', '"type": "collection"', '"resourceType": "Bundle"', '"id": "b"'],
         True),
        (['"id": "b"', f'"entry": {ENTRIES}', '"resourceType": "Bundle"', '"meta": {"tag": []}'],
         True),
        # duplicate keys: the last one counts, at the place of the first (as json.loads does)
        (['"resourceType": "Bundle"', '"entry": [{"resource": {"resourceType": "Patient"}}]',
          '"type": "batch"', f'"entry": {ENTRIES}', '"type": "collection"'], True),
        # not Bundles, or not as the whole file says: read whole, as before
        (['"resourceType": "Patient"', f'"entry": {ENTRIES}', '"resourceType": "Bundle"'], False),
        ([f'"entry": {ENTRIES}', '"resourceType": "List"', '"status": "current"'], False),
        ([f'"entry": {ENTRIES}', '"type": "collection"'], False),
        (['"resourceType": "Bundle"', '"entry": {"resource": {}}'], False),
        (['"resourceType": "Bundle"', '"type": "collection"'], False),
    ],
)  # fmt: skip
def test_members_in_any_order_give_the_same_items(
    tmp_path: Path, members: list[str], streamed: bool
) -> None:
    path = tmp_path / "b.json"
    path.write_text(_bundle_text(*members), encoding="utf-8")

    items = assert_streamed_like_whole(path)

    assert items[0].position == "file"
    assert (items[0].raw is None) == streamed


@pytest.mark.parametrize("text", ['[{"resourceType": "Patient"}]', "42", "", "  \n", '"x"'])
def test_a_file_that_is_not_an_object_gives_the_same_item(tmp_path: Path, text: str) -> None:
    path = tmp_path / "odd.json"
    path.write_text(text, encoding="utf-8")
    assert_streamed_like_whole(path)


def _encoded(text: str) -> dict[str, bytes]:
    return {
        "utf8": text.encode("utf-8"),
        "utf8-bom": codecs.BOM_UTF8 + text.encode("utf-8"),
        "utf16-le-bom": codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
        "utf16-be-bom": codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
        "utf16-le": text.encode("utf-16-le"),
        "utf16-be": text.encode("utf-16-be"),
        "gzip": gzip.compress(text.encode("utf-8")),
        "gzip-utf16": gzip.compress(codecs.BOM_UTF16_LE + text.encode("utf-16-le")),
    }


def test_every_encoding_the_reader_takes_is_read_in_chunks(tmp_path: Path) -> None:
    text = _bundle_text('"resourceType": "Bundle"', '"type": "collection"', f'"entry": {ENTRIES}')
    for name, data in _encoded(text).items():
        path = tmp_path / f"{name}.json"
        path.write_bytes(data)
        items = assert_streamed_like_whole(path)
        assert items[0].raw is None and len(items) == 7, name


def test_a_json_file_of_lines_is_told_by_its_first_lines(tmp_path: Path) -> None:
    patients = [json.dumps({"resourceType": "Patient", "id": f"p{i}"}) for i in range(50)]
    for name, lines in {
        "lines": patients,
        "first-broken": ['{"resourceType": "Patient", "id": "q"', *patients],
    }.items():
        path = tmp_path / f"{name}.json"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        items = assert_streamed_like_whole(path)
        assert [i.position for i in items] == [f"line {n}" for n in range(1, len(lines) + 1)]


def test_the_threshold_is_the_size_of_the_text(tmp_path: Path) -> None:
    text = _bundle_text('"resourceType": "Bundle"', '"type": "collection"', f'"entry": {ENTRIES}')
    plain = tmp_path / "b.json"
    plain.write_text(text, encoding="utf-8")
    size = plain.stat().st_size
    packed = tmp_path / "b.json.gz"
    packed.write_bytes(gzip.compress(text.encode("utf-8")))
    assert packed.stat().st_size < size // 4

    for path in (plain, packed):
        assert next(iter_file(path, stream_above=size)).raw == text
        assert next(iter_file(path, stream_above=size - 1)).raw is None
    assert reader.STREAM_ABOVE == 64 << 20


def test_a_small_json_file_of_lines_is_told_by_all_its_lines(tmp_path: Path) -> None:
    """A file read whole is looked at whole: a first line longer than the head the large-file
    path reads (a Binary attachment, say) does not turn an NDJSON file into one broken record."""
    big = {"resourceType": "Binary", "id": "b1", "contentType": "text/plain",
           "data": "QUJD" * (reader.HEAD_CHARS // 4 + 10)}  # fmt: skip
    patient = {"resourceType": "Patient", "id": "p1"}
    path = tmp_path / "export.json"
    path.write_text(json.dumps(big) + "\n" + json.dumps(patient) + "\n", encoding="utf-8")

    items = list(reader.iter_file(path))

    assert [i.data["resourceType"] for i in items if i.data is not None] == ["Binary", "Patient"]
