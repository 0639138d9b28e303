"""The clinic's door of every safeguard (GUIDELINE.md "Entry safeguards", "Who may act on alerts"):
each refusal is shown on the page (400 with the field's message, or 403 for a role) and stores
nothing; the way through (a clinician's review, an intensification, a confirmed weight) saves."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils.html import escape

from monitoring.models import Alert
from registry.models import (
    ClinicalAssessment,
    ImagingStudy,
    Infusion,
    InfusionReaction,
    RegimenChange,
    Relapse,
    Role,
    TreatmentCourse,
)
from registry.signals import reevaluation_requested
from tests.clinic.support import (
    DAY,
    START,
    form_values,
    make_alert,
    messages_of,
    overdue_course,
    refused,
)
from tests.conftest import TODAY, _member
from tests.factories import (
    CourseFactory,
    InfusionFactory,
    MembershipFactory,
    PatientFactory,
    ReactionFactory,
)

pytestmark = pytest.mark.django_db

ISO_TODAY = TODAY.isoformat()
WORKLIST = reverse("clinic:worklist")


def patient_url(patient) -> str:
    return reverse("clinic:patient", args=[patient.pk])


def infusion_url(course) -> str:
    return reverse("clinic:record_infusion", args=[course.pk])


def review_url(reaction) -> str:
    return reverse("clinic:review_reaction", args=[reaction.pk])


def action_url(alert: Alert, action: str) -> str:
    return reverse("clinic:alert_action", args=[alert.pk, action])


def saved(response, patient) -> None:
    """Stored: back to the patient's page."""
    assert response.status_code == 302, response.content[:3000]
    assert response["Location"] == patient_url(patient)


INFUSION = {
    "given_on": ISO_TODAY,
    "weight_kg": "41",
    "weight_measured_on": ISO_TODAY,
    "dose_mg": "205",
    "duration_minutes": "120",
    "premedication_antihistamine": "on",
    "premedication_corticosteroid": "on",
}
REVIEW = {"reviewed_on": ISO_TODAY, "decision": "continue_premedicated", "note": ""}


# --- Severe reaction hold -------------------------------------------------------------------------


@pytest.fixture
def earlier_severe_reaction(course_a) -> InfusionReaction:
    """A severe reaction during the patient's earlier course, unreviewed: it holds this course's
    infusions too (exposure spans courses)."""
    earlier = CourseFactory(
        patient=course_a.patient,
        started_on=dt.date(2025, 1, 6),
        stopped_on=dt.date(2025, 6, 2),
        stop_reason="adverse_event",
    )
    infusion = InfusionFactory(course=earlier, given_on=dt.date(2025, 3, 3))
    return ReactionFactory(infusion=infusion, severity="severe")


HOLD = (
    "The severe reaction to the infusion of 03 Mar 2025 has not been reviewed by a clinician: no "
    "further infusion until it is (GUIDELINE: severe reaction hold)."
)


def test_infusions_are_on_hold_until_a_clinician_reviews_a_severe_reaction_of_any_course(
    client, nurse_a, clinician_a, course_a, earlier_severe_reaction
):
    client.force_login(nurse_a)
    page = client.get(infusion_url(course_a))
    assert page.status_code == 200
    assert (
        '<div class="banner urgent" role="alert" id="infusion-hold">\n'
        f"      <strong>Infusions on hold:</strong> {escape(HOLD)}"
    ) in page.text

    held = client.post(infusion_url(course_a), INFUSION)

    refused(held, "__all__", HOLD)
    assert 'id="infusion-hold"' in held.text
    assert course_a.infusions.count() == 3
    assert not Infusion.objects.filter(given_on=TODAY).exists()

    client.force_login(clinician_a)
    saved(client.post(review_url(earlier_severe_reaction), REVIEW), course_a.patient)
    client.force_login(nurse_a)
    assert 'id="infusion-hold"' not in client.get(infusion_url(course_a)).text

    saved(client.post(infusion_url(course_a), INFUSION), course_a.patient)
    infusion = course_a.infusions.get(given_on=TODAY)
    assert (infusion.dose_mg, infusion.premedication_corticosteroid) == (Decimal("205"), True)
    assert infusion.history.get().history_user == nurse_a


def test_infusions_stay_on_hold_after_a_review_that_stopped_infliximab(
    client, nurse_a, clinician_a, course_a, earlier_severe_reaction
):
    client.force_login(clinician_a)
    saved(
        client.post(review_url(earlier_severe_reaction), REVIEW | {"decision": "stop"}),
        course_a.patient,
    )
    client.force_login(nurse_a)
    stopped = (
        "After the severe reaction to the infusion of 03 Mar 2025, a clinician decided to stop "
        "infliximab on 24 Nov 2026: no further infusion."
    )
    assert f"<strong>Infusions on hold:</strong> {escape(stopped)}" in (
        client.get(infusion_url(course_a)).text
    )

    response = client.post(infusion_url(course_a), INFUSION)

    refused(response, "__all__", stopped)
    assert course_a.infusions.count() == 3


def test_no_hold_after_a_milder_reaction(client, nurse_a, course_a):
    ReactionFactory(infusion=course_a.infusions.first(), severity="moderate")
    client.force_login(nurse_a)
    assert 'id="infusion-hold"' not in client.get(infusion_url(course_a)).text
    saved(client.post(infusion_url(course_a), INFUSION), course_a.patient)


# --- Dose -----------------------------------------------------------------------------------------


def test_it_refuses_an_implausible_dose(client, nurse_a, course_a):
    client.force_login(nurse_a)
    data = INFUSION | {"dose_mg": "2050"}  # 50 mg/kg for 41 kg

    response = client.post(infusion_url(course_a), data)

    refused(
        response,
        "dose_mg",
        "2050 mg is 50.00 mg/kg, above 20 mg/kg: check the dose and the weight.",
    )
    assert form_values(response.text)["dose_mg"] == "2050"
    assert course_a.infusions.count() == 3


ABOVE_CAP = (
    "451 mg for 41 kg is 11.00 mg/kg, above the 10 mg/kg cap, and {in_force}. A dose above the cap "
    "needs a clinician's intensification (a regimen change) that prescribes it."
)


def test_it_refuses_a_dose_above_the_cap_without_an_intensification(client, nurse_a, course_a):
    client.force_login(nurse_a)

    response = client.post(infusion_url(course_a), INFUSION | {"dose_mg": "451"})  # 11 mg/kg

    refused(response, "dose_mg", ABOVE_CAP.format(in_force="no intensification is in force"))
    assert course_a.infusions.count() == 3


def intensify(client, clinician, course, dose_mg_per_kg: str) -> RegimenChange:
    client.force_login(clinician)
    data = {
        "effective_on": ISO_TODAY,
        "reason": "intensification",
        "dose_mg_per_kg": dose_mg_per_kg,
        "interval_weeks": "8",
        "note": "Active lesions",
    }
    saved(client.post(reverse("clinic:change_regimen", args=[course.pk]), data), course.patient)
    return course.regimen_changes.get()


def test_it_accepts_a_dose_above_the_cap_that_a_clinicians_intensification_prescribes(
    client, nurse_a, clinician_a, course_a
):
    change = intensify(client, clinician_a, course_a, "11")
    assert change.history.get().history_user == clinician_a
    client.force_login(nurse_a)

    response = client.post(infusion_url(course_a), INFUSION | {"dose_mg": "451"})

    saved(response, course_a.patient)
    assert course_a.infusions.get(given_on=TODAY).dose_mg == Decimal("451")


def test_it_refuses_a_dose_above_what_the_intensification_prescribes(
    client, nurse_a, clinician_a, course_a
):
    intensify(client, clinician_a, course_a, "7.5")
    client.force_login(nurse_a)

    response = client.post(infusion_url(course_a), INFUSION | {"dose_mg": "451"})

    in_force = "the intensification of 24 Nov 2026 prescribes 7.5 mg/kg"
    refused(response, "dose_mg", ABOVE_CAP.format(in_force=in_force))
    assert course_a.infusions.count() == 3


def test_only_a_clinician_prescribes_an_intensification(client, data_manager_a, course_a):
    client.force_login(data_manager_a)
    data = {"effective_on": ISO_TODAY, "reason": "intensification", "dose_mg_per_kg": "11",
            "interval_weeks": "8"}  # fmt: skip

    response = client.post(reverse("clinic:change_regimen", args=[course_a.pk]), data)

    # Refused on the form, which keeps what was typed.
    assert response.status_code == 400
    assert "Only a clinician of this site may prescribe an intensification." in response.text
    assert response.context["form"]["dose_mg_per_kg"].value() == "11"
    assert not RegimenChange.objects.exists()


# --- Weight ---------------------------------------------------------------------------------------


@pytest.fixture
def light_course(site_a) -> TreatmentCourse:
    """Induction at 27.3 kg (136.5 mg, 5 mg/kg); the last infusion and weighing on 15 Sep 2026."""
    course = CourseFactory(patient=PatientFactory(site=site_a), started_on=START)
    for offset in (0, 14, 42):
        InfusionFactory(course=course, given_on=START + offset * DAY, weight_kg=Decimal("27.3"),
                        dose_mg=Decimal("136.5"))  # fmt: skip
    return course


TYPO = INFUSION | {"weight_kg": "2.73", "dose_mg": "13.7"}  # 27.3 kg, one decimal place off


def test_it_refuses_a_weight_far_from_the_previous_one_showing_both(client, nurse_a, light_course):
    client.force_login(nurse_a)

    response = client.post(infusion_url(light_course), TYPO)

    refused(
        response,
        "weight_kg",
        "2.73 kg is 90 % away from 27.3 kg measured on 15 Sep 2026 (more than 15 %). Check the "
        "weight and its unit; if it is right, confirm it.",
    )
    shown = form_values(response.text)
    assert (shown["weight_kg"], shown["weight_confirmed"]) == ("2.73", False)
    assert light_course.infusions.count() == 3


def test_it_saves_a_weight_far_from_the_previous_one_once_confirmed(client, nurse_a, light_course):
    client.force_login(nurse_a)

    response = client.post(infusion_url(light_course), TYPO | {"weight_confirmed": "on"})

    saved(response, light_course.patient)
    infusion = light_course.infusions.get(given_on=TODAY)
    assert (infusion.weight_kg, infusion.weight_confirmed) == (Decimal("2.73"), True)


def test_a_weight_carried_over_keeps_the_day_it_was_measured(client, nurse_a, site_a):
    course = CourseFactory(patient=PatientFactory(site=site_a), started_on=START)
    InfusionFactory(course=course, given_on=START)
    weighed = START + 35 * DAY  # 08 Sep 2026, a week before the infusion it was used for
    InfusionFactory(course=course, given_on=START + 42 * DAY, weight_measured_on=weighed)
    client.force_login(nurse_a)

    page = client.get(infusion_url(course))

    values = form_values(page.text)
    assert page.context["form"]["weight_measured_on"].value() == weighed
    assert (values["weight_kg"], values["weight_measured_on"]) == ("40.00", "2026-09-08")
    assert values["given_on"] == ISO_TODAY
    assert "(weighed 08 Sep 2026)" in page.text

    # Saved as the browser submits the page: the weight's own date, not today.
    sent = {name: value for name, value in values.items() if value not in (False, "")}
    saved(client.post(infusion_url(course), sent), course.patient)
    assert course.infusions.get(given_on=TODAY).weight_measured_on == weighed


# --- Reaction review ------------------------------------------------------------------------------


@pytest.fixture
def severe_reaction(course_a) -> InfusionReaction:
    return ReactionFactory(infusion=course_a.infusions.last(), severity="severe")


def test_a_nurse_cannot_review_a_reaction(client, nurse_a, severe_reaction):
    client.force_login(nurse_a)

    assert client.get(review_url(severe_reaction)).status_code == 403
    response = client.post(review_url(severe_reaction), REVIEW)

    assert response.status_code == 403
    severe_reaction.refresh_from_db()
    assert (severe_reaction.reviewed_on, severe_reaction.reviewed_by) == (None, None)
    assert severe_reaction.review_decision == ""
    assert severe_reaction.history.count() == 1
    page = client.get(patient_url(severe_reaction.infusion.course.patient)).text
    assert "awaits a clinician's review." in page
    assert review_url(severe_reaction) not in page


def test_a_clinicians_review_stores_the_decision_the_note_and_the_reviewer(
    client, clinician_a, severe_reaction
):
    client.force_login(clinician_a)
    assert (
        review_url(severe_reaction)
        in client.get(patient_url(severe_reaction.infusion.course.patient)).text
    )
    data = REVIEW | {"decision": "continue_unchanged", "note": "Rate-related; no premedication."}

    saved(client.post(review_url(severe_reaction), data), severe_reaction.infusion.course.patient)

    severe_reaction.refresh_from_db()
    assert (severe_reaction.reviewed_on, severe_reaction.reviewed_by) == (TODAY, clinician_a)
    assert (severe_reaction.review_decision, severe_reaction.review_note) == (
        "continue_unchanged", "Rate-related; no premedication.",
    )  # fmt: skip
    assert severe_reaction.history.first().history_user == clinician_a


# --- Urgent alerts --------------------------------------------------------------------------------


@pytest.fixture
def urgent_alert(course_a) -> Alert:
    return make_alert(course_a, rule="antibodies_detected", severity="urgent", title="Antibodies")


def row_of(page: str, alert: Alert) -> str:
    found = re.search(rf'<tr id="alert-{alert.pk}" .*?</tr>', page, re.DOTALL)
    assert found, f"no row for alert {alert.pk}"
    return found.group(0)


URGENT_REFUSAL = (
    "Only a clinician of this site may dismiss an urgent alert; acknowledge it instead."
)


def test_a_nurses_worklist_offers_no_dismissal_of_an_urgent_alert(
    client, nurse_a, course_a, urgent_alert
):
    client.force_login(nurse_a)
    page = client.get(WORKLIST).text

    urgent = row_of(page, urgent_alert)
    assert "Acknowledge</button>" in urgent
    assert "Dismiss" not in urgent
    assert action_url(urgent_alert, "dismiss") not in urgent
    warning = row_of(page, Alert.objects.get(course=course_a, rule="maintenance_dose_overdue"))
    assert "Dismiss</button>" in warning  # a warning she may dismiss


def test_it_refuses_a_nurses_dismissal_of_an_urgent_alert(client, nurse_a, urgent_alert):
    client.force_login(nurse_a)

    row = client.post(
        action_url(urgent_alert, "dismiss"),
        {"reason": "Old result"},
        headers={"HX-Request": "true"},
    )
    plain = client.post(action_url(urgent_alert, "dismiss"), {"reason": "Old result"}, follow=True)

    assert row.status_code == 400
    assert f'<p class="field-error" role="alert">{URGENT_REFUSAL}</p>' in row.text
    assert row.text.startswith(f'<tr id="alert-{urgent_alert.pk}" class="alert-row urgent open">')
    assert "Dismiss" not in row.text.replace(URGENT_REFUSAL, "")
    assert messages_of(plain) == [URGENT_REFUSAL]
    urgent_alert.refresh_from_db()
    assert (urgent_alert.status, urgent_alert.resolution_reason) == ("open", "")
    assert list(urgent_alert.events.values_list("kind", flat=True)) == []


def test_a_clinician_dismisses_an_urgent_alert(client, clinician_a, urgent_alert):
    client.force_login(clinician_a)
    assert "Dismiss</button>" in row_of(client.get(WORKLIST).text, urgent_alert)

    row = client.post(
        action_url(urgent_alert, "dismiss"),
        {"reason": "Assay error"},
        headers={"HX-Request": "true"},
    )

    assert row.status_code == 200
    urgent_alert.refresh_from_db()
    assert (urgent_alert.status, urgent_alert.resolution_reason) == ("dismissed", "Assay error")
    event = urgent_alert.events.get()
    assert (event.kind, event.actor, event.note) == ("dismissed", clinician_a, "Assay error")


def test_a_nurse_acknowledges_an_urgent_alert(client, nurse_a, urgent_alert):
    client.force_login(nurse_a)

    row = client.post(action_url(urgent_alert, "acknowledge"), headers={"HX-Request": "true"})

    assert row.status_code == 200
    assert '<span class="status acknowledged">Acknowledged</span>' in row.text
    urgent_alert.refresh_from_db()
    assert urgent_alert.status == "acknowledged"
    assert urgent_alert.events.get().actor == nurse_a


# --- Roles per site -------------------------------------------------------------------------------


@pytest.fixture
def nurse_north_clinician_south(site_a, site_b):
    user = _member("maya", site_a, Role.NURSE)
    MembershipFactory(user=user, site=site_b, role=Role.CLINICIAN)
    return user


@dataclass
class SiteRecords:
    new_patient: Any  # no course yet
    course: TreatmentCourse  # active, overdue
    stopped: TreatmentCourse  # stopped, for a relapse
    reaction: InfusionReaction  # severe, awaiting review


def records_at(site) -> SiteRecords:
    course = overdue_course(site)
    stopped = CourseFactory(patient=PatientFactory(site=site), stopped_on=dt.date(2026, 2, 1),
                            stop_reason="remission")  # fmt: skip
    InfusionFactory(course=stopped)
    return SiteRecords(
        new_patient=PatientFactory(site=site),
        course=course,
        stopped=stopped,
        reaction=ReactionFactory(infusion=course.infusions.last(), severity="severe"),
    )


@dataclass(frozen=True)
class ClinicianPage:
    name: str
    owner: Callable[[SiteRecords], Any]  # what the URL names
    data: dict[str, str]
    stored: Callable[[SiteRecords], int]  # how many rows the page's POST saved


CLINICIAN_PAGES = [
    ClinicianPage(
        "start_course",
        lambda r: r.new_patient,
        {"started_on": ISO_TODAY, "planned_dose_mg_per_kg": "5", "maintenance_interval_weeks": "8"},
        lambda r: r.new_patient.courses.count(),
    ),
    ClinicianPage(
        "change_regimen",
        lambda r: r.course,
        {
            "effective_on": ISO_TODAY,
            "reason": "taper",
            "dose_mg_per_kg": "5",
            "interval_weeks": "10",
        },
        lambda r: RegimenChange.objects.filter(course=r.course).count(),
    ),
    ClinicianPage(
        "stop_course",
        lambda r: r.course,
        {"stopped_on": ISO_TODAY, "reason": "remission", "note": "In remission", "confirm": "1"},
        lambda r: TreatmentCourse.objects.filter(pk=r.course.pk, stopped_on__isnull=False).count(),
    ),
    ClinicianPage(
        "record_relapse",
        lambda r: r.stopped,
        {"noted_on": ISO_TODAY, "evidence": "New lesion on MRI", "confirm": "1"},
        lambda r: Relapse.objects.filter(course=r.stopped).count(),
    ),
    ClinicianPage(
        "record_imaging",
        lambda r: r.course.patient,
        {"performed_on": ISO_TODAY, "modality": "wb_mri", "active_lesions": "1"},
        lambda r: ImagingStudy.objects.filter(patient=r.course.patient).count(),
    ),
    ClinicianPage(
        "record_assessment",
        lambda r: r.course.patient,
        {"assessed_on": ISO_TODAY, "pain_score": "2", "disease_state": "active"},
        lambda r: ClinicalAssessment.objects.filter(patient=r.course.patient).count(),
    ),
    ClinicianPage(
        "review_reaction",
        lambda r: r.reaction,
        REVIEW,
        lambda r: InfusionReaction.objects.filter(
            pk=r.reaction.pk, reviewed_on__isnull=False
        ).count(),
    ),
]


@pytest.mark.parametrize("clinic_page", CLINICIAN_PAGES, ids=lambda p: p.name)
def test_a_role_holds_at_its_own_site_only(
    client, nurse_north_clinician_south, site_a, site_b, clinic_page
):
    north, south = records_at(site_a), records_at(site_b)
    client.force_login(nurse_north_clinician_south)

    def url(records: SiteRecords) -> str:
        return reverse(f"clinic:{clinic_page.name}", args=[clinic_page.owner(records).pk])

    # A nurse at north: the page and its POST are refused, and nothing is stored.
    assert client.get(url(north)).status_code == 403
    assert client.post(url(north), clinic_page.data).status_code == 403
    assert clinic_page.stored(north) == 0

    # A clinician at south: the page opens and a valid POST saves.
    assert client.get(url(south)).status_code == 200
    response = client.post(url(south), clinic_page.data)
    assert response.status_code == 302, response.content[:3000]
    assert clinic_page.stored(south) == 1
    assert clinic_page.stored(north) == 0


def test_the_patient_page_offers_the_review_only_where_the_user_is_a_clinician(
    client, nurse_north_clinician_south, site_a, site_b
):
    north, south = records_at(site_a), records_at(site_b)
    client.force_login(nurse_north_clinician_south)

    at_north = client.get(patient_url(north.course.patient)).text
    at_south = client.get(patient_url(south.course.patient)).text

    assert "awaits a clinician's review." in at_north
    assert review_url(north.reaction) not in at_north
    assert review_url(south.reaction) in at_south


def test_the_patient_page_offers_only_what_the_role_at_its_site_records(
    client, nurse_north_clinician_south, site_a, site_b
):
    north = records_at(site_a)
    client.force_login(nurse_north_clinician_south)
    page = client.get(patient_url(north.course.patient)).text
    assert reverse("clinic:record_infusion", args=[north.course.pk]) in page
    for name in ("change_regimen", "stop_course"):
        assert reverse(f"clinic:{name}", args=[north.course.pk]) not in page, name
    for name in ("record_imaging", "record_assessment"):
        assert reverse(f"clinic:{name}", args=[north.course.patient.pk]) not in page, name
    south = records_at(site_b)
    page = client.get(patient_url(south.course.patient)).text
    for name in ("change_regimen", "stop_course"):
        assert reverse(f"clinic:{name}", args=[south.course.pk]) in page, name


def test_urgent_alerts_are_dismissable_only_where_the_user_is_a_clinician(
    client, nurse_north_clinician_south, course_a, course_b
):
    north = make_alert(course_a, rule="antibodies_detected", severity="urgent")
    south = make_alert(course_b, rule="antibodies_detected", severity="urgent")
    client.force_login(nurse_north_clinician_south)
    page = client.get(WORKLIST).text
    assert "Dismiss" not in row_of(page, north)
    assert "Dismiss</button>" in row_of(page, south)

    refused_row = client.post(
        action_url(north, "dismiss"), {"reason": "x"}, headers={"HX-Request": "true"}
    )
    done_row = client.post(
        action_url(south, "dismiss"), {"reason": "x"}, headers={"HX-Request": "true"}
    )

    assert (refused_row.status_code, done_row.status_code) == (400, 200)
    north.refresh_from_db()
    south.refresh_from_db()
    assert (north.status, south.status) == ("open", "dismissed")


# --- Stopping a course ----------------------------------------------------------------------------


def test_stopping_a_course_keeps_its_note_and_a_second_stop_is_refused(
    client, clinician_a, course_a
):
    TreatmentCourse.objects.filter(pk=course_a.pk).update(notes="Refractory to NSAIDs")
    client.force_login(clinician_a)
    url = reverse("clinic:stop_course", args=[course_a.pk])

    stop = {"stopped_on": ISO_TODAY, "reason": "patient_choice",
            "note": "  The family prefers to pause.  "}  # fmt: skip
    first = client.post(url, stop | {"confirm": "1"})

    saved(first, course_a.patient)
    course_a.refresh_from_db()
    assert (course_a.stopped_on, course_a.stop_reason) == (TODAY, "patient_choice")
    assert (
        course_a.notes
        == "Refractory to NSAIDs\nStopped on 24 Nov 2026: The family prefers to pause."
    )
    versions = course_a.history.count()

    # Refused at its confirmation page already.
    again = client.post(url, {"stopped_on": ISO_TODAY, "reason": "other", "note": "Again"})

    refused(again, "stopped_on", "This course already stopped on 24 Nov 2026.")
    course_a.refresh_from_db()
    assert (course_a.stop_reason, course_a.history.count()) == ("patient_choice", versions)
    assert "Again" not in course_a.notes


# --- Relapse and retreatment ----------------------------------------------------------------------


@pytest.fixture
def stopped_course(site_a) -> TreatmentCourse:
    course = CourseFactory(patient=PatientFactory(site=site_a), stopped_on=dt.date(2026, 2, 1),
                           stop_reason="remission")  # fmt: skip
    for offset in (0, 14, 42):
        InfusionFactory(course=course, given_on=course.started_on + offset * DAY)
    return course


RELAPSE = {"noted_on": ISO_TODAY, "evidence": "New tibial lesion on whole-body MRI"}


def test_a_relapse_and_its_retreatment_are_saved_together_or_not_at_all(
    client, committed, clinician_a, stopped_course
):
    client.force_login(clinician_a)
    url = reverse("clinic:record_relapse", args=[stopped_course.pk])
    courses = TreatmentCourse.history.count()

    # The retreatment course is valid on its own, but starts before the relapse was noted: the
    # relapse's link to it is refused, and with it the relapse and the course.
    with committed() as callbacks:
        response = client.post(url, RELAPSE | {"retreatment_starts_on": "2026-11-20"})

    refused(response, "__all__", "The retreatment course starts before the relapse was noted.")
    assert not Relapse.objects.exists()
    assert not Relapse.history.exists()
    assert TreatmentCourse.objects.get() == stopped_course
    assert TreatmentCourse.history.count() == courses
    assert callbacks == []  # nothing to re-evaluate


# --- One save, one re-evaluation request ----------------------------------------------------------


@pytest.fixture
def reevaluation_requests():
    sent: list[tuple[list[int], int | None]] = []

    def count(sender: Any, *, patient_ids: list[int], actor_id: int | None, **kwargs: Any) -> None:
        sent.append((patient_ids, actor_id))

    reevaluation_requested.connect(count, weak=False, dispatch_uid="tests.clinic.count")
    yield sent
    reevaluation_requested.disconnect(dispatch_uid="tests.clinic.count")


def test_an_infusion_asks_for_one_reevaluation_after_it_commits(
    client, committed, reevaluation_requests, nurse_a, course_a
):
    client.force_login(nurse_a)

    with committed():
        response = client.post(infusion_url(course_a), INFUSION)
        assert reevaluation_requests == []  # not before the commit

    saved(response, course_a.patient)
    assert reevaluation_requests == [([course_a.patient_id], nurse_a.pk)]


def test_a_relapse_with_its_retreatment_asks_for_one_reevaluation(
    client, committed, reevaluation_requests, clinician_a, stopped_course
):
    client.force_login(clinician_a)
    url = reverse("clinic:record_relapse", args=[stopped_course.pk])

    with committed():
        preview = client.post(url, RELAPSE | {"retreatment_starts_on": ISO_TODAY})
    assert preview.status_code == 200
    assert reevaluation_requests == []  # the preview saved nothing, so asks for nothing
    assert not Relapse.objects.exists()

    with committed():
        response = client.post(url, RELAPSE | {"retreatment_starts_on": ISO_TODAY, "confirm": "1"})

    saved(response, stopped_course.patient)
    relapse = Relapse.objects.get()
    assert relapse.retreatment_course is not None  # two actions: the relapse, the new course
    assert reevaluation_requests == [([stopped_course.patient_id], clinician_a.pk)]


def test_a_refused_save_asks_for_no_reevaluation(
    client, committed, reevaluation_requests, nurse_a, course_a
):
    client.force_login(nurse_a)

    with committed():
        response = client.post(infusion_url(course_a), INFUSION | {"dose_mg": "451"})

    assert response.status_code == 400
    assert reevaluation_requests == []
