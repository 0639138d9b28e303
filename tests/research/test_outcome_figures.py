"""The outcomes page's figures from the database: the Kaplan–Meier estimate of a cohort worked by
hand (its censoring by retreatment and by the end of follow-up), reaction rates with their Wilson
intervals, response and adherence; scoping (another site's courses never counted); a researcher's
aggregates (research use in force only, no cell below 5 patients); the page and its CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse

from registry.models import Role
from research import outcome_figures as of
from research.outcome_snapshots import refresh
from tests.conftest import TODAY, _member
from tests.factories import (
    AssessmentFactory,
    CourseFactory,
    InfusionFactory,
    LabResultFactory,
    PatientFactory,
    ReactionFactory,
    RelapseFactory,
)

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)
STOP = TODAY - 500 * DAY
STARTED = STOP - 300 * DAY


def stopped_course(site, *, relapse_after=None, retreat_after=None, seen_after=None, consent=True,
                   reason="remission"):  # fmt: skip
    """A course stopped on STOP (infusions every 8 weeks before it) and what followed the stop."""
    patient = PatientFactory(
        site=site, research_consent_given_on=STARTED - 30 * DAY if consent else None
    )
    course = CourseFactory(patient=patient, started_on=STARTED, stopped_on=STOP, stop_reason=reason)
    for week in (0, 2, 6, 14, 22, 30, 38):
        InfusionFactory(course=course, given_on=STARTED + week * 7 * DAY)
    if relapse_after is not None:
        RelapseFactory(course=course, patient=patient, noted_on=STOP + relapse_after * DAY)
    if retreat_after is not None:
        CourseFactory(patient=patient, started_on=STOP + retreat_after * DAY)
    if seen_after is not None:
        LabResultFactory(patient=patient, collected_on=STOP + seen_after * DAY)
    return course


def hand_cohort(site, **kwargs):
    """Relapses 100 and 300 days after the stop; censored at 200 (retreatment), 300 and 400 (the
    last lab result): S(365) = 4/5 × 2/3 = 8/15, so 46.7 % relapsed by 12 months."""
    return [
        stopped_course(site, relapse_after=100, **kwargs),
        stopped_course(site, retreat_after=200, **kwargs),
        stopped_course(site, relapse_after=300, **kwargs),
        stopped_course(site, seen_after=300, **kwargs),
        stopped_course(site, seen_after=400, **kwargs),
    ]


def scope(*sites, **fields) -> of.Scope:
    return of.Scope(site_ids=frozenset(s.pk for s in sites), as_of=TODAY, **fields)


def rows_of(figure: of.Figure, group: str) -> dict[str, tuple[str, ...]]:
    return {row[1]: row for row in figure.tables[0].rows if row[0] == group}


def test_relapse_free_survival_is_the_hand_computed_estimate(site_a):
    hand_cohort(site_a)
    refresh(TODAY)
    figure = of.relapse_free_survival(scope(site_a))
    assert figure.basis == "Rests on 5 patients, 5 courses."
    months = rows_of(figure, "All stops")
    assert months["0"][2:4] == ("5", "0.0 %")
    assert months["6"][2:4] == ("4", "20.0 %")  # day 183: one relapsed (day 100)
    assert months["12"][2:4] == ("1", "46.7 %")  # 1 - 8/15
    headline = dict(figure.headline)
    assert headline["Relapsed by 12 months"].startswith("46.7 % (95 % CI")
    assert headline["Source document"] == "about 30–40 % relapse after stopping infliximab"
    [curve] = [d for d in figure.chart["datasets"] if d["band"]]  # type: ignore[index]
    assert [(p["x"], p["y"]) for p in curve["points"]] == [
        (0.0, 1.0),
        (3.29, 0.8),
        (9.86, 0.5333),
        (13.14, 0.5333),  # flat to the last follow-up
    ]


def test_the_date_range_keeps_the_stops_within_it(site_a):
    hand_cohort(site_a)
    refresh(TODAY)
    figure = of.relapse_free_survival(scope(site_a, start=STOP + DAY))
    assert figure.basis == "Rests on 0 patients, 0 courses."
    assert figure.suppressed


def test_another_sites_courses_are_never_counted(site_a, site_b):
    hand_cohort(site_a)
    stopped_course(site_b, relapse_after=10)
    InfusionFactory(course=CourseFactory(patient=PatientFactory(site=site_b)))
    refresh(TODAY)
    assert of.relapse_free_survival(scope(site_a)).basis == "Rests on 5 patients, 5 courses."
    reactions = of.reactions(scope(site_a))
    assert reactions.basis == "Rests on 5 patients, 5 courses, 35 infusions."
    both = of.relapse_free_survival(scope(site_a, site_b))
    assert both.basis == "Rests on 6 patients, 6 courses."


def test_a_researcher_sees_no_cell_below_five_patients_and_only_consented_ones(site_a):
    hand_cohort(site_a)
    stopped_course(site_a, relapse_after=50, consent=False)  # not for research
    stopped_course(site_a, relapse_after=60, reason="adverse_event")
    refresh(TODAY)
    clinic = of.relapse_free_survival(scope(site_a))
    research = of.relapse_free_survival(scope(site_a, aggregates_only=True))
    assert clinic.basis == "Rests on 7 patients, 7 courses."
    assert research.basis == "Rests on 6 patients, 6 courses."
    months = rows_of(research, "All stops")
    assert months["6"][2:] == ("< 5", "< 5", "< 5")  # 4 still followed: it would describe them
    assert rows_of(research, "—") == {}
    adverse = [r for r in research.tables[0].rows if r[0] == "Stopped: adverse event"]
    assert adverse == [("Stopped: adverse event", "—", "< 5", "< 5", "< 5")]
    # Its sibling too: all stops less the remission ones would give the adverse event's away.
    remission = [r for r in research.tables[0].rows if r[0] == "Stopped: remission"]
    assert remission == [("Stopped: remission", "—", "< 5", "< 5", "< 5")]
    drawn = {d["label"] for d in research.chart["datasets"]}  # type: ignore[index]
    assert "Stopped: remission" not in drawn
    assert "Stopped: remission" in {d["label"] for d in clinic.chart["datasets"]}  # type: ignore[index]
    assert dict(research.headline)["Relapsed by 12 months"] == "< 5"
    # The curve stops where fewer than 5 patients are still followed.
    [curve] = [d for d in research.chart["datasets"] if d["band"]]  # type: ignore[index]
    assert [p["x"] for p in curve["points"]][-1] < 6
    for row in research.tables[0].rows:
        followed = row[2]
        assert followed == "< 5" or int(followed) >= 5, row


def test_reaction_rates_with_wilson_intervals_and_premedication(site_a):
    courses = hand_cohort(site_a)
    infusions = [i for c in courses for i in c.infusions.order_by("given_on")]
    ReactionFactory(infusion=infusions[1], severity="mild")
    ReactionFactory(infusion=infusions[8], severity="severe", onset="delayed")
    premedicated = infusions[9]
    premedicated.premedication_antihistamine = True
    premedicated.save()
    ReactionFactory(infusion=premedicated, severity="mild")
    figure = of.reactions(scope(site_a))
    rows = {row[0]: row for row in figure.tables[0].rows}
    assert rows["Infusions with a reaction"][1:3] == ("3", "35")
    assert rows["Infusions with a reaction"][3].startswith("8.6 % (95 % CI 3.0 %–22.4 %)")
    assert rows["… severe"][1:3] == ("1", "35")
    assert rows["… onset delayed (1–14 days)"][1] == "1"
    assert rows["Patients with a reaction"][1:3] == ("2", "5")
    assert rows["Reactions with premedication"][1:3] == ("1", "1")
    assert rows["Reactions without premedication"][1:3] == ("2", "34")
    assert "Cheifetz 2003 6.1 %" in rows["Infusions with a reaction"][4]
    research = of.reactions(scope(site_a, aggregates_only=True))
    rows = {row[0]: row for row in research.tables[0].rows}
    # Every severity, not only the small ones: the total less the others would give one away.
    assert [rows[f"… {s}"][1] for s in ("mild", "moderate", "severe")] == ["< 5"] * 3


def test_response_and_adherence_from_the_stored_outcomes(site_a):
    courses = hand_cohort(site_a)
    for course in courses[:3]:
        AssessmentFactory(
            patient=course.patient,
            assessed_on=course.started_on + 365 * DAY,
            disease_state="inactive",
        )
    refresh(TODAY)
    response = of.response(scope(site_a))
    rows = {row[0]: row for row in response.tables[0].rows}
    assert rows["Judged inactive at 12 months"][1:3] == ("3", "3")
    assert rows["… insufficient data at 3 months"][1:3] == ("6", "6")  # the retreatment too
    research = of.response(scope(site_a, aggregates_only=True))
    rows = {row[0]: row for row in research.tables[0].rows}
    assert rows["Judged inactive at 12 months"][1] == "< 5"  # three patients
    assert rows["… insufficient data at 3 months"][1] == "6"
    adherence = of.adherence(scope(site_a))
    rows = {row[0]: row for row in adherence.tables[0].rows}
    assert rows["Courses stopped before 12 months"][1:] == ("5", "of 5 stopped")
    assert rows["… remission"][1] == "5"
    assert rows["Doses given on time (of those due)"][2] == "5"


# --- The page -----------------------------------------------------------------------------------


def test_the_page_shows_each_figure_with_its_counting_and_csv(client, clinician_a, site_a):
    hand_cohort(site_a)
    refresh(TODAY)
    client.force_login(clinician_a)
    page = client.get(reverse("clinic:outcomes")).text
    for heading in ("Relapse-free survival after stopping", "Infusion reactions", "Response",
                    "Adherence and course"):  # fmt: skip
        assert f">{heading}</h2>" in page
    assert page.count("How this is counted") == 4
    assert "Rests on 5 patients, 5 courses." in page
    assert 'id="relapse-free-survival-data"' in page
    assert "Aggregates for research" not in page
    downloaded = client.get(reverse("clinic:outcomes_csv", args=["relapse-free-survival"]))
    assert downloaded["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(downloaded.content.decode())))
    assert rows[0] == ["Group", "Months since the stop", "Still followed", "Relapsed", "95 % CI"]
    assert rows[[r[:2] for r in rows].index(["All stops", "12"])][:4] == [
        "All stops",
        "12",
        "1",
        "46.7 %",
    ]
    assert client.get(reverse("clinic:outcomes_csv", args=["nothing"])).status_code == 404


def test_a_researcher_gets_the_aggregates_and_a_nurse_nothing(client, site_a, nurse_a):
    researcher = _member("rhea", site_a, Role.RESEARCHER, is_staff=False)
    client.force_login(researcher)
    page = client.get(reverse("clinic:outcomes")).text
    assert "Aggregates for research" in page
    assert "/patients/" not in page  # no patient is linked
    client.force_login(nurse_a)
    assert client.get(reverse("clinic:outcomes")).status_code == 403


def test_another_sites_id_in_the_filter_is_refused(client, clinician_a, site_a, site_b):
    stopped_course(site_b, relapse_after=10)
    refresh(TODAY)
    client.force_login(clinician_a)
    response = client.get(reverse("clinic:outcomes"), {"site": site_b.pk})
    assert "Select a valid choice" in response.text
    assert response.context["scope"].site_ids == frozenset({site_a.pk})


def test_a_range_that_ends_before_it_starts_is_refused(client, clinician_a, site_a):
    client.force_login(clinician_a)
    response = client.get(reverse("clinic:outcomes"), {"start": "2026-05-01", "end": "2026-01-01"})
    assert "The end of the range is before its start." in response.text


def test_no_estimate_beyond_the_longest_follow_up(site_a):
    """Nobody followed 24 months: the curve's last value is not carried on as an estimate."""
    hand_cohort(site_a)
    refresh(TODAY)
    headline = dict(of.relapse_free_survival(scope(site_a)).headline)
    assert headline["Relapsed by 24 months"] == "not estimable yet: no stop followed this long"
