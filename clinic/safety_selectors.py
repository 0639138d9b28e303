"""Reads behind the patient page's safety tables: adverse events (infusion reactions among them),
screening results and vaccinations, from the record loaded once (clinic.patient_record), in words,
newest first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from clinic.patient_record import PatientRecord, RecordTable, on
from registry import roles
from registry.models import (
    AdverseEvent,
    InfusionReaction,
    ReactionSeverity,
    ScreeningResult,
    Vaccination,
)


@dataclass(frozen=True)
class AdverseEventLine:
    """An adverse event, or an infusion reaction shown as one (CTCAE "Infusion related
    reaction"): a reaction keeps its own severity, review and hold."""

    on: dt.date
    what: str
    grade: str
    seriousness: str
    special_interest: str
    relation: str
    action: str
    outcome: str
    review: str
    awaiting_review: bool
    event: AdverseEvent | None = None
    reaction: InfusionReaction | None = None


def _event_line(event: AdverseEvent) -> AdverseEventLine:
    if event.serious:
        seriousness = "serious: it " + "; it ".join(event.seriousness_criteria)
    else:
        seriousness = "not serious"
    outcome = event.get_outcome_display()
    if event.resolved_on:
        outcome += f" {on(event.resolved_on)}"
    if event.reviewed_on:
        review = f"reviewed {on(event.reviewed_on)}: {event.get_review_decision_display()}"
    elif event.needs_review:
        review = "awaiting a clinician's review"
    else:
        review = "—"
    return AdverseEventLine(
        on=event.onset_on,
        what=event.term_words,
        grade=event.get_grade_display(),
        seriousness=seriousness,
        special_interest=", ".join(event.special_interest_words) or "—",
        relation=event.get_relation_to_infliximab_display(),
        action=event.get_action_taken_display(),
        outcome=outcome,
        review=review,
        awaiting_review=event.needs_review,
        event=event,
    )


def _reaction_line(reaction: InfusionReaction) -> AdverseEventLine:
    given_on = reaction.infusion.given_on
    unreviewed = reaction.severity == ReactionSeverity.SEVERE and reaction.reviewed_on is None
    if reaction.reviewed_on:
        decision = reaction.get_review_decision_display()
        review = f"reviewed {on(reaction.reviewed_on)}" + (f": {decision}" if decision else "")
    else:
        review = "awaiting a clinician's review" if unreviewed else "—"
    return AdverseEventLine(
        on=given_on,
        what=f"Infusion related reaction ({reaction.get_onset_display().lower()}, to the "
        f"infusion of {on(given_on)})",
        grade=f"{reaction.get_severity_display()} (reaction)",
        seriousness="—",
        special_interest="—",
        relation="Related",
        action="Infusion stopped" if reaction.infusion_stopped else "—",
        outcome=reaction.get_outcome_display(),
        review=review,
        awaiting_review=unreviewed,
        reaction=reaction,
    )


def adverse_event_table(record: PatientRecord) -> RecordTable[AdverseEventLine]:
    lines = [_event_line(e) for e in record.adverse_events]
    lines += [_reaction_line(r) for r in record.reactions]
    return RecordTable(sorted(lines, key=lambda line: line.on, reverse=True))


@dataclass(frozen=True)
class ScreeningLine:
    screening: ScreeningResult

    @property
    def review(self) -> str:
        if self.screening.reviewed_on:
            return f"specialist review recorded {on(self.screening.reviewed_on)}"
        return "awaiting a specialist's review" if self.screening.awaiting_review else "—"


def screening_table(record: PatientRecord) -> RecordTable[ScreeningLine]:
    return RecordTable([ScreeningLine(s) for s in reversed(record.screening_results)])


@dataclass(frozen=True)
class VaccinationLine:
    vaccination: Vaccination

    @property
    def review(self) -> str:
        v = self.vaccination
        if v.reviewed_on:
            return f"reviewed {on(v.reviewed_on)}: {v.get_review_decision_display()}"
        return "not reviewed" if v.live else "—"


def vaccination_table(record: PatientRecord) -> RecordTable[VaccinationLine]:
    return RecordTable([VaccinationLine(v) for v in reversed(record.vaccinations)])


# What the patient page offers of the safety record, by the person's role at the patient's site.
PATIENT_PAGE_ACTIONS = ("add_adverseevent", "add_screeningresult", "add_vaccination")


def patient_page_context(allowed: frozenset[str], record: PatientRecord) -> dict[str, object]:
    """The patient page's safety tables, and what this person may record and review there
    (`allowed`: their permissions at the patient's site, roles.permissions_at)."""
    return {
        "adverse_events": adverse_event_table(record),
        "screening": screening_table(record),
        "vaccinations": vaccination_table(record),
        "can_safety": {name: f"registry.{name}" in allowed for name in PATIENT_PAGE_ACTIONS},
        "can_review_adverse_event": roles.REVIEW_ADVERSE_EVENT in allowed,
        "can_review_screening": roles.REVIEW_SCREENING in allowed,
        "can_review_vaccination": roles.REVIEW_VACCINATION in allowed,
    }
