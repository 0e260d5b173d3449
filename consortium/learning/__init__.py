"""Local learning: model specs and serialization, cohort design matrices, DP training, evaluation.

- `consortium.learning.models`: `ModelSpec`, `build_model`, weights as ordered numpy arrays,
  `delta` / `add_delta`;
- `consortium.learning.serialize`: deterministic safetensors bytes and their digest;
- `consortium.learning.data`: design matrix from a cohort table, held-out split;
- `consortium.learning.train`: `train_local` (DP-SGD with Opacus by default);
- `consortium.learning.evaluate`: AUROC, accuracy, Brier with their sample sizes;
- `consortium.learning.alone`: training on one (or pooled) cohort, behind `consortium train`.
"""
