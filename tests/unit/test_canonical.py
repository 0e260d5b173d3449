import pytest
from hypothesis import given
from hypothesis import strategies as st

from consortium.canonical import CanonicalError, canonical_json, digest

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


def test_keys_are_sorted_and_compact() -> None:
    assert (
        canonical_json({"b": 1, "a": [True, None, "é"]}) == '{"a":[true,null,"é"],"b":1}'.encode()
    )


def test_floats_are_refused_with_their_path() -> None:
    with pytest.raises(CanonicalError, match=r"\$\.x\[1\]"):
        canonical_json({"x": [1, 0.5]})


@given(json_values)
def test_key_order_does_not_change_the_digest(value: object) -> None:
    if isinstance(value, dict):
        reordered = dict(reversed(list(value.items())))
        assert digest(reordered) == digest(value)
    assert canonical_json(value) == canonical_json(value)
