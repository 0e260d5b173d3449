"""Differential privacy: the persisted per member and task accountant, budget planning and pacing
(`consortium.privacy.accountant`), and one-pass per-sample clipping (`consortium.privacy.fastclip`).
"""
