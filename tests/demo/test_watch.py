"""The demo's watch records every version the ledger holds, not only the head it happens to see:
a version sealed while it scored the one before is printed, kept in report.json and plotted."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from consortium import demo


class _Admin:
    """The admin's session as `Watch.poll` reads it; the head moves as the test says."""

    task_id = "heart"

    def __init__(self) -> None:
        self.height = 0

    def head(self) -> dict[str, Any]:
        return {"height": self.height}

    def q(self, fn: str, **args: Any) -> Any:
        assert fn == "GetVersion"
        return {"updates": ["u"] * args["version"], "gain_bp": 10, "required_gain_bp": -500}

    def version(self, height: int) -> Any:
        return height

    def spec(self) -> None:
        return None


def test_a_version_sealed_between_two_polls_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    class _Score:
        def __init__(self, auroc: float) -> None:
            self.auroc = auroc

    monkeypatch.setattr(demo, "score", lambda arrays, spec, X, y: _Score(0.8 + arrays / 100))
    said: list[str] = []
    watch = demo.Watch.__new__(demo.Watch)  # no consortium: poll reads only the session
    admin = _Admin()
    watch.s, watch.say, watch.started, watch.points = admin, said.append, 0.0, []  # type: ignore[assignment]
    watch.X, watch.y, watch.height = np.zeros((1, 1)), np.zeros(1), -1
    watch.poll()
    admin.height = 3  # versions 1, 2 and 3 were sealed before the next poll
    watch.poll()
    watch.poll()  # nothing new
    assert [p["height"] for p in watch.points] == [0, 1, 2, 3]
    assert [p["updates"] for p in watch.points] == [0, 1, 2, 3]
    assert len(said) == 4 and "version  2" in said[2]
