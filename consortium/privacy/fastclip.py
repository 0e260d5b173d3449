"""One-pass per-sample gradient clipping for MLPs of ``nn.Linear`` layers.

DP-SGD (Abadi et al. 2016) clips each example's gradient to norm ``C`` before summing. Opacus
materialises every per-sample gradient with hooks (``GradSampleModule``): memory and time grow with
batch x parameters (5-60x a plain step here). For a Linear layer ``z = a Wᵀ + b`` the per-sample
gradient is an outer product, ``∂ℓᵢ/∂W = gᵢ aᵢᵀ`` with ``gᵢ = ∂ℓᵢ/∂zᵢ``, so

- its Frobenius norm is ``‖gᵢ‖·‖aᵢ‖`` (and the bias's is ``‖gᵢ‖``): per-sample norms come from each
  layer's inputs and output gradients alone (Goodfellow 2015; the trick behind "ghost clipping",
  Li et al. 2022), without building a single per-sample gradient;
- the clipped sum ``Σᵢ cᵢ gᵢ aᵢᵀ`` is one matmul ``(c ⊙ G)ᵀ A``.

One forward pass, one backward pass to the pre-activations, one weighted matmul per layer: the cost
of a plain step. The clip factor is Opacus' own (``min(1, C / (‖g‖ + 1e-6))``, from
``DPOptimizer.clip_and_accumulate``) and noise is added by Opacus' ``_generate_noise`` in
`consortium.learning.train`, so only the arithmetic path differs; ``tests/privacy`` checks the
clipped sums equal Opacus' on random models and batches.

It is exact only when each example's logit depends on its own row (no BatchNorm, no layer mixing
rows), which `consortium.learning.models.MLP` guarantees; other modules go through Opacus.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from consortium.learning.models import MLP

__all__ = ["clipped_grad_sum", "supports_fast_clipping"]


def supports_fast_clipping(model: torch.nn.Module) -> bool:
    """True for the models this path is exact for (`MLP`: Linear layers, row-wise activations)."""
    return type(model) is MLP


def _activations_and_output_grads(
    model: MLP, X: torch.Tensor, y: torch.Tensor
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Each layer's input ``aᵢ`` and the gradient ``gᵢ`` of the summed loss at its output.

    For ReLU and tanh the backward pass is written out (BCE-with-logits: ``∂ℓ/∂z = σ(z) - y``;
    ReLU': ``z > 0``; tanh': ``1 - tanh²``), which skips autograd's bookkeeping, the main cost on
    small models; other activations go through autograd.
    """
    layers = [layer for layer in model.layers if isinstance(layer, torch.nn.Linear)]
    manual = isinstance(model.act, torch.nn.ReLU | torch.nn.Tanh)
    inputs, pre = [], []
    with torch.set_grad_enabled(not manual):
        h = X
        for i, layer in enumerate(layers):
            inputs.append(h.detach())
            z = F.linear(h, layer.weight, layer.bias)
            pre.append(z)
            h = model.act(z) if i < len(layers) - 1 else z
        if not manual:
            loss = F.binary_cross_entropy_with_logits(h.reshape(-1), y, reduction="sum")
            return inputs, list(torch.autograd.grad(loss, pre))
        grads = [torch.sigmoid(h) - y.reshape(-1, 1)]
        for i in range(len(layers) - 1, 0, -1):
            up = grads[0] @ layers[i].weight
            if isinstance(model.act, torch.nn.ReLU):
                grads.insert(0, up * (pre[i - 1] > 0))
            else:
                grads.insert(0, up.mul_(1.0 - inputs[i].square()))
    return inputs, grads


def clipped_grad_sum(
    model: MLP, X: torch.Tensor, y: torch.Tensor, *, max_grad_norm: float
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Sum over the batch of per-sample gradients of BCE-with-logits, each clipped to
    ``max_grad_norm``. Returns the sums in ``model.parameters()`` order and the per-sample norms."""
    if len(X) == 0:  # an empty Poisson batch: nothing to clip, noise only
        return [torch.zeros_like(p) for p in model.parameters()], torch.zeros(0)
    inputs, grads = _activations_and_output_grads(model, X, y)
    with torch.no_grad():
        sq = torch.zeros(len(X), dtype=X.dtype)
        for a, g in zip(inputs, grads, strict=True):
            sq += torch.linalg.vecdot(g, g) * (torch.linalg.vecdot(a, a) + 1.0)
        norms = sq.sqrt()
        factor = (max_grad_norm / (norms + 1e-6)).clamp_(max=1.0)  # Opacus' clip factor
        sums: list[torch.Tensor] = []
        for a, g in zip(inputs, grads, strict=True):
            weighted = g * factor[:, None]
            sums.append(weighted.T @ a)
            sums.append(weighted.sum(0))
    return sums, norms
