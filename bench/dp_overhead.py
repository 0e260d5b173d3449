"""Seconds per epoch of DP-SGD against the fastest non-private loop, on the same data, one run.

    .venv/bin/python bench/dp_overhead.py [--epochs 5]

Two models: the heart MLP (16 -> 16 -> 1 on the 696 pooled training rows of the heart cohort,
batch 64) and a wider one (30 -> 256 -> 256 -> 1 on 20,000 synthetic rows, batch 256). Loops:

- ``plain``: non-private, shuffled batches sliced from tensors (no row-at-a-time DataLoader);
- ``dp-fast``: what `train_local` runs for MLPs by default: Poisson sampling, one-pass clipping
  (`consortium.privacy.fastclip`), Opacus' noise (one Gaussian draw per tensor);
- ``dp-secure``: the same with Opacus' ``secure_mode`` noise (four draws per tensor, robust to
  floating-point attacks), what a node runs (node.toml ``secure_noise``, on by default);
- ``dp-opacus``: the ``dp-fast`` steps through Opacus' ``GradSampleModule`` hooks and
  ``DPOptimizer``.

Each loop runs one warm-up epoch, then ``--epochs`` timed epochs, the loops taking turns; the
fastest epoch is reported (Opacus: 10 steps, scaled to an epoch). Times are CPU seconds of this
single-threaded process (``time.process_time``): on a shared 2-core machine wall-clock times swing
by 2x with other people's load, CPU time does not.
Goal: ``dp-fast / plain <= 1.5`` on both models; ``dp-secure`` shows what secure noise adds.
Accounting (once per run, not per epoch) is not included.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch

from consortium.datasets.heart import heart_cohort_table
from consortium.learning.data import load_definition, train_test
from consortium.learning.models import MLP, ModelSpec, build_model
from consortium.learning.train import fast_dp_steps, generators, opacus_dp_steps, plain_epochs

warnings.filterwarnings("ignore", category=UserWarning)

LOOPS = ("plain", "dp-fast", "dp-secure", "dp-opacus")
OPACUS_STEPS = 10  # Opacus' hooks take ~20 s per wide epoch here: time 10 steps and scale


def _heart() -> tuple[ModelSpec, torch.Tensor, torch.Tensor, int]:
    train, _ = train_test(heart_cohort_table(), load_definition("heart"))
    spec = ModelSpec(in_features=train.X.shape[1], hidden=(16,))
    return spec, torch.as_tensor(train.X), torch.as_tensor(train.y), 64


def _wide() -> tuple[ModelSpec, torch.Tensor, torch.Tensor, int]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 30)).astype(np.float32)
    y = (X[:, :5].sum(1) + rng.normal(size=20_000) > 0).astype(np.float32)
    return ModelSpec(in_features=30, hidden=(256, 256)), torch.as_tensor(X), torch.as_tensor(y), 256


def _epoch_timer(
    spec: ModelSpec, X: torch.Tensor, y: torch.Tensor, batch: int, loop: str
) -> Callable[[], float]:
    """A function timing one epoch of ``loop`` (Opacus: OPACUS_STEPS steps, scaled to an epoch)."""
    model: MLP = build_model(spec, seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    gens = generators(0)
    steps = -(-len(X) // batch)
    q = 1.0 / steps

    def one_epoch() -> float:
        start = time.process_time()
        if loop == "plain":
            plain_epochs(model, opt, X, y, epochs=1, batch=batch, gen=gens["shuffle"])
            return time.process_time() - start
        fast = loop != "dp-opacus"
        run = fast_dp_steps if fast else opacus_dp_steps
        n = steps if fast else min(steps, OPACUS_STEPS)
        secure = loop == "dp-secure"
        run(model, opt, X, y, steps=n, q=q, sigma=1.0, clip=1.0, gens=gens, secure_mode=secure)
        return (time.process_time() - start) * steps / n

    return one_epoch


def _median_epochs(timers: dict[str, Callable[[], float]], epochs: int) -> dict[str, float]:
    """Warm up, then time the loops in turn, and keep each loop's fastest epoch."""
    for timer in timers.values():
        timer()
    samples: dict[str, list[float]] = {loop: [] for loop in timers}
    for _ in range(epochs):
        for loop, timer in timers.items():
            samples[loop].append(timer())
    return {loop: min(values) for loop, values in samples.items()}


def main() -> None:
    """Print seconds per epoch of each loop and the ratios to the non-private loop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(1)  # comparable on a shared 2-core machine
    print(
        f"{'model':34s} {'plain CPU s/ep':>15s} {'dp-fast':>9s} {'dp-secure':>10s} "
        f"{'dp-opacus':>10s} {'fast/plain':>11s} {'secure/plain':>13s} {'opacus/plain':>13s}"
    )
    for name, make in (("heart 16-16-1, 696 rows", _heart), ("wide 30-256-256-1, 20k rows", _wide)):
        spec, X, y, batch = make()
        timers = {loop: _epoch_timer(spec, X, y, batch, loop) for loop in LOOPS}
        t = _median_epochs(timers, args.epochs)
        print(
            f"{name:34s} {t['plain']:15.4f} {t['dp-fast']:9.4f} {t['dp-secure']:10.4f} "
            f"{t['dp-opacus']:10.4f} {t['dp-fast'] / t['plain']:10.2f}x "
            f"{t['dp-secure'] / t['plain']:12.2f}x {t['dp-opacus'] / t['plain']:12.2f}x"
        )


if __name__ == "__main__":
    main()
