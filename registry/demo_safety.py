"""The demo registry's safety record: every patient screened for latent TB and hepatitis B before
each course (as the label asks; a retreatment is screened again), and the patients whose record
shows the rest — a serious adverse event awaiting a clinician's review, reviewed ones, an event of
special interest, a positive TB screen awaiting its specialist review (screening_positive), a
reviewed indeterminate one, a screen without its anti-HBc (screening_missing), the complete
screening panel, a live vaccine given during a course awaiting a clinician's review and one
reviewed.

Written through `registry.services` as the site's clinician, after the patient's courses (the
dates are counted from them), inside the patient's own seeding transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from registry import services
from registry.models import (
    ActionTaken,
    AdverseEventDecision,
    AdverseEventOutcome,
    Infusion,
    RelationToInfliximab,
    TreatmentCourse,
    VaccinationReviewDecision,
)
from registry.safety_codes import AdverseEventTerm, ScreeningOutcome, ScreeningTest, Vaccine

if TYPE_CHECKING:  # registry.demo imports this module
    from registry.demo import Chart

POSITIVE, NEGATIVE = ScreeningOutcome.POSITIVE, ScreeningOutcome.NEGATIVE
INDETERMINATE = ScreeningOutcome.INDETERMINATE
# What every patient is screened for before the first dose (the label; BSPAR): latent TB and
# hepatitis B.
BASELINE: dict[str, str] = {
    ScreeningTest.TB_IGRA: NEGATIVE,
    ScreeningTest.HBV_SURFACE_ANTIGEN: NEGATIVE,
    ScreeningTest.HBV_CORE_ANTIBODY: NEGATIVE,
}
# The whole panel: TB (with a chest X-ray), hepatitis B (with immunity), hepatitis C, HIV and
# varicella immunity.
COMPLETE: dict[str, str] = {
    **BASELINE,
    ScreeningTest.TB_CHEST_XRAY: NEGATIVE,
    ScreeningTest.HBV_SURFACE_ANTIBODY: POSITIVE,
    ScreeningTest.HCV_ANTIBODY: NEGATIVE,
    ScreeningTest.HIV: NEGATIVE,
    ScreeningTest.VARICELLA_IGG: POSITIVE,
}


def _first_course(chart: Chart) -> TreatmentCourse | None:
    return chart.patient.courses.order_by("started_on").first()


def _active_course(chart: Chart) -> TreatmentCourse:
    course = chart.patient.courses.filter(stopped_on__isnull=True).first()
    assert course is not None, f"{chart.patient}: the scenario has no active course"  # noqa: S101
    return course


def _screen(chart: Chart, tested_on: dt.date, results: dict[str, str]) -> None:
    services.screening_panel_record(
        patient=chart.patient, tested_on=tested_on, results=results, by=chart.staff.clinician
    )


def screened_before_treatment(chart: Chart, results: dict[str, str] = BASELINE) -> None:
    """`results` two to five weeks before the first course, and the baseline screen again before
    each retreatment (GUIDELINE: screening_missing judges each course on its own start)."""
    for number, course in enumerate(chart.patient.courses.order_by("started_on")):
        tested_on = course.started_on - dt.timedelta(days=chart.rng.randint(14, 35))
        _screen(chart, tested_on, results if number == 0 else BASELINE)


# --- The situations -------------------------------------------------------------------------------


def serious_infection_awaiting_review(chart: Chart) -> None:
    """A lung infection three weeks ago, in hospital, still recovering: no clinician has
    reviewed it yet."""
    screened_before_treatment(chart)
    services.adverse_event_record(
        patient=chart.patient,
        course=_active_course(chart),
        onset_on=chart.weeks_ago(3),
        term=AdverseEventTerm.LUNG_INFECTION,
        grade=3,
        serious=True,
        seriousness=["hospitalisation"],
        relation_to_infliximab=RelationToInfliximab.POSSIBLY_RELATED,
        action_taken=ActionTaken.INFUSION_DELAYED,
        outcome=AdverseEventOutcome.RECOVERING,
        by=chart.staff.clinician,
    )


def chickenpox_reviewed(chart: Chart) -> None:
    """Primary varicella in a child not immune, admitted for intravenous aciclovir; reviewed, and
    infliximab continued. Named by the clinician: CTCAE codes it as "Infections - Other"."""
    screened_before_treatment(chart, {**BASELINE, ScreeningTest.VARICELLA_IGG: NEGATIVE})
    onset = chart.weeks_ago(9)
    event = services.adverse_event_record(
        patient=chart.patient,
        course=_active_course(chart),
        onset_on=onset,
        term=AdverseEventTerm.OTHER_INFECTION,
        specified_term="Varicella (chickenpox)",
        grade=3,
        serious=True,
        seriousness=["hospitalisation"],
        relation_to_infliximab=RelationToInfliximab.POSSIBLY_RELATED,
        action_taken=ActionTaken.TREATMENT_INTERRUPTED,
        outcome=AdverseEventOutcome.RECOVERED,
        resolved_on=onset + dt.timedelta(days=12),
        by=chart.staff.clinician,
    )
    services.adverse_event_review_record(
        event=event,
        reviewed_on=onset + dt.timedelta(days=5),
        decision=AdverseEventDecision.CONTINUE,
        by=chart.staff.clinician,
    )


def paradoxical_psoriasis(chart: Chart) -> None:
    """Palmoplantar psoriasis on infliximab, not serious but of special interest: reviewed, and
    treated topically while infliximab continues."""
    screened_before_treatment(chart)
    onset = chart.weeks_ago(14)
    event = services.adverse_event_record(
        patient=chart.patient,
        course=_active_course(chart),
        onset_on=onset,
        term=AdverseEventTerm.PSORIASIS,
        grade=2,
        relation_to_infliximab=RelationToInfliximab.RELATED,
        action_taken=ActionTaken.NONE,
        outcome=AdverseEventOutcome.NOT_RECOVERED,
        by=chart.staff.clinician,
    )
    services.adverse_event_review_record(
        event=event,
        reviewed_on=onset + dt.timedelta(days=10),
        decision=AdverseEventDecision.CONTINUE,
        by=chart.staff.clinician,
    )


def complete_screening_and_a_cold(chart: Chart) -> None:
    """The complete screening panel before the first dose, the inactivated influenza vaccine,
    and a mild cold since, unrelated: an adverse event that needs no review."""
    screened_before_treatment(chart, COMPLETE)
    first = _first_course(chart)
    assert first is not None  # noqa: S101
    services.vaccination_record(
        patient=chart.patient,
        vaccine=Vaccine.INFLUENZA_INACTIVATED,
        given_on=first.started_on - dt.timedelta(days=10),
        by=chart.staff.clinician,
    )
    onset = chart.weeks_ago(2)
    services.adverse_event_record(
        patient=chart.patient,
        course=_active_course(chart),
        onset_on=onset,
        term=AdverseEventTerm.UPPER_RESPIRATORY_INFECTION,
        grade=1,
        relation_to_infliximab=RelationToInfliximab.UNLIKELY_RELATED,
        action_taken=ActionTaken.NONE,
        outcome=AdverseEventOutcome.RECOVERED,
        resolved_on=onset + dt.timedelta(days=6),
        by=chart.staff.clinician,
    )


def positive_tb_rescreen(chart: Chart) -> None:
    """The yearly re-screen on treatment, two days after the last infusion: a positive IGRA, the
    chest X-ray clear; the specialist's review is not yet recorded, so the next infusion is held
    (and none was given after the sample)."""
    screened_before_treatment(chart)
    last = Infusion.objects.filter(course=_active_course(chart)).order_by("given_on").last()
    assert last is not None  # noqa: S101
    _screen(
        chart,
        min(chart.today, last.given_on + dt.timedelta(days=2)),
        {ScreeningTest.TB_IGRA: POSITIVE, ScreeningTest.TB_CHEST_XRAY: NEGATIVE},
    )


def indeterminate_igra_reviewed(chart: Chart) -> None:
    """An indeterminate IGRA before the first dose, reviewed by a specialist before it."""
    first = _first_course(chart)
    assert first is not None  # noqa: S101
    tested_on = first.started_on - dt.timedelta(days=30)
    _screen(chart, tested_on, {**BASELINE, ScreeningTest.TB_IGRA: INDETERMINATE})
    indeterminate = chart.patient.screening_results.get(test=ScreeningTest.TB_IGRA)
    services.screening_review_record(
        screening=indeterminate,
        reviewed_on=tested_on + dt.timedelta(days=14),
        by=chart.staff.clinician,
    )


def hepatitis_b_core_antibody_missing(chart: Chart) -> None:
    """The screen before the first dose had the IGRA and HBsAg, but not anti-HBc: a resolved
    hepatitis B infection, which infliximab can reactivate, would go unseen."""
    screened_before_treatment(
        chart,
        {
            ScreeningTest.TB_IGRA: NEGATIVE,
            ScreeningTest.HBV_SURFACE_ANTIGEN: NEGATIVE,
            ScreeningTest.HBV_SURFACE_ANTIBODY: POSITIVE,
        },
    )


def live_vaccine_on_treatment(chart: Chart) -> None:
    """The second MMR dose given at school five weeks ago, during the course."""
    screened_before_treatment(chart)
    services.vaccination_record(
        patient=chart.patient,
        vaccine=Vaccine.MMR,
        given_on=chart.weeks_ago(5),
        by=chart.staff.clinician,
    )


def live_vaccine_reviewed(chart: Chart) -> None:
    """A varicella vaccine given at the GP's seven weeks ago, during the course: a clinician
    reviewed it two days later and deferred the next infusion (GUIDELINE.md
    live_vaccine_on_treatment: the review clears the alert)."""
    screened_before_treatment(chart, {**BASELINE, ScreeningTest.VARICELLA_IGG: NEGATIVE})
    given_on = chart.weeks_ago(7)
    vaccination = services.vaccination_record(
        patient=chart.patient, vaccine=Vaccine.VARICELLA, given_on=given_on,
        by=chart.staff.clinician,
    )  # fmt: skip
    services.vaccination_review_record(
        vaccination=vaccination,
        reviewed_on=given_on + dt.timedelta(days=2),
        decision=VaccinationReviewDecision.INFUSION_DEFERRED,
        note="Not immune to varicella; no rash since. Next infusion after the 90 days.",
        by=chart.staff.clinician,
    )


# The demo patients (by family name, registry.demo.PATIENTS) whose safety record shows more than
# the baseline screening.
SITUATIONS: dict[str, Callable[[Chart], None]] = {
    "Quillfeather": complete_screening_and_a_cold,
    "Cindervale": serious_infection_awaiting_review,
    "Brambleworth": chickenpox_reviewed,
    "Yarrowfen": paradoxical_psoriasis,
    "Willowick": positive_tb_rescreen,
    "Tansyford": indeterminate_igra_reviewed,
    "Pebbleton": hepatitis_b_core_antibody_missing,
    "Mossgrove": live_vaccine_on_treatment,
    "Sorrelby": live_vaccine_reviewed,
}


def record_safety(chart: Chart) -> None:
    """The patient's safety record: their situation's, or the baseline screening."""
    SITUATIONS.get(chart.patient.family_name, screened_before_treatment)(chart)
