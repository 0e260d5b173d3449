"""Model specs, deterministic weights and bytes, and the array plumbing the federation uses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from consortium.learning.models import (
    ModelSpec,
    add_delta,
    build_model,
    delta,
    load_arrays,
    state_arrays,
)
from consortium.learning.serialize import from_safetensors, model_digest, to_safetensors

SPEC = ModelSpec(in_features=5, hidden=(4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3), activation="tanh")


def test_same_seed_same_weights_and_different_seed_different_weights() -> None:
    a, b, c = (state_arrays(build_model(SPEC, seed=s)) for s in (7, 7, 8))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert any(not np.array_equal(a[k], c[k]) for k in a)


def test_build_model_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_model(SPEC, seed=1)
    assert torch.equal(torch.rand(3), expected)


def test_logits_are_flat_one_per_row() -> None:
    out = build_model(SPEC, seed=0)(torch.zeros(6, 5))
    assert out.shape == (6,)


def test_serialization_is_byte_identical_and_round_trips_in_module_order() -> None:
    arrays = state_arrays(build_model(SPEC, seed=3))
    blobs = {to_safetensors(arrays, SPEC) for _ in range(8)}
    assert len(blobs) == 1
    data = blobs.pop()
    back, spec = from_safetensors(data)
    assert list(back) == list(arrays)  # layers.10 after layers.9, not alphabetical
    assert all(np.array_equal(back[k], arrays[k]) for k in arrays)
    assert ModelSpec.model_validate(spec) == SPEC
    assert model_digest(data) == model_digest(to_safetensors(back, SPEC))


def test_digest_changes_with_one_weight() -> None:
    arrays = state_arrays(build_model(SPEC, seed=3))
    before = model_digest(to_safetensors(arrays))
    arrays["layers.0.bias"][0] += np.float32(1e-3)
    assert model_digest(to_safetensors(arrays)) != before


def test_delta_then_add_delta_restores_and_loads() -> None:
    base = state_arrays(build_model(SPEC, seed=1))
    new = state_arrays(build_model(SPEC, seed=2))
    step = delta(new, base)
    restored = add_delta(base, step)
    assert all(np.allclose(restored[k], new[k], atol=1e-6) for k in new)
    half = add_delta(base, step, scale=0.5)
    assert np.allclose(
        half["layers.0.weight"], (base["layers.0.weight"] + new["layers.0.weight"]) / 2, atol=1e-6
    )
    model = build_model(SPEC, seed=0)
    load_arrays(model, restored)
    assert np.allclose(state_arrays(model)["layers.1.weight"], new["layers.1.weight"], atol=1e-6)


def test_mismatched_layouts_are_refused() -> None:
    base = state_arrays(build_model(SPEC, seed=1))
    other = state_arrays(build_model(ModelSpec(in_features=6, hidden=(4,)), seed=1))
    with pytest.raises(ValueError, match="names differ"):
        delta(other, base)
    wrong_shape = dict(base)
    wrong_shape["layers.0.weight"] = np.zeros((4, 6), dtype=np.float32)
    with pytest.raises(ValueError, match="shape"):
        load_arrays(build_model(SPEC, seed=0), wrong_shape)
