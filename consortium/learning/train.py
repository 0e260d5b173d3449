"""Local training, private by default: DP-SGD with Poisson sampling, per-sample clipping and noise.

`train_local` is the one entry point. Its arguments are keyword-only, as Opacus' ``make_private``:
a noise multiplier passed where a learning rate was expected would be a silent privacy bug.

DP-SGD (Abadi et al. 2016) as Opacus implements it, step by step:

- **Poisson sampling**: each row joins a step's batch independently with probability ``q`` (the
  amplification-by-subsampling analysis the accountants assume; fixed-size shuffled batches would
  not match it). ``q = 1 / steps_per_epoch``, Opacus' convention (``DPDataLoader``); the
  float32 uniforms are compared with q rounded down to their grid, so no row is taken more often
  than the accountant is told (`_poisson_batch`).
- **per-sample clipping** to ``max_grad_norm``: `consortium.privacy.fastclip` for our MLPs (same
  clip factor as Opacus, one pass), else Opacus' ``GradSampleModule`` + ``DPOptimizer``;
- **noise**: Opacus' ``_generate_noise`` with std ``noise_multiplier x max_grad_norm`` per tensor,
  then division by the expected batch size (Opacus' ``loss_reduction="mean"``);
- **accounting**: the run's ε is reserved in the member's persisted accountant *before* the first
  step (`consortium.privacy.accountant`); a run past the budget is refused and spends nothing.

Randomness: ``seed`` drives three private generators (sampling, noise, shuffling) derived by
hashing, never the global RNG. Knowing the seed means knowing the noise, which removes the
privacy: a seed is for tests and reproducible baselines on one's own machine, and must never leave
it. Without a seed a fresh 63-bit one is drawn from the OS CSPRNG. Opacus' ``secure_mode`` (noise
robust to floating-point attacks, Mironov 2012 / Haney et al. 2022) is passed through.

The optimizer is SGD with momentum: it commutes with rotations, which is what makes training
behind the Secure Mapping Layer exactly equivalent to training without it (`consortium.pole.sml`);
Adam's per-coordinate scaling would not.
"""

from __future__ import annotations

import copy
import hashlib
import math
import secrets
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from consortium.learning.models import ModelSpec, build_model, load_arrays, state_arrays
from consortium.privacy.accountant import AccountantStore, SpendPlan, noise_for_budget
from consortium.privacy.fastclip import clipped_grad_sum, supports_fast_clipping

__all__ = [
    "TrainResult",
    "fast_dp_steps",
    "generators",
    "opacus_dp_steps",
    "plain_epochs",
    "train_local",
]

Clipping = Literal["auto", "fast", "opacus"]


@dataclass(frozen=True)
class TrainResult:
    """What a local run produced.

    ``state`` is the trained model in the coordinates it was trained in (the member's mapped
    coordinates when an SML was used: what is submitted); ``unmapped_state`` is the same model with
    its first layer back in global coordinates (None without an SML).
    """

    state: OrderedDict[str, np.ndarray]
    unmapped_state: OrderedDict[str, np.ndarray] | None
    dp: bool
    epsilon_spent_total: float | None
    epsilon_this_run: float | None
    delta: float | None
    noise_multiplier: float | None
    max_grad_norm: float | None
    sample_rate: float
    steps: int
    n_samples: int
    clipping: str
    seconds: float


def generators(seed: int) -> dict[str, torch.Generator]:
    """Private generators for Poisson sampling, noise and shuffling, derived from ``seed``."""

    def derive(purpose: str) -> int:
        h = hashlib.sha256(f"consortium/train/v1|{seed}|{purpose}".encode()).digest()
        return int.from_bytes(h[:8], "big") >> 1

    return {p: torch.Generator().manual_seed(derive(p)) for p in ("sample", "noise", "shuffle")}


def _sampling(n: int, batch_size: int | None, sample_rate: float | None) -> tuple[float, int]:
    """(Poisson sample rate, steps per epoch), Opacus' convention q = 1 / steps_per_epoch."""
    if (batch_size is None) == (sample_rate is None):
        raise ValueError("give exactly one of batch_size or sample_rate")
    if n == 0:
        raise ValueError("no training rows")
    if batch_size is not None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        steps_per_epoch = math.ceil(n / batch_size)
        return 1.0 / steps_per_epoch, steps_per_epoch
    assert sample_rate is not None
    if not 0 < sample_rate <= 1:
        raise ValueError("sample_rate must be in (0, 1]")
    return sample_rate, max(1, round(1.0 / sample_rate))


def _prepare(model: nn.Module | Mapping[str, np.ndarray], spec: ModelSpec | None) -> nn.Module:
    if isinstance(model, nn.Module):
        return copy.deepcopy(model)
    if spec is None:
        raise ValueError("spec is required when model is given as arrays")
    module = build_model(spec, seed=0)
    load_arrays(module, model)
    return module


def _noise_multiplier(
    noise_multiplier: float | None,
    target_epsilon: float | None,
    store: AccountantStore,
    sample_rate: float,
    steps: int,
) -> float:
    if (noise_multiplier is None) == (target_epsilon is None):
        raise ValueError("under DP give exactly one of noise_multiplier or target_epsilon")
    if noise_multiplier is not None:
        return float(noise_multiplier)
    assert target_epsilon is not None
    return noise_for_budget(target_epsilon, store.delta, sample_rate, steps, 1, store.accountant)


def _poisson_batch(n: int, q: float, gen: torch.Generator) -> torch.Tensor:
    """Each of ``n`` rows independently with probability at most ``q``, never more.

    ``torch.rand`` gives float32 uniforms on the grid k·2⁻²⁴, and ``u < q`` compares in float32:
    a row was taken with probability ⌈q·2²⁴⌉/2²⁴ for q rounded to float32, above q for most
    rates (1/3: 0.33333337). The threshold is q rounded *down* to that grid, so the rate is
    ⌊q·2²⁴⌋/2²⁴ ≤ q and the accountant's ε for q, which grows with q, bounds the run's.
    """
    threshold = math.floor(q * 2**24) / 2**24
    return torch.nonzero(torch.rand(n, generator=gen) < threshold).reshape(-1)


def fast_dp_steps(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int,
    q: float,
    sigma: float,
    clip: float,
    gens: dict[str, torch.Generator],
    secure_mode: bool,
) -> None:
    """``steps`` DP-SGD steps with one-pass clipping (`consortium.privacy.fastclip`)."""
    from opacus.optimizers.optimizer import _generate_noise

    expected = max(1, int(len(X) * q))  # Opacus: int(len(dataset) * sample_rate)
    params = list(model.parameters())
    for _ in range(steps):
        idx = _poisson_batch(len(X), q, gens["sample"])
        sums, _ = clipped_grad_sum(model, X[idx], y[idx], max_grad_norm=clip)  # type: ignore[arg-type]
        for p, s in zip(params, sums, strict=True):
            noise = _generate_noise(sigma * clip, s, gens["noise"], secure_mode)
            p.grad = (s + noise) / expected
        opt.step()
        opt.zero_grad(set_to_none=True)


def opacus_dp_steps(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int,
    q: float,
    sigma: float,
    clip: float,
    gens: dict[str, torch.Generator],
    secure_mode: bool,
) -> None:
    """``steps`` DP-SGD steps through Opacus' ``GradSampleModule`` and ``DPOptimizer``."""
    from opacus import GradSampleModule
    from opacus.optimizers import DPOptimizer

    gsm = GradSampleModule(model, loss_reduction="mean")
    expected = max(1, int(len(X) * q))
    dp_opt = DPOptimizer(
        opt,
        noise_multiplier=sigma,
        max_grad_norm=clip,
        expected_batch_size=expected,
        loss_reduction="mean",
        generator=gens["noise"],
        secure_mode=secure_mode,
    )
    for _ in range(steps):
        idx = _poisson_batch(len(X), q, gens["sample"])
        dp_opt.zero_grad(set_to_none=True)
        if len(idx) == 0:  # Opacus' DPDataLoader feeds an empty batch: zero per-sample grads
            for p in dp_opt.params:
                p.grad_sample = torch.zeros(0, *p.shape)
        else:
            logits = gsm(X[idx])
            loss = F.binary_cross_entropy_with_logits(logits.reshape(-1), y[idx])
            loss.backward()  # type: ignore[no-untyped-call]
        dp_opt.step()
    gsm._close()


def plain_epochs(
    model: nn.Module,
    opt: torch.optim.Optimizer,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    batch: int,
    gen: torch.Generator,
) -> int:
    """Non-private epochs of shuffled batches sliced from tensors; returns the step count."""
    steps = 0
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=gen)
        for start in range(0, len(X), batch):
            idx = order[start : start + batch]
            loss = F.binary_cross_entropy_with_logits(model(X[idx]).reshape(-1), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            steps += 1
    return steps


def _choose_clipping(model: nn.Module, clipping: Clipping) -> str:
    if clipping == "auto":
        how = "fast" if supports_fast_clipping(model) else "opacus"
    elif clipping == "fast" and not supports_fast_clipping(model):
        raise ValueError("fast clipping only applies to consortium.learning.models.MLP")
    else:
        how = clipping
    if how == "opacus":
        _check_per_sample(model)
    _check_no_buffers(model)
    return how


def _check_no_buffers(model: nn.Module) -> None:
    """Refuse, before anything is spent, modules that keep state besides their parameters.

    DP-SGD noises parameters only. A buffer a forward pass updates (a norm layer's running
    statistics: an InstanceNorm with ``track_running_stats`` passes Opacus' validator) is an
    exact statistic of the training rows: it leaves with the model (`state_arrays` is the
    ``state_dict``), and a forward pass that reads it makes a row's gradient depend on rows of
    earlier batches. A constant buffer cannot be told apart from one, so every buffer is refused
    (a constant can be a parameter with ``requires_grad=False``, which Opacus leaves alone).
    """
    buffers = [name for name, _ in model.named_buffers()]
    if buffers:
        raise ValueError(
            f"DP-SGD noises parameters only: buffers {buffers} would be computed from the rows "
            "without noise and leave with the model (for a norm layer: track_running_stats=False)"
        )


def _check_per_sample(model: nn.Module) -> None:
    """Refuse, before anything is spent, modules whose output for one row depends on other rows.

    Opacus' ``ModuleValidator`` only looks at *trainable* sub-modules, so a BatchNorm without
    affine parameters passes it while mixing the rows of a batch: every "per-sample" gradient
    then depends on the whole batch and one row moves all of them (sensitivity >> C).
    """
    from opacus.validators import ModuleValidator

    batch_norm = nn.modules.batchnorm._BatchNorm
    mixing = [n for n, m in model.named_modules() if isinstance(m, batch_norm)]
    if mixing:
        raise ValueError(f"DP-SGD needs per-sample gradients: {mixing} mix rows (use GroupNorm)")
    ModuleValidator.validate(model, strict=True)


def _check_inputs(
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    lr: float,
    max_grad_norm: float,
    dp: bool,
    noise: tuple[float | None, float | None],
    sml: np.ndarray | None,
) -> None:
    """Refuse inconsistent arguments before anything is spent."""
    if X.ndim != 2 or len(X) != len(np.asarray(y).reshape(-1)):
        raise ValueError(f"X must be rows x features with one label per row: {X.shape}, {y.shape}")
    with np.errstate(over="ignore"):  # what training sees: float32, where 1e39 is inf
        bad = np.argwhere(~np.isfinite(np.asarray(X, dtype=np.float32)))
    if len(bad):
        # Clipping bounds finite gradients only: one such row turns every parameter to NaN, so the
        # model would reveal, beyond any ε, that such a row was trained on.
        rows = len(np.unique(bad[:, 0]))
        raise ValueError(
            f"X is not finite in {rows} rows (first: row {bad[0][0]}, column {bad[0][1]}; float32 "
            "holds values up to 3.4e38): clipping cannot bound them; fix or drop those rows"
        )
    if epochs < 1 or lr <= 0 or max_grad_norm <= 0:
        raise ValueError("epochs, lr and max_grad_norm must be positive")
    if not dp and any(v is not None for v in noise):
        raise ValueError("dp=False with a noise setting: say which one you meant")
    if sml is not None and sml.shape != (X.shape[1], X.shape[1]):
        raise ValueError(f"SML layer {sml.shape} does not match {X.shape[1]} input features")


def _plan(
    store: AccountantStore | None,
    noise_multiplier: float | None,
    target_epsilon: float | None,
    q: float,
    steps: int,
) -> tuple[float, SpendPlan]:
    if store is None:
        raise ValueError("DP training needs an accountant_store (the member's persisted budget)")
    sigma = _noise_multiplier(noise_multiplier, target_epsilon, store, q, steps)
    return sigma, store.reserve(noise_multiplier=sigma, sample_rate=q, steps=steps)


def train_local(
    *,
    model: nn.Module | Mapping[str, np.ndarray],
    spec: ModelSpec | None = None,
    X: np.ndarray,
    y: np.ndarray,
    epochs: int,
    lr: float,
    batch_size: int | None = None,
    sample_rate: float | None = None,
    dp: bool = True,
    noise_multiplier: float | None = None,
    target_epsilon: float | None = None,
    max_grad_norm: float = 1.0,
    accountant_store: AccountantStore | None = None,
    sml: np.ndarray | None = None,
    seed: int | None = None,
    momentum: float = 0.9,
    clipping: Clipping = "auto",
    secure_mode: bool = False,
) -> TrainResult:
    """Train a copy of ``model`` (a module, or base weights plus ``spec``) on ``X``, ``y``.

    Under DP (the default) give ``noise_multiplier`` or ``target_epsilon`` (ε of this run alone,
    at the store's δ) and an ``accountant_store``; the run's spending is checked against the
    task's budget and recorded before training (`BudgetExceeded` otherwise, nothing spent).
    With ``sml`` (a layer from `consortium.pole.sml.sml_layer`), the model is mapped into the
    member's coordinates and trained behind the frozen layer. The input model is not modified.
    """
    from consortium.pole.sml import map_state, mapped_inputs, unmap_state

    started = time.perf_counter()
    _check_inputs(
        X,
        y,
        epochs=epochs,
        lr=lr,
        max_grad_norm=max_grad_norm,
        dp=dp,
        noise=(noise_multiplier, target_epsilon),
        sml=sml,
    )
    module = _prepare(model, spec)
    if sml is not None:
        load_arrays(module, map_state(state_arrays(module), sml))
        X = mapped_inputs(X, sml)
    q, per_epoch = _sampling(len(X), batch_size, sample_rate)
    steps = epochs * per_epoch
    gens = generators(secrets.randbits(63) if seed is None else seed)
    Xt = torch.as_tensor(np.asarray(X, dtype=np.float32))
    yt = torch.as_tensor(np.asarray(y, dtype=np.float32)).reshape(-1)
    opt = torch.optim.SGD(module.parameters(), lr=lr, momentum=momentum)
    module.train()
    sigma, plan, how = None, None, "none"
    if dp:
        how = _choose_clipping(module, clipping)
        sigma, plan = _plan(accountant_store, noise_multiplier, target_epsilon, q, steps)
        run = fast_dp_steps if how == "fast" else opacus_dp_steps
        run(
            module,
            opt,
            Xt,
            yt,
            steps=steps,
            q=q,
            sigma=sigma,
            clip=max_grad_norm,
            gens=gens,
            secure_mode=secure_mode,
        )
    else:
        batch = batch_size or max(1, round(q * len(X)))
        steps = plain_epochs(module, opt, Xt, yt, epochs=epochs, batch=batch, gen=gens["shuffle"])
    state = state_arrays(module)
    return TrainResult(
        state=state,
        unmapped_state=None if sml is None else unmap_state(state, sml),
        dp=dp,
        epsilon_spent_total=None if plan is None else plan.epsilon_after,
        epsilon_this_run=None if plan is None else plan.epsilon_this_run,
        delta=None if plan is None else plan.delta,
        noise_multiplier=sigma,
        max_grad_norm=max_grad_norm if dp else None,
        sample_rate=q,
        steps=steps,
        n_samples=len(X),
        clipping=how,
        seconds=time.perf_counter() - started,
    )
