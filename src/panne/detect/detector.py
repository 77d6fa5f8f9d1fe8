"""One series at a time: a thin view over a bank of one, so single and batch share the maths."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from panne.detect.seasonal import BaselineParams, SeasonalBank
from panne.detect.test import TestParams


@dataclass(frozen=True, slots=True)
class Judgement:
    expected: float
    score: float  # 0..1
    alert: bool


class Detector:
    """Feed ``update(minute, count)`` in time order (``None`` for a minute without data)."""

    def __init__(self, params: BaselineParams | None = None, test: TestParams | None = None):
        self.params = params or BaselineParams()
        self.test = test or TestParams()
        self._bank = SeasonalBank(1, self.params, self.test)

    def update(self, minute: int, count: float | None) -> Judgement:
        j = self._bank.step(minute, np.array([np.nan if count is None else float(count)]))
        return Judgement(float(j.expected[0]), float(j.score[0]), bool(j.alert[0]))

    def peek(self, minute: int, count_so_far: float, fraction: float) -> Judgement:
        j = self._bank.peek(minute, np.array([float(count_so_far)]), fraction)
        return Judgement(float(j.expected[0]), float(j.score[0]), bool(j.alert[0]))

    def to_state(self) -> dict[str, Any]:
        return self._bank.state_of(0)

    @classmethod
    def from_state(
        cls,
        state: dict[str, Any],
        params: BaselineParams | None = None,
        test: TestParams | None = None,
    ) -> Detector:
        d = cls(params, test)
        d._bank.load(0, state)
        return d

    def state_bytes(self) -> int:
        return len(json.dumps(self.to_state()))
