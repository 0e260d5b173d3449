"""The one-pass clipping equals Opacus' per-sample clipping on random models and batches."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from opacus import GradSampleModule
from opacus.optimizers import DPOptimizer

from consortium.learning.models import ModelSpec, build_model
from consortium.privacy.fastclip import clipped_grad_sum, supports_fast_clipping


def _opacus_clipped_sums(model: torch.nn.Module, X: torch.Tensor, y: torch.Tensor, clip: float):  # type: ignore[no-untyped-def]
    gsm = GradSampleModule(model, loss_reduction="mean")
    opt = DPOptimizer(
        torch.optim.SGD(model.parameters(), lr=0.1),
        noise_multiplier=0.0,
        max_grad_norm=clip,
        expected_batch_size=len(X),
    )
    F.binary_cross_entropy_with_logits(gsm(X), y).backward()
    opt.clip_and_accumulate()
    sums = [p.summed_grad.clone() for p in model.parameters()]
    gsm._close()
    return sums


@pytest.mark.filterwarnings("ignore::UserWarning")
@settings(max_examples=25, deadline=None)
@given(
    st.integers(1, 9),
    st.lists(st.integers(1, 12), min_size=0, max_size=3),
    st.sampled_from(["relu", "tanh", "gelu"]),
    st.integers(1, 40),
    st.floats(0.05, 5.0),
    st.integers(0, 10_000),
)
def test_clipped_sums_equal_opacus(
    d: int, hidden: list[int], act: str, batch: int, clip: float, seed: int
) -> None:
    spec = ModelSpec(in_features=d, hidden=tuple(hidden), activation=act)  # type: ignore[arg-type]
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(batch, d, generator=gen) * 3
    y = (torch.rand(batch, generator=gen) < 0.5).float()
    ours, _ = clipped_grad_sum(build_model(spec, seed=seed), X, y, max_grad_norm=clip)
    theirs = _opacus_clipped_sums(build_model(spec, seed=seed), X, y, clip)
    for a, b in zip(ours, theirs, strict=True):
        assert torch.allclose(a, b, atol=1e-6 * max(1.0, float(b.abs().max())), rtol=0)


def test_per_sample_norms_are_bounded_by_clipping_in_the_sum() -> None:
    spec = ModelSpec(in_features=3, hidden=(4,))
    X = torch.randn(10, 3) * 10
    y = torch.ones(10)
    sums, norms = clipped_grad_sum(build_model(spec, seed=0), X, y, max_grad_norm=0.1)
    total = torch.sqrt(sum((s**2).sum() for s in sums))
    assert float(total) <= 10 * 0.1 + 1e-5
    assert float(norms.max()) > 0.1  # clipping was active


def test_empty_batch_gives_zero_sums_and_other_models_are_not_fast() -> None:
    model = build_model(ModelSpec(in_features=3, hidden=(2,)), seed=0)
    sums, _ = clipped_grad_sum(model, torch.zeros(0, 3), torch.zeros(0), max_grad_norm=1.0)
    assert all(float(s.abs().sum()) == 0 for s in sums)
    assert not supports_fast_clipping(torch.nn.Sequential(torch.nn.Linear(3, 1)))
