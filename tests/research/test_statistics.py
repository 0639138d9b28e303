"""The outcome page's estimates against hand computation and published values: Kaplan–Meier on the
Freireich 6-MP arm (Gehan 1965, the textbook example) and on a small cohort worked by hand, its
band against statsmodels' Greenwood standard error on the log(-log) scale, and Wilson intervals
against Wilson's (1927) formula and known values."""

from __future__ import annotations

import math

import pytest

from research.statistics import Z_95, at_risk, kaplan_meier, wilson

# 6-MP arm of Freireich et al. (1963): weeks in remission; False = censored.
FREIREICH_TIMES = [6, 6, 6, 7, 10, 13, 16, 22, 23, 6, 9, 10, 11, 17, 19, 20, 25, 32, 32, 34, 35]
FREIREICH_EVENTS = [True] * 9 + [False] * 12
# The product-limit estimates every survival textbook prints for it.
FREIREICH_KM = {6: 0.857, 7: 0.807, 10: 0.753, 13: 0.690, 16: 0.627, 22: 0.538, 23: 0.448}


def test_kaplan_meier_matches_the_textbook_freireich_estimates():
    km = kaplan_meier(FREIREICH_TIMES, FREIREICH_EVENTS)
    assert km is not None
    assert {s.day: round(s.survival, 3) for s in km.steps[1:]} == FREIREICH_KM
    assert (km.subjects, km.events) == (21, 9)
    assert [s.at_risk for s in km.steps[1:]] == [21, 17, 15, 12, 11, 7, 6]
    assert km.at(12).survival == pytest.approx(0.7529, abs=1e-4)  # between the steps of 10 and 13
    assert km.at(40).survival == pytest.approx(0.4482, abs=1e-4)  # after the last event


def test_a_small_cohort_by_hand():
    """Five stops: relapses at 100 and 300 days, censored at 200 (retreatment), 300 and 400.
    S(100) = 4/5; S(300) = 4/5 × (1 - 1/3) = 8/15 (three at risk on day 300: the censored one of
    that day counts as at risk, as the convention is)."""
    km = kaplan_meier([100, 200, 300, 300, 400], [True, False, True, False, False])
    assert km is not None
    assert [(s.day, s.at_risk, s.events) for s in km.steps] == [
        (0, 5, 0),
        (100, 5, 1),
        (300, 3, 1),
    ]
    assert km.at(250).survival == pytest.approx(0.8)
    assert km.at(365).survival == pytest.approx(8 / 15)
    # Greenwood: var S(100) = S² × 1/(5·4); the log(-log) band by hand.
    s, variance = 0.8, 0.8**2 * (1 / (5 * 4))
    theta = math.sqrt(variance) / (s * abs(math.log(s)))
    step = km.at(100)
    assert step.low == pytest.approx(s ** math.exp(Z_95 * theta))
    assert step.high == pytest.approx(s ** math.exp(-Z_95 * theta))
    assert 0 < step.low < s < step.high < 1
    assert [at_risk([100, 200, 300, 300, 400], d) for d in (0, 150, 365)] == [5, 4, 1]


def test_the_band_is_statsmodels_greenwood_error_on_the_log_log_scale():
    import numpy as np
    from statsmodels.duration.survfunc import SurvfuncRight

    fitted = SurvfuncRight(np.array(FREIREICH_TIMES, float), np.array(FREIREICH_EVENTS, int))
    km = kaplan_meier(FREIREICH_TIMES, FREIREICH_EVENTS)
    assert km is not None
    for step, survival, se in zip(km.steps[1:], fitted.surv_prob, fitted.surv_prob_se, strict=True):
        theta = se / (survival * abs(math.log(survival)))
        assert step.low == pytest.approx(survival ** math.exp(Z_95 * theta))
        assert step.high == pytest.approx(survival ** math.exp(-Z_95 * theta))
    # The published band of S(23) for these data (log(-log), as lifelines and Stata draw it).
    last = km.at(23)
    assert (round(last.low, 3), round(last.high, 3)) == (0.188, 0.680)


def test_without_an_event_the_curve_stays_at_one_and_without_subjects_there_is_none():
    km = kaplan_meier([30, 60], [False, False])
    assert km is not None
    assert [(s.day, s.survival) for s in km.steps] == [(0, 1.0)]
    assert kaplan_meier([], []) is None


@pytest.mark.parametrize(
    ("count", "total", "low", "high"),
    [
        # Known values (Newcombe 1998, table I: 81/263 → 0.2553–0.3662; 15/148 → 0.0624–0.1605).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        # Zero events still gives an upper bound (the point of Wilson over Wald): 0/10 → 0–0.2775.
        (0, 10, 0.0, 0.2775),
    ],
)
def test_wilson_intervals_match_known_values(count, total, low, high):
    interval = wilson(count, total)
    assert interval is not None
    assert interval.estimate == pytest.approx(count / total)
    assert (round(interval.low, 4), round(interval.high, 4)) == (low, high)


def test_wilson_is_the_score_formula():
    count, total = 3, 200
    p, z = count / total, Z_95
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z / (1 + z * z / total) * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    interval = wilson(count, total)
    assert interval is not None
    assert interval.low == pytest.approx(centre - half)
    assert interval.high == pytest.approx(centre + half)
    assert wilson(0, 0) is None
