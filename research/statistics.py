"""The two estimates the outcomes page shows with their intervals: Kaplan–Meier survival with a
pointwise 95 % band, and a proportion with its Wilson score interval.

Both come from statsmodels (`SurvfuncRight`, `proportion_confint`), chosen over lifelines because
it gives both from one well-kept library with fewer dependencies (lifelines also pulls in
matplotlib and autograd). statsmodels gives the Kaplan–Meier steps, the numbers at risk and
Greenwood's standard error; the band is the usual log(-log) transform of that standard error (what
lifelines and Stata draw by default: it stays within 0–1). statsmodels, scipy and pandas are
imported here only, when a page asks for a figure: the other web requests never load them.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

Z_95 = 1.959963984540054  # the standard normal's 97.5th percentile


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class Step:
    """The survival curve from `day` on (until the next step)."""

    day: int
    survival: float
    low: float
    high: float
    at_risk: int  # just before `day`
    events: int  # on `day`


@dataclass(frozen=True)
class KaplanMeier:
    subjects: int
    events: int
    steps: tuple[Step, ...]  # day 0 first (survival 1), then one per day with an event

    def at(self, day: int) -> Step:
        """The curve on `day` (the last step on or before it)."""
        return [step for step in self.steps if step.day <= day][-1]

    @property
    def last_day(self) -> int:
        return self.steps[-1].day


def at_risk(sorted_times: Sequence[int], day: int) -> int:
    """Subjects still followed on `day` (their time is `day` or later): the table under a curve.
    `sorted_times` ascending: a binary search, as a curve asks it for every step."""
    return len(sorted_times) - bisect.bisect_left(sorted_times, day)


def _log_log_band(survival: float, se: float) -> tuple[float, float]:
    if survival <= 0 or survival >= 1 or se == 0:
        return survival, survival
    theta = se / (survival * abs(math.log(survival)))
    return survival ** math.exp(Z_95 * theta), survival ** math.exp(-Z_95 * theta)


def kaplan_meier(times: Sequence[int], events: Sequence[bool]) -> KaplanMeier | None:
    """The estimate of survival from day 0 given each subject's time (days) and whether it ended
    in the event (else censored then); None without subjects."""
    if not times:
        return None
    if len(times) != len(events):
        raise ValueError("one event flag per time")
    steps = [Step(0, 1.0, 1.0, 1.0, len(times), 0)]
    if any(events):
        import numpy as np
        from statsmodels.duration.survfunc import SurvfuncRight

        fitted = SurvfuncRight(
            np.asarray(times, dtype=float), np.asarray([int(e) for e in events], dtype=int)
        )
        for day, survival, se, at_risk, happened in zip(
            fitted.surv_times,
            fitted.surv_prob,
            fitted.surv_prob_se,
            fitted.n_risk,
            fitted.n_events,
            strict=True,
        ):
            low, high = _log_log_band(float(survival), float(se))
            steps.append(Step(int(day), float(survival), low, high, int(at_risk), int(happened)))
    return KaplanMeier(len(times), sum(bool(e) for e in events), tuple(steps))


def wilson(count: int, total: int) -> Interval | None:
    """`count` of `total` with its 95 % Wilson score interval; None when `total` is 0."""
    if total <= 0:
        return None
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(count, total, alpha=0.05, method="wilson")
    return Interval(count / total, float(low), float(high))
