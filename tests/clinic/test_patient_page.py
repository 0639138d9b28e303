"""The patient page's tables, chart data, record history and print stamp, through the test client.

The followed course (tests/clinic/record_builders.py) started on 04 Aug 2026; TODAY is
24 Nov 2026.
"""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from clinic.patient_record import ROWS_SHOWN
from clinic.views import HISTORY_PER_PAGE
from monitoring.models import SiteGuideline
from registry import services
from tests.clinic.record_builders import followed_course
from tests.clinic.support import DAY, START, ms, table_rows, timeline_data
from tests.conftest import TODAY
from tests.factories import (
    CourseFactory,
    InfusionFactory,
    LabResultFactory,
    PatientFactory,
)

pytestmark = pytest.mark.django_db


def patient_url(patient, **query: int) -> str:
    url = reverse("clinic:patient", args=[patient.pk])
    return url + "".join(f"?{key}={value}" for key, value in query.items())


def section(html: str, heading_id: str) -> str:
    """The HTML of one <section> of the page, by its heading's id."""
    found = re.search(rf'<section aria-labelledby="{heading_id}".*?</section>', html, re.S)
    assert found, f"no section {heading_id}"
    return found.group(0)


def rows_of(html: str, heading_id: str) -> list[list[str]]:
    """The body rows of a section's tables (header rows left out)."""
    rows = table_rows(section(html, heading_id))
    header = rows[0]
    return [row for row in rows if row != header]


@pytest.fixture
def followed(site_a):
    return followed_course(site_a)


# --- Tables --------------------------------------------------------------------------------------


def test_it_lists_the_infusions_newest_first_with_weight_dose_premedication_lot_and_reactions(
    client, nurse_a, followed
):
    client.force_login(nurse_a)

    page = client.get(patient_url(followed.patient)).text

    assert rows_of(page, "infusions-heading") == [
        ["15 Sep 2026", "from 04 Aug 2026", "3", "41 kg weighed that day", "205 mg", "5.00", "—",
         "none", "—", "—", "Moderate, delayed (1–14 days)"],
        ["18 Aug 2026", "from 04 Aug 2026", "2", "40 kg weighed 04 Aug 2026 (14 d before)",
         "200 mg", "5.00", "120 min", "antihistamine, antipyretic", "—", "IFX-2207", "none"],
        ["04 Aug 2026", "from 04 Aug 2026", "1", "40 kg weighed that day", "200 mg", "5.00",
         "120 min", "none", "—", "IFX-2207", "none"],
    ]  # fmt: skip


def test_it_says_a_severe_reaction_awaits_review_and_what_the_review_decided(
    client, clinician_a, followed
):
    infusion = followed.infusions.get(given_on=START)
    reaction = services.reaction_record(
        infusion=infusion, onset="acute", severity="severe", symptoms="Stridor",
        infusion_stopped=True, by=clinician_a,
    )  # fmt: skip
    client.force_login(clinician_a)
    first = rows_of(client.get(patient_url(followed.patient)).text, "infusions-heading")[-1]
    assert first[-1] == (
        "Severe, acute (within 24 h), infusion stopped; awaiting a clinician's review"
    )

    services.reaction_review_record(
        reaction=reaction, reviewed_on=TODAY, decision="continue_premedicated", by=clinician_a
    )
    first = rows_of(client.get(patient_url(followed.patient)).text, "infusions-heading")[-1]
    assert first[-1] == (
        "Severe, acute (within 24 h), infusion stopped; reviewed 24 Nov 2026: "
        "Continue with premedication"
    )


def test_it_shows_lab_values_with_units_against_the_labs_range_the_default_or_the_target(
    client, nurse_a, followed
):
    client.force_login(nurse_a)

    page = client.get(patient_url(followed.patient)).text

    assert rows_of(page, "labs-heading") == [
        ["13 Sep 2026", "Infliximab trough level", "3.1 µg/mL (below target; ≥ 5)",
         "guideline target"],
        ["13 Sep 2026", "CRP", "3.5 mg/L (normal; 0–8)", "the lab's range"],
        ["13 Sep 2026", "Anti-infliximab antibodies",
         "detected, titre 48 AU/mL (Drug-tolerant ELISA)", "—"],
        ["14 Aug 2026", "Anti-infliximab antibodies", "not detected (Drug-tolerant ELISA)", "—"],
        ["01 Aug 2026", "ESR", "31 mm/h (high; ≤ 15)", "the lab's range"],
        ["01 Aug 2026", "CRP", "12 mg/L (high; ≤ 5)", "guideline default"],
    ]  # fmt: skip
    assert page.count('<tr class="abnormal">') == 4  # low trough, antibodies, high ESR and CRP


def test_it_judges_against_the_sites_own_defaults(client, nurse_a, site_a):
    SiteGuideline.objects.create(site=site_a, overrides={"crp_upper_normal_mg_l": "10"})
    patient = PatientFactory(site=site_a)
    LabResultFactory(patient=patient, collected_on=TODAY, value=Decimal("8"))
    client.force_login(nurse_a)

    page = client.get(patient_url(patient)).text

    assert rows_of(page, "labs-heading") == [
        ["24 Nov 2026", "CRP", "8 mg/L (normal; ≤ 10)", "guideline default"]
    ]


def test_it_shows_imaging_with_modality_lesions_impression_and_scores(client, nurse_a, followed):
    client.force_login(nurse_a)

    page = client.get(patient_url(followed.patient)).text

    assert rows_of(page, "imaging-heading") == [
        [
            "27 Oct 2026",
            "Whole-body MRI",
            "1",
            "0",
            "Improved",
            "RAI-CROMRIS 3",
            "counts recorded without sites",
        ],
        [
            "30 Jul 2026",
            "Whole-body MRI",
            "4",
            "4",
            "—",
            "RINBO 7",
            "counts recorded without sites",
        ],
    ]


def test_it_shows_assessments_with_the_judged_state_or_the_guideline_reading(
    client, nurse_a, followed
):
    client.force_login(nurse_a)

    page = client.get(patient_url(followed.patient)).text

    # Not judged on 27 Oct: the scores are low, but that day's MRI shows an active lesion.
    assert rows_of(page, "assessments-heading") == [
        [
            "27 Oct 2026",
            "1",
            "1",
            "1",
            "—",
            "0",
            "not judged (guideline reading: active)",
            "counts recorded without sites",
        ],
        ["30 Jul 2026", "6", "6.5", "7", "1.25", "3", "Active", "counts recorded without sites"],
    ]


def test_it_says_when_a_table_is_empty(client, nurse_a, site_a):
    patient = PatientFactory(site=site_a)
    client.force_login(nurse_a)

    page = client.get(patient_url(patient)).text

    assert rows_of(page, "infusions-heading") == [["No infusion recorded."]]
    assert rows_of(page, "labs-heading") == [["No lab result recorded."]]
    assert rows_of(page, "imaging-heading") == [["No imaging recorded."]]
    assert rows_of(page, "assessments-heading") == [["No assessment recorded."]]


def long_course(site, infusions: int):
    """A course with an infusion every 8 weeks up to TODAY and a CRP with each."""
    first = TODAY - (infusions - 1) * 56 * DAY
    course = CourseFactory(patient=PatientFactory(site=site), started_on=first)
    for n in range(infusions):
        given_on = first + n * 56 * DAY
        InfusionFactory(course=course, given_on=given_on)
        LabResultFactory(patient=course.patient, collected_on=given_on, value=Decimal(n + 1))
    return course


def test_it_shows_the_latest_rows_and_the_older_ones_behind_show_all(client, nurse_a, site_a):
    course = long_course(site_a, ROWS_SHOWN + 2)
    client.force_login(nurse_a)

    page = client.get(patient_url(course.patient)).text

    infusions = section(page, "infusions-heading")
    shown, older = infusions.split('<details class="more-rows">')
    assert [row[0] for row in table_rows(shown)[1:]][:2] == ["24 Nov 2026", "29 Sep 2026"]
    assert len(table_rows(shown)) == 1 + ROWS_SHOWN
    assert "<summary>Show all 12 infusions (2 older)</summary>" in older
    assert [row[2] for row in table_rows(older)[1:]] == ["2", "1"]  # the first two doses


# The whole page (signing in, roles, menu, alerts, schedules, the safety record, consent, the
# phenotype): 70 queries for any record length.
QUERIES_MAX = 74


def test_it_reads_the_page_in_a_constant_number_of_queries(
    client, nurse_a, site_a, django_assert_max_num_queries
):
    few, many = long_course(site_a, 2), long_course(site_a, 25)
    for course in (few, many):
        services.lab_result_record(
            patient=course.patient, collected_on=TODAY, analyte="esr", value=Decimal("9"),
            by=nurse_a,
        )  # fmt: skip
    client.force_login(nurse_a)
    client.get(patient_url(few.patient))  # warm: sessions, site parameters

    with django_assert_max_num_queries(QUERIES_MAX) as few_queries:
        client.get(patient_url(few.patient))
    with django_assert_max_num_queries(QUERIES_MAX) as many_queries:
        client.get(patient_url(many.patient))

    assert len(many_queries) == len(few_queries)


# --- Chart ---------------------------------------------------------------------------------------


def test_it_gives_the_chart_trough_antibodies_today_and_the_next_due_dose(
    client, nurse_a, followed
):
    client.force_login(nurse_a)

    data = timeline_data(client.get(patient_url(followed.patient)).text)

    assert data["trough"] == [{"x": ms(START + 40 * DAY), "y": 3.1}]
    assert data["trough_min"] == 5.0
    assert data["antibodies"] == [
        {"x": ms(START + 10 * DAY), "positive": False, "titre": None, "unit": "",
         "assay": "Drug-tolerant ELISA"},
        {"x": ms(START + 40 * DAY), "positive": True, "titre": 48.0, "unit": "AU/mL",
         "assay": "Drug-tolerant ELISA"},
    ]  # fmt: skip
    assert data["today"] == ms(TODAY)
    assert data["next_due"] == {
        "x": ms(dt.date(2026, 11, 10)),
        "label": "Dose 4 due 10 Nov 2026 (14 days overdue)",
        "days_overdue": 14,
    }


def test_it_marks_a_dose_due_later_without_an_overdue_gap(client, nurse_a, site_a):
    course = CourseFactory(patient=PatientFactory(site=site_a), started_on=TODAY - 7 * DAY)
    InfusionFactory(course=course, given_on=TODAY - 7 * DAY)
    client.force_login(nurse_a)

    data = timeline_data(client.get(patient_url(course.patient)).text)

    assert data["next_due"] == {
        "x": ms(TODAY + 7 * DAY), "label": "Dose 2 due 01 Dec 2026", "days_overdue": 0,
    }  # fmt: skip
    assert data["trough"] == []
    assert data["trough_min"] is None


def test_it_has_no_next_due_marker_after_the_course_stopped(client, clinician_a, followed):
    services.course_stop(course=followed, stopped_on=TODAY, reason="remission", by=clinician_a)
    client.force_login(clinician_a)

    data = timeline_data(client.get(patient_url(followed.patient)).text)

    assert data["next_due"] is None
    assert data["today"] == ms(TODAY)


def test_it_gives_the_chart_a_summary_and_the_same_points_as_a_table(client, nurse_a, followed):
    client.force_login(nurse_a)

    page = client.get(patient_url(followed.patient)).text

    assert re.search(
        r'<canvas id="timeline-chart" role="img" aria-label="Timeline chart of 3 infusions .*'
        r"30 Jul 2026 to 24 Nov 2026; next dose: Dose 4 due 10 Nov 2026 \(14 days overdue\)",
        page,
    )
    rows = table_rows(section(page, "timeline-heading"))
    assert rows[:3] == [
        ["Date", "Series", "Value"],
        ["24 Nov 2026", "Today", "24 Nov 2026"],
        ["10 Nov 2026", "Next dose due", "Dose 4 due 10 Nov 2026 (14 days overdue)"],
    ]
    assert ["13 Sep 2026", "Infliximab trough level", "3.1 µg/mL"] in rows
    assert ["13 Sep 2026", "Anti-infliximab antibodies", "detected, titre 48 AU/mL"] in rows
    assert ["14 Aug 2026", "Anti-infliximab antibodies", "not detected"] in rows
    assert ["15 Sep 2026", "Reaction", "Moderate, delayed (1–14 days)"] in rows
    mri = "1 active, 0 new lesions — counts recorded without sites"
    assert ["27 Oct 2026", "Whole-body MRI", mri] in rows
    dates = [dt.datetime.strptime(row[0], "%d %b %Y") for row in rows[1:]]
    assert dates == sorted(dates, reverse=True)


# --- Record history ------------------------------------------------------------------------------


def history_of(client, patient, **query: int) -> list[list[str]]:
    return rows_of(client.get(patient_url(patient, **query)).text, "history-heading")


def test_it_tells_the_history_in_words_with_who_and_when(client, nurse_a, clinician_a, site_a):
    course = CourseFactory(patient=PatientFactory(site=site_a), started_on=START)
    patient = course.patient
    antibodies = services.lab_result_record(
        patient=patient, collected_on=dt.date(2026, 11, 4), analyte="anti_ifx",
        antibodies_positive=True, value=Decimal("48"), unit="AU/mL", assay_name="ELISA",
        by=nurse_a,
    )  # fmt: skip
    study = services.imaging_study_record(
        patient=patient, performed_on=dt.date(2026, 11, 2), modality="wb_mri", active_lesions=2,
        by=clinician_a,
    )  # fmt: skip
    services.imaging_study_correct(
        study=study, changes={"active_lesions": 1, "impression": "improved"}, by=clinician_a
    )
    services.lab_result_correct(
        result=antibodies, changes={"antibodies_positive": False}, by=clinician_a
    )
    services.course_stop(course=course, stopped_on=TODAY, reason="remission", by=clinician_a)
    client.force_login(nurse_a)

    history = history_of(client, patient)

    now = "24 Nov 2026 10:00"
    assert [row[1:] for row in history[:5]] == [
        ["carl", "Course from 04 Aug 2026 stopped: stopped on 24 Nov 2026; stop reason Remission"],
        ["carl", "Anti-infliximab antibodies result of 04 Nov 2026 corrected: "
                 "antibodies positive yes → no"],
        ["carl", "Whole-body MRI of 02 Nov 2026 corrected: active lesions 2 → 1; "
                 "impression — → Improved"],
        ["carl", "Whole-body MRI of 02 Nov 2026 recorded"],
        ["nina", "Anti-infliximab antibodies result of 04 Nov 2026 recorded"],
    ]  # fmt: skip
    assert all(row[0].startswith(now[:11]) for row in history)
    assert history[-2:] == [
        [history[-2][0], "registry", "Course from 04 Aug 2026 started"],
        [history[-1][0], "registry", f"Patient {patient.registry_code} registered"],
    ]


def test_it_names_a_reaction_by_its_infusion_and_a_review_as_such(client, clinician_a, followed):
    reaction = followed.infusions.get(given_on=START + 42 * DAY).reactions.get()
    services.reaction_review_record(
        reaction=reaction, reviewed_on=TODAY, decision="continue_unchanged", by=clinician_a
    )
    client.force_login(clinician_a)

    latest = history_of(client, followed.patient)[0]

    assert latest[1:] == [
        "carl",
        "Moderate reaction to the infusion of 15 Sep 2026 reviewed: reviewed on 24 Nov 2026; "
        "review decision Continue unchanged",
    ]


def test_it_pages_the_history_newest_first(client, nurse_a, site_a):
    patient = PatientFactory(site=site_a)
    for n in range(HISTORY_PER_PAGE + 4):  # and the patient's own registration: 25 changes
        services.lab_result_record(
            patient=patient, collected_on=START + n * DAY, analyte="crp", value=Decimal(n),
            by=nurse_a,
        )  # fmt: skip
    client.force_login(nurse_a)

    first = client.get(patient_url(patient)).text
    second = history_of(client, patient, history_page=2)

    assert len(rows_of(first, "history-heading")) == HISTORY_PER_PAGE
    assert rows_of(first, "history-heading")[0][2] == "CRP result of 27 Aug 2026 recorded"
    assert "25 changes" in section(first, "history-heading")
    assert '<a href="?history_page=2#history" rel="next">Older changes</a>' in first
    assert "Page 1 of 2" in first
    assert [row[2] for row in second] == [
        "CRP result of 07 Aug 2026 recorded",
        "CRP result of 06 Aug 2026 recorded",
        "CRP result of 05 Aug 2026 recorded",
        "CRP result of 04 Aug 2026 recorded",
        f"Patient {patient.registry_code} registered",
    ]
    # A page past the last shows the last; nonsense shows the first.
    assert history_of(client, patient, history_page=9) == second
    assert len(history_of(client, patient, history_page="x")) == HISTORY_PER_PAGE


def test_it_says_a_relapse_was_linked_to_its_retreatment(client, clinician_a, followed):
    services.course_stop(
        course=followed, stopped_on=TODAY - 20 * DAY, reason="remission", by=clinician_a
    )
    relapse = services.relapse_record(
        course=followed, noted_on=TODAY - 2 * DAY, evidence="New lesion", by=clinician_a
    )
    services.retreatment_start(relapse=relapse, started_on=TODAY, by=clinician_a)
    client.force_login(clinician_a)

    words = [row[2] for row in history_of(client, followed.patient)[:3]]

    assert "Relapse noted 22 Nov 2026 linked to its retreatment course" in words
    assert "Course from 24 Nov 2026 started" in words


# --- Print ---------------------------------------------------------------------------------------


def test_it_carries_who_printed_the_page_and_when(client, nurse_a, followed):
    client.force_login(nurse_a)

    page = client.get(patient_url(followed.patient)).text

    patient = followed.patient
    assert (
        f'<p class="print-only print-stamp">{patient.registry_code} · {patient.family_name}, '
        f"{patient.given_name} · MRN {patient.mrn} — printed by nina on 24 Nov 2026 10:00</p>"
    ) in page
