"""lab_panel_record: the results of one draw are saved together or not at all, with one
re-evaluation, by someone whose role at the patient's site records lab results."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from registry import services
from registry.models import LabResult
from registry.services import LabValue
from tests.conftest import TODAY
from tests.factories import LabResultFactory, PatientFactory

pytestmark = pytest.mark.django_db

DRAW = {
    "crp": LabValue(analyte="crp", value=Decimal("12.5"), reference_high=Decimal("5")),
    "esr": LabValue(analyte="esr", value=Decimal("30")),
    "ifx_trough": LabValue(analyte="ifx_trough", value=Decimal("1.2")),
    "anti_ifx": LabValue(
        analyte="anti_ifx",
        antibodies_positive=True,
        value=Decimal("48"),
        unit="AU/mL",
        assay_name="ELISA",
    ),
}


def record(patient, results, by, collected_on=TODAY):
    return services.lab_panel_record(
        patient=patient, collected_on=collected_on, results=results, by=by
    )


def test_it_records_every_result_of_the_draw_with_its_unit_and_author(site_a, nurse_a):
    patient = PatientFactory(site=site_a)

    recorded = record(patient, DRAW, nurse_a)

    assert set(recorded) == set(DRAW)
    rows = {
        lab.analyte: (lab.collected_on, lab.value, lab.unit) for lab in patient.lab_results.all()
    }
    assert rows == {
        "crp": (TODAY, Decimal("12.5"), "mg/L"),
        "esr": (TODAY, Decimal("30"), "mm/h"),
        "ifx_trough": (TODAY, Decimal("1.2"), "µg/mL"),
        "anti_ifx": (TODAY, Decimal("48"), "AU/mL"),
    }
    assert {lab.history.get().history_user for lab in patient.lab_results.all()} == {nurse_a}


def test_it_asks_for_one_reevaluation_for_the_whole_panel(
    site_a, nurse_a, django_capture_on_commit_callbacks
):
    patient = PatientFactory(site=site_a)
    with django_capture_on_commit_callbacks() as callbacks:
        record(patient, DRAW, nurse_a)
    assert len(callbacks) == 1


def test_it_saves_nothing_when_one_value_is_refused_and_names_each_error(
    site_a, nurse_a, django_capture_on_commit_callbacks
):
    patient = PatientFactory(site=site_a)
    draw = DRAW | {
        "esr": LabValue(analyte="esr", value=Decimal("250")),
        "anti_ifx": LabValue(analyte="anti_ifx", value=Decimal("48")),
    }

    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(ValidationError) as refused,
    ):
        record(patient, draw, nurse_a)

    assert refused.value.message_dict == {
        "esr.value": [
            "250 mm/h is above the physical maximum of 200 mm/h; check the value and its unit."
        ],
        "anti_ifx.antibodies_positive": ["Record whether antibodies were detected."],
    }
    assert not LabResult.objects.exists()  # CRP and the trough were valid, and are not kept
    assert not LabResult.history.exists()
    assert callbacks == []


def test_it_names_a_refused_date_once_for_the_whole_draw(site_a, nurse_a):
    patient = PatientFactory(site=site_a)
    with pytest.raises(ValidationError) as refused:
        record(patient, DRAW, nurse_a, collected_on=TODAY + dt.timedelta(days=1))
    assert refused.value.message_dict == {
        "collected_on": ["25 Nov 2026 is in the future; record what has happened."]
    }


def test_it_refuses_a_result_already_recorded_and_keeps_none_of_the_draw(site_a, nurse_a):
    patient = PatientFactory(site=site_a)
    LabResultFactory(patient=patient, analyte="crp", value=Decimal("12.5"), collected_on=TODAY)

    with pytest.raises(ValidationError) as refused:
        record(patient, DRAW, nurse_a)

    assert refused.value.message_dict == {
        "crp": ["This result is already recorded (CRP (mg/L) on 24 Nov 2026, 12.5)."]
    }
    assert list(patient.lab_results.values_list("analyte", flat=True)) == ["crp"]


def test_it_refuses_the_same_result_twice_in_one_panel(site_a, nurse_a):
    patient = PatientFactory(site=site_a)
    crp = LabValue(analyte="crp", value=Decimal("3"))
    with pytest.raises(ValidationError) as refused:
        record(patient, {"first": crp, "again": crp}, nurse_a)
    assert list(refused.value.message_dict) == ["again"]
    assert not LabResult.objects.exists()


def test_it_refuses_an_empty_panel(site_a, nurse_a):
    with pytest.raises(ValidationError) as refused:
        record(PatientFactory(site=site_a), {}, nurse_a)
    assert refused.value.messages == ["Enter at least one result of this draw."]


def test_it_checks_the_role_at_the_patients_site(site_a, site_b, nurse_b, researcher_a):
    north = PatientFactory(site=site_a)
    for person in (nurse_b, researcher_a):  # staff of another site; no staff role here
        with pytest.raises(PermissionDenied):
            record(north, DRAW, person)
    assert not LabResult.objects.exists()
