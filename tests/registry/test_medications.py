"""Other medications: the model's rules with their field-specific messages, the database's own
constraints behind them, the actions (record, stop, correct) with who may do them, and history."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from registry import services
from registry.models import MEDICATION_ATC, Medication, MedicationDrug
from tests.conftest import TODAY
from tests.factories import MedicationFactory, PatientFactory, acting_superuser

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


@pytest.fixture
def patient(site_a):
    return PatientFactory(site=site_a, date_of_birth=dt.date(2014, 5, 2))


def record(patient, *, by=None, **overrides):
    values = {
        "patient": patient,
        "drug": "naproxen",
        "dose": Decimal("5"),
        "dose_unit": "mg/kg",
        "route": "oral",
        "frequency": "twice_daily",
        "started_on": dt.date(2026, 3, 2),
    } | overrides
    return services.medication_record(by=by or acting_superuser(), **values)


def refused_at(patient, field, fragment, **overrides) -> None:
    with pytest.raises(ValidationError) as refused:
        record(patient, **overrides)
    messages = refused.value.message_dict.get(field, [])
    assert any(fragment in message for message in messages), refused.value.message_dict
    assert not Medication.objects.exists()


def test_every_listed_drug_has_its_atc_code():
    assert set(MEDICATION_ATC) == set(MedicationDrug.values) - {MedicationDrug.OTHER}
    assert MEDICATION_ATC[MedicationDrug.METHOTREXATE] == "L04AX03"  # not L01BA01 (oncology)


def test_it_records_a_medication_with_its_author_in_the_history(patient, clinician_a):
    medication = record(patient, by=clinician_a)

    assert (medication.drug_label, medication.atc_code) == ("Naproxen", "M01AE02")
    assert medication.dose_words == "5 mg/kg twice daily, oral"
    assert medication.history.get().history_user == clinician_a


def test_it_refuses_a_medication_stopped_before_it_started(patient):
    refused_at(
        patient, "stopped_on", "It started on 02 Mar 2026; it cannot stop before that.",
        stopped_on=dt.date(2026, 3, 1), stop_reason="inefficacy",
    )  # fmt: skip


def test_it_refuses_a_start_in_the_future_or_before_birth(patient):
    refused_at(patient, "started_on", "is in the future", started_on=TODAY + DAY)
    refused_at(
        patient, "started_on", "before the patient's date of birth",
        started_on=dt.date(2014, 5, 1),
    )  # fmt: skip


def test_it_refuses_a_stop_in_the_future(patient):
    refused_at(
        patient, "stopped_on", "is in the future", stopped_on=TODAY + DAY, stop_reason="remission"
    )


def test_it_asks_why_a_medication_stopped_and_only_then(patient):
    refused_at(patient, "stop_reason", "Say why it was stopped.", stopped_on=TODAY)
    refused_at(patient, "stop_reason", "Only a stopped medication", stop_reason="remission")


def test_it_asks_for_the_name_of_an_other_drug_and_only_for_it(patient):
    refused_at(patient, "drug_name", "Name the drug.", drug="other", drug_name="  ")
    refused_at(patient, "drug_name", "Naproxen is on the list already", drug_name="Naprosyn")
    other = record(patient, drug="other", drug_name=" Omeprazole ", dose=Decimal("10"),
                   dose_unit="mg", frequency="once_daily")  # fmt: skip
    assert (other.drug_label, other.atc_code) == ("Omeprazole", None)


def test_it_refuses_a_dose_without_its_unit_a_unit_without_a_dose_and_no_dose(patient):
    refused_at(patient, "dose_unit", "Choose the dose's unit.", dose_unit="")
    refused_at(patient, "dose", "Enter the dose, or leave its unit empty.", dose=None)
    refused_at(patient, "dose", "more than 0", dose=Decimal("0"))
    assert record(patient, dose=None, dose_unit="").dose_words == "twice daily, oral"


def test_it_refuses_a_second_current_entry_of_the_same_drug(patient):
    record(patient)
    with pytest.raises(ValidationError) as refused:
        record(patient, started_on=dt.date(2026, 6, 1), dose=Decimal("7.5"))
    assert refused.value.message_dict["drug"] == [
        "Naproxen is already recorded as taken since 02 Mar 2026: stop that entry first (a new "
        "dose is a new entry)."
    ]
    # A stopped entry, then the new dose: fine.
    record(patient, started_on=dt.date(2025, 1, 6), stopped_on=dt.date(2025, 6, 2),
           stop_reason="dose_changed")  # fmt: skip
    assert Medication.objects.count() == 2


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        ({"stopped_on": dt.date(2026, 3, 1), "stop_reason": "other"}, "stopped_after_start"),
        ({"stopped_on": dt.date(2026, 4, 1)}, "stop_reason_with_stop_date"),
        ({"drug": "other"}, "other_drug_named"),
        ({"dose_unit": ""}, "dose_with_unit"),
        ({"dose": Decimal("-1")}, "dose_with_unit"),
        ({"route": "inhaled"}, "route_valid"),
        ({"frequency": "hourly"}, "frequency_valid"),
        ({"drug": "aspirin"}, "drug_valid"),
    ],
)
def test_the_database_refuses_what_clean_refuses(patient, fields, constraint):
    with pytest.raises(IntegrityError, match=f"medication_{constraint}"), transaction.atomic():
        MedicationFactory(patient=patient, started_on=dt.date(2026, 3, 2), **fields)


def test_the_database_refuses_a_second_current_entry_of_a_drug(patient):
    MedicationFactory(patient=patient)
    with pytest.raises(IntegrityError, match="one_current_entry"), transaction.atomic():
        MedicationFactory(patient=patient)


def test_it_stops_a_medication_once(patient, clinician_a):
    medication = record(patient)

    services.medication_stop(
        medication=medication, stopped_on=TODAY, reason="inefficacy", by=clinician_a
    )
    with pytest.raises(ValidationError, match="already stopped on 24 Nov 2026"):
        services.medication_stop(
            medication=medication, stopped_on=TODAY, reason="remission", by=clinician_a
        )

    medication.refresh_from_db()
    assert (medication.stopped_on, medication.stop_reason) == (TODAY, "inefficacy")
    assert not medication.is_current_on(TODAY)
    assert medication.history.first().history_user == clinician_a


def test_a_stop_before_the_start_is_refused_at_its_field(patient, clinician_a):
    medication = record(patient)
    with pytest.raises(ValidationError) as refused:
        services.medication_stop(
            medication=medication, stopped_on=dt.date(2026, 1, 1), reason="other", by=clinician_a
        )
    assert "cannot stop before that" in refused.value.message_dict["stopped_on"][0]
    medication.refresh_from_db()
    assert medication.stopped_on is None


def test_nurses_see_medications_but_clinicians_and_data_managers_record_them(
    patient, nurse_a, data_manager_a
):
    with pytest.raises(PermissionDenied, match="does not allow recording a medication"):
        record(patient, by=nurse_a)
    medication = record(patient, by=data_manager_a)
    with pytest.raises(PermissionDenied):
        services.medication_stop(medication=medication, stopped_on=TODAY, reason="other",
                                 by=nurse_a)  # fmt: skip


def test_a_correction_changes_only_the_allowed_fields(patient, data_manager_a, site_b):
    medication = record(patient)

    services.medication_correct(
        medication=medication, changes={"dose": Decimal("7.5")}, by=data_manager_a
    )
    with pytest.raises(ValidationError, match="record a medication"):
        services.medication_correct(
            medication=medication, changes={"patient": PatientFactory(site=site_b)},
            by=data_manager_a,
        )  # fmt: skip

    medication.refresh_from_db()
    assert medication.dose == Decimal("7.5")


@pytest.mark.parametrize(
    "changes",
    [{"drug": "sulfasalazine"}, {"started_on": dt.date(2026, 6, 1)},
     {"stopped_on": dt.date(2026, 6, 1), "stop_reason": "remission"}],
)  # fmt: skip
def test_what_the_guideline_reads_of_a_medication_only_a_clinician_corrects(
    patient, data_manager_a, clinician_a, changes
):
    # methotrexate_monitoring_due reads the drug and when it was taken: a correction can clear it.
    medication = record(patient, drug="methotrexate", dose_unit="mg/m2", frequency="weekly")
    with pytest.raises(PermissionDenied, match="Only a clinician of this site may correct"):
        services.medication_correct(medication=medication, changes=changes, by=data_manager_a)
    services.medication_correct(medication=medication, changes=changes, by=clinician_a)
    medication.refresh_from_db()
    assert {name: getattr(medication, name) for name in changes} == changes
