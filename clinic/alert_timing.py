"""What an alert's date means, per rule, in the worklist's "When" column.

Every finding carries a `due_on` (monitoring.guideline.rules), but it is not always a due date:
- a **dose** (induction_dose_missed, maintenance_dose_overdue): the dose's due date: "12 d overdue",
  "due today", "due in 3 d";
- the **start** a screening is needed by (screening_missing): the course's start, read as a dose's
  due date: "due in 3 d", "40 d overdue";
- the **next dose** a premedication is for (premedication_advised): "next dose in 3 d";
- a **check** that falls due (response_assessment_due, markers_overdue, imaging_overdue,
  post_stop_follow_up_due, methotrexate_monitoring_due): "due since 04 Nov 2026", and how long;
- a **past fact** (dose_given_early, dose_mismatch, infusion_too_fast, low_trough,
  antibodies_detected, early_discontinuation, taper_readiness): the date it happened, no clock
  (a count of days since an infusion or a stop would read like lateness);
- something that happened and **awaits a decision** (treatment_interrupted,
  relapse_after_stopping, severe_reaction_review, screening_positive, live_vaccine_on_treatment,
  serious_adverse_event_review): its date and how long ago.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from clinic.evidence import date_text

DOSE, NEXT_DOSE, CHECK, FACT, AWAITING = "dose", "next_dose", "check", "fact", "awaiting"

# rule id → (kind, what its date is). tests/clinic/test_alert_timing.py holds it to RULES.
RULE_TIMING: dict[str, tuple[str, str]] = {
    "induction_dose_missed": (DOSE, "due"),
    "maintenance_dose_overdue": (DOSE, "due"),
    "screening_missing": (DOSE, "due"),
    "premedication_advised": (NEXT_DOSE, "next dose"),
    "response_assessment_due": (CHECK, "due since"),
    "markers_overdue": (CHECK, "due since"),
    "imaging_overdue": (CHECK, "due since"),
    "post_stop_follow_up_due": (CHECK, "visit due since"),
    "methotrexate_monitoring_due": (CHECK, "due since"),
    "dose_given_early": (FACT, "given"),
    "dose_mismatch": (FACT, "given"),
    "infusion_too_fast": (FACT, "given"),
    "low_trough": (FACT, "drawn"),
    "antibodies_detected": (FACT, "result of"),
    "early_discontinuation": (FACT, "stopped"),
    "taper_readiness": (FACT, "eligible since"),
    "treatment_interrupted": (AWAITING, "since"),
    "relapse_after_stopping": (AWAITING, "first sign"),
    "severe_reaction_review": (AWAITING, "reaction"),
    "screening_positive": (AWAITING, "result of"),
    "live_vaccine_on_treatment": (AWAITING, "vaccine given"),
    "serious_adverse_event_review": (AWAITING, "onset"),
    "reconsent_at_majority": (CHECK, "due since"),
}

# The worklist's legend of the column: what "When" says, per kind of rule.
LEGEND = (
    "When: for a dose, how many days it is overdue or until it is due (so too for the screening "
    "due by a course's start); for a check (markers, MRI, "
    "response assessment, follow-up visit, methotrexate's bloods), since when it is due; for a "
    "past fact (an early, mismatched or short infusion, a result, a stop, readiness to taper), the "
    "date it happened; "
    "for what awaits a decision (an interruption, a relapse, a severe reaction, a screen not "
    "negative, a live vaccine, a serious adverse event), its date and how long ago."
)


@dataclass(frozen=True)
class AlertTiming:
    text: str  # what matters, e.g. "12 d overdue", "due since 04 Nov 2026"
    detail: str = ""  # the date or the age beside it, e.g. "due 10 Nov 2026", "20 d ago"
    late: bool = False  # a dose or a check past its date: shown strong


def _ago(days: int) -> str:
    return "today" if days == 0 else f"{days} d ago" if days > 0 else f"in {-days} d"


def _dose(label: str, on: dt.date, days: int) -> AlertTiming:
    prefix = "" if label == "due" else f"{label} "
    if days > 0:
        return AlertTiming(f"{prefix}{days} d overdue", f"due {date_text(on)}", late=True)
    when = "today" if days == 0 else f"in {-days} d"
    text = f"due {when}" if label == "due" else f"{label} {when}"
    return AlertTiming(text, date_text(on))


def alert_timing(alert: Any, today: dt.date) -> AlertTiming:
    """The "When" of `alert` (an Alert, or anything with rule, due_on and evidence) on `today`."""
    on = alert.due_on
    if on is None:
        return AlertTiming("—")
    kind, label = RULE_TIMING.get(alert.rule, (AWAITING, "since"))
    if kind == NEXT_DOSE and _is_a_given_infusion(alert.evidence, on):
        kind, label = FACT, "given"  # no next dose (stopped): the date of the last infusion
    days = (today - on).days
    if kind in (DOSE, NEXT_DOSE):
        return _dose(label, on, days)
    if kind == CHECK:
        return AlertTiming(f"{label} {date_text(on)}", _ago(days), late=days > 0)
    if kind == FACT:
        return AlertTiming(f"{label} {date_text(on)}")
    return AlertTiming(f"{label} {date_text(on)}", _ago(days))


def _is_a_given_infusion(evidence: dict[str, Any], on: dt.date) -> bool:
    """premedication_advised dates itself by the next dose, or, with none, by the last infusion
    given without premedication."""
    given = evidence.get("given_without_premedication") or []
    return bool(given) and given[-1].get("given_on") == on.isoformat()
