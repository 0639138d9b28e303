"""The lab import service: all or nothing, patients by registry code or id, permission per site,
idempotent, validated in bulk (queries do not grow with the rows), one re-evaluation per patient."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import re
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from registry import roles
from registry.lab_import import (
    RECORDED_MEANWHILE,
    Duplicate,
    LabImportRefused,
    LabImportTooLarge,
    LabImportUnreadable,
    Outcome,
    RowError,
    csv_rows,
    lab_results_import,
    lab_results_preview,
    lab_unit_code,
)
from registry.models import LabResult, LabUnit, Role
from registry.signals import reevaluation_requested
from tests.conftest import _member
from tests.factories import MembershipFactory, PatientFactory

pytestmark = pytest.mark.django_db

D = "2026-11-20"


@pytest.fixture
def north(site_a):
    return PatientFactory(
        site=site_a, registry_code="CRMO-000042", date_of_birth=dt.date(2012, 3, 14)
    )


@pytest.fixture
def north_2(site_a):
    return PatientFactory(site=site_a, registry_code="CRMO-000043")


@pytest.fixture
def south(site_b):
    return PatientFactory(site=site_b, registry_code="CRMO-000077")


def crp(patient, value: str = "3.2", **more: Any) -> dict[str, Any]:
    return {"registry_code": patient.registry_code, "collected_on": D, "analyte": "crp"} | {
        "value": value,
        **more,
    }


def stored(patient) -> list[tuple[str, str, Decimal | None]]:
    results = LabResult.objects.filter(patient=patient).order_by("collected_on", "analyte", "pk")
    return [(str(r.collected_on), r.analyte, r.value) for r in results]


def refusal(rows, by) -> list[RowError]:
    with pytest.raises(LabImportRefused) as refused:
        lab_results_import(rows=rows, by=by)
    return list(refused.value.errors)


# --- What it stores -----------------------------------------------------------------------------


def test_it_stores_every_row_with_its_unit_and_its_author(north, nurse_a):
    rows = [
        crp(north),
        {"patient": north.pk, "collected_on": D, "analyte": "esr", "value": 12},
        {
            "patient": str(north.pk),
            "collected_on": D,
            "analyte": "anti_ifx",
            "antibodies_positive": "yes",
            "assay_name": " Lisa-Tracker ",
        },
        {"patient": north.pk, "collected_on": D, "analyte": "ifx_trough", "value": 4.1},
    ]
    result = lab_results_import(rows=rows, by=nurse_a)
    assert result.created == 4
    assert result.already_recorded_rows == ()
    records = {r.analyte: r for r in LabResult.objects.filter(pk__in=result.created_ids)}
    assert {a: (r.value, r.unit) for a, r in records.items()} == {
        "crp": (Decimal("3.200"), "mg/L"),
        "esr": (Decimal("12.000"), "mm/h"),
        "anti_ifx": (None, ""),
        "ifx_trough": (Decimal("4.100"), "µg/mL"),
    }
    assert (records["anti_ifx"].antibodies_positive, records["anti_ifx"].assay_name) == (
        True,
        "Lisa-Tracker",
    )
    assert {r.history.get().history_user for r in records.values()} == {nurse_a}


def test_it_stores_nothing_and_lists_every_invalid_row_by_number(north, nurse_a):
    rows = [
        crp(north),
        crp(north, "-1"),
        {"patient": north.pk, "collected_on": "20/11/2026", "analyte": "esr", "value": "abc"},
        {"patient": north.pk, "collected_on": "2026-12-01", "analyte": "xyz"},
        crp(north, "1", collected_on="2011-05-01"),
        {"patient": north.pk, "collected_on": D, "analyte": "other", "colour": "red"},
        {"patient": north.pk, "analyte": "anti_ifx", "antibodies_positive": "maybe"},
        "crp=3",
    ]
    assert refusal(rows, nurse_a) == [
        RowError(2, {"value": ["CRP (mg/L) cannot be negative."]}),
        RowError(
            3,
            {
                "collected_on": [
                    "“20/11/2026” value has an invalid date format. It must be in YYYY-MM-DD "
                    "format."
                ],
                "value": ["“abc” value must be a decimal number."],
            },
        ),
        RowError(4, {"analyte": ["Value 'xyz' is not a valid choice."]}),
        RowError(5, {"collected_on": ["01 May 2011 is before the patient's date of birth."]}),
        RowError(6, {"colour": ["Unknown column."], "analyte_name": ["Name the test."]}),
        RowError(
            7,
            {
                "collected_on": ["This field is required."],
                "antibodies_positive": ["Enter true or false."],
            },
        ),
        RowError(8, {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}),
    ]
    assert stored(north) == []


def test_it_refuses_a_future_date_as_the_model_does(north, nurse_a):
    assert refusal([crp(north, collected_on="2026-11-25")], nurse_a) == [
        RowError(1, {"collected_on": ["25 Nov 2026 is in the future; record what has happened."]})
    ]


@pytest.mark.parametrize(
    ("cells", "errors"),
    [
        ({"value": "3.2509"}, {"value": ["Ensure that there are no more than 3 decimal places."]}),
        ({"value": "NaN"}, {"value": ["“NaN” value must be a decimal number."]}),
        ({"value": True}, {"value": ["Enter a number."]}),
        ({"value": ["3"]}, {"value": ["Enter a number."]}),
        ({"collected_on": 20261120}, {"collected_on": ["Enter a date as YYYY-MM-DD."]}),
        ({"analyte_name": "a\x00b"}, {"analyte_name": ["Null characters are not allowed."]}),
        (
            {"assay_name": "x" * 101},
            {"assay_name": ["Ensure this value has at most 100 characters (it has 101)."]},
        ),
        (
            {"reference_low": "5", "reference_high": "1"},
            {"reference_high": ["The upper limit is below the lower limit."]},
        ),
        (
            {"antibodies_positive": False},
            {"antibodies_positive": ["Only for anti-infliximab antibody results."]},
        ),
    ],
    ids=["decimals", "nan", "bool", "list", "number-date", "nul", "long", "range", "antibody-flag"],
)
def test_it_refuses_a_cell_the_field_would_refuse(cells, errors, north, nurse_a):
    assert refusal([crp(north) | cells], nurse_a) == [RowError(1, errors)]


# --- Patients -----------------------------------------------------------------------------------


def test_it_names_patients_by_registry_code_by_id_or_both(north, nurse_a):
    rows = [
        {"registry_code": "crmo-000042", "collected_on": D, "analyte": "crp", "value": "1"},
        {"patient": north.pk, "collected_on": D, "analyte": "crp", "value": "2"},
        {
            "patient": north.pk,
            "registry_code": "CRMO-000042",
            "collected_on": D,
            "analyte": "esr",
            "value": "3",
        },
    ]
    assert lab_results_import(rows=rows, by=nurse_a).created == 3
    assert [value for _day, _analyte, value in stored(north)] == [1, 2, 3]


def test_it_refuses_a_registry_code_and_an_id_that_disagree(north, north_2, nurse_a):
    row = crp(north) | {"patient": north_2.pk}
    assert refusal([row], nurse_a) == [
        RowError(
            1,
            {
                "registry_code": [
                    f"CRMO-000042 is not patient {north_2.pk}: send one of the two, or both for "
                    "the same patient."
                ]
            },
        )
    ]


def test_it_needs_the_patient_named(nurse_a, north):
    row = {"collected_on": D, "analyte": "crp", "value": "1"}
    assert refusal([row, crp(north) | {"patient": "x1"}], nurse_a) == [
        RowError(1, {"patient": ["Name the patient: a registry_code, or a patient id."]}),
        RowError(2, {"patient": ["Enter the patient's id (a whole number)."]}),
    ]


def test_another_site_s_patient_is_unknown_like_a_patient_that_does_not_exist(
    north, south, nurse_a
):
    rows = [crp(north), crp(south), {**crp(north), "registry_code": "CRMO-999999"}]
    rows += [{"patient": south.pk, "collected_on": D, "analyte": "crp", "value": "1"}]
    rows += [{"patient": 10**30, "collected_on": D, "analyte": "crp", "value": "1"}]
    assert refusal(rows, nurse_a) == [
        RowError(
            2, {"registry_code": ["Unknown patient: CRMO-000077 is none of your sites' patients."]}
        ),
        RowError(
            3, {"registry_code": ["Unknown patient: CRMO-999999 is none of your sites' patients."]}
        ),
        RowError(4, {"patient": [f"Unknown patient: {south.pk} is none of your sites' patients."]}),
        RowError(5, {"patient": [f"Unknown patient: {10**30} is none of your sites' patients."]}),
    ]
    assert stored(south) == stored(north) == []


def test_a_nurse_at_north_with_no_role_at_south_records_north_s_results_only(north, south, nurse_a):
    assert lab_results_import(rows=[crp(north)], by=nurse_a).created == 1
    assert refusal([crp(south)], nurse_a)[0].errors == {
        "registry_code": ["Unknown patient: CRMO-000077 is none of your sites' patients."]
    }


def test_a_role_counts_at_its_own_site(north, south, site_b):
    """A nurse at north who is a clinician at south records at both, each by that site's role."""
    both = _member("nora", north.site, Role.NURSE)
    MembershipFactory(user=both, site=site_b, role=Role.CLINICIAN)
    assert lab_results_import(rows=[crp(north), crp(south)], by=both).created == 2


def test_a_site_where_the_role_may_not_record_results_refuses_its_rows_by_number(
    north, south, site_b, monkeypatch
):
    """Were a staff role at a site not to allow lab results, its rows would be refused by row."""
    both = _member("nora", north.site, Role.NURSE)
    MembershipFactory(user=both, site=site_b, role=Role.DATA_MANAGER)
    without = roles.ROLE_PERMISSIONS[Role.DATA_MANAGER] - {"registry.add_labresult"}
    monkeypatch.setitem(roles.ROLE_PERMISSIONS, Role.DATA_MANAGER, without)
    assert refusal([crp(north), crp(south)], both) == [
        RowError(2, {"registry_code": ["Your role at south does not allow recording lab results."]})
    ]


def test_an_inactive_user_knows_no_patient(north, nurse_a):
    nurse_a.is_active = False
    assert refusal([crp(north)], nurse_a)[0].errors == {
        "registry_code": ["Unknown patient: CRMO-000042 is none of your sites' patients."]
    }


# --- Idempotence --------------------------------------------------------------------------------


def test_the_same_rows_twice_store_nothing_the_second_time(north, nurse_a):
    rows = [
        crp(north),
        crp(north, "12", analyte="esr"),
        {**crp(north, ""), "analyte": "anti_ifx", "antibodies_positive": False},
    ]
    first = lab_results_import(rows=rows, by=nurse_a)
    second = lab_results_import(rows=rows, by=nurse_a)
    assert (first.created, first.already_recorded_rows) == (3, ())
    assert (second.created, second.already_recorded_rows) == (0, (1, 2, 3))
    assert LabResult.objects.filter(patient=north).count() == 3


def test_a_row_repeated_in_one_import_is_stored_once(north, nurse_a):
    rows = [crp(north), crp(north, "12", analyte="esr"), crp(north, "3.200"), crp(north, "3.2")]
    result = lab_results_import(rows=rows, by=nurse_a)
    assert result.created == 2
    assert result.duplicate_rows == (Duplicate(row=3, of_row=1), Duplicate(row=4, of_row=1))
    assert len(stored(north)) == 2


def test_a_result_differs_by_any_part_of_its_identity(north, north_2, nurse_a):
    lab_results_import(rows=[crp(north)], by=nurse_a)
    rows = [
        crp(north, "3.3"),
        crp(north, collected_on="2026-11-19"),
        crp(north_2),
        crp(north, analyte="other", analyte_name="Calprotectin"),
        crp(north, analyte="other", analyte_name="Ferritin"),
        {**crp(north, ""), "analyte": "anti_ifx", "antibodies_positive": True},
        {**crp(north, ""), "analyte": "anti_ifx", "antibodies_positive": False},
    ]
    result = lab_results_import(rows=rows, by=nurse_a)
    assert (result.created, result.already_recorded_rows, result.duplicate_rows) == (7, (), ())


def test_only_the_identity_counts_not_the_reference_range(north, nurse_a):
    lab_results_import(rows=[crp(north)], by=nurse_a)
    result = lab_results_import(rows=[crp(north, reference_high="5")], by=nurse_a)
    assert (result.created, result.already_recorded_rows) == (0, (1,))


# --- Bounds -------------------------------------------------------------------------------------


def test_it_refuses_more_rows_than_the_limit_reading_one_past_it(north, nurse_a, settings):
    settings.LAB_IMPORT_MAX_ROWS = 3
    read = []

    def rows() -> Iterator[dict[str, Any]]:
        for n in range(100):
            read.append(n)
            yield crp(north, str(n))

    with pytest.raises(LabImportTooLarge) as refused:
        lab_results_import(rows=rows(), by=nurse_a)
    assert (refused.value.max_rows, len(read)) == (3, 4)
    assert stored(north) == []
    assert lab_results_import(rows=[crp(north, str(n)) for n in range(3)], by=nurse_a).created == 3


def test_it_refuses_an_empty_import(nurse_a):
    assert refusal([], nurse_a) == [
        RowError(0, {"non_field_errors": ["Send a non-empty JSON list of results, or CSV rows."]})
    ]


# --- Units ------------------------------------------------------------------------------------


def test_a_unit_other_than_the_test_s_refuses_the_row(north, nurse_a):
    # A CRP in mg/dL is ten times its value in mg/L: stored as mg/L it would read as normal.
    assert refusal([crp(north, "0.4", unit="mg/dL")], nurse_a) == [
        RowError(
            1,
            {
                "unit": [
                    "CRP (mg/L) is recorded in mg/L, not mg/dL: convert the value to mg/L, or "
                    "leave the unit empty."
                ]
            },
        )
    ]


@pytest.mark.parametrize(
    ("analyte", "unit", "stored_unit"),
    [
        ("crp", "mg/l", "mg/L"),
        ("crp", " MG/L ", "mg/L"),
        ("esr", "mm/hr", "mm/h"),
        ("ifx_trough", "ug/mL", "µg/mL"),
        ("ifx_trough", "\u03bcg/ml", "µg/mL"),  # Greek mu, not the micro sign
        ("ifx_trough", "mcg/mL", "µg/mL"),
        ("crp", "", "mg/L"),
    ],
)
def test_the_usual_spellings_of_a_test_s_unit_are_its_unit(
    analyte, unit, stored_unit, north, nurse_a
):
    lab_results_import(rows=[crp(north, "4", analyte=analyte, unit=unit)], by=nurse_a)

    assert LabResult.objects.get().unit == stored_unit


def test_an_antibody_result_keeps_the_lab_s_unit(north, nurse_a):
    row = crp(north, "48", analyte="anti_ifx", antibodies_positive="yes", unit="AU/mL")

    lab_results_import(rows=[row], by=nurse_a)

    assert LabResult.objects.values_list("unit", "value").get() == ("AU/mL", Decimal("48.000"))


@pytest.mark.parametrize(
    ("analyte", "unit", "stored_unit"),
    [
        ("anti_ifx", "au/ml", "AU/mL"),
        ("anti_ifx", "Titer", "titre"),
        ("other", "10^9/l", "×10⁹/L"),
        ("other", "umol/l", "µmol/L"),
        ("other", "", ""),
    ],
)
def test_an_antibody_or_other_test_s_unit_is_stored_as_its_code(
    analyte, unit, stored_unit, north, nurse_a
):
    row = crp(north, "48", analyte=analyte, unit=unit)
    row |= {"antibodies_positive": "yes"} if analyte == "anti_ifx" else {"analyte_name": "WBC"}

    lab_results_import(rows=[row], by=nurse_a)

    assert LabResult.objects.get().unit == stored_unit


def test_a_unit_that_is_none_of_the_test_s_refuses_the_row_naming_those(north, nurse_a):
    row = crp(north, "48", analyte="anti_ifx", antibodies_positive="yes", unit="Quillfeather")
    assert refusal([row], nurse_a) == [
        RowError(
            1,
            {
                "unit": [
                    "Quillfeather is not a unit of Anti-infliximab antibodies results: choose one "
                    "of AU/mL, ng/mL, µg/mL, U/mL, titre, or none."
                ]
            },
        )
    ]


# --- The preview --------------------------------------------------------------------------------


def test_the_preview_tells_each_row_s_outcome_and_stores_nothing(
    north, south, nurse_a, requested, django_capture_on_commit_callbacks
):
    lab_results_import(rows=[crp(north, "12", analyte="esr")], by=nurse_a)
    rows = [
        crp(north),
        crp(north, "12", analyte="esr"),
        crp(north, "3.20"),
        crp(south),
        crp(north, "-1"),
    ]

    with django_capture_on_commit_callbacks(execute=True):
        preview = lab_results_preview(rows=rows, by=nurse_a)

    assert [(r.row, r.outcome, r.of_row, dict(r.errors)) for r in preview.rows] == [
        (1, Outcome.NEW, None, {}),
        (2, Outcome.ALREADY_RECORDED, None, {}),
        (3, Outcome.DUPLICATE, 1, {}),
        (4, Outcome.INVALID, None, {"registry_code": [UNKNOWN_SOUTH]}),
        (5, Outcome.INVALID, None, {"value": ["CRP (mg/L) cannot be negative."]}),
    ]
    assert [r.cells for r in preview.rows] == rows
    first = preview.rows[0].result
    assert first is not None
    assert (first.pk, first.patient, first.unit) == (None, north, "mg/L")
    assert preview.rows[3].result is None  # nothing of another site's patient
    assert (preview.count(Outcome.NEW), preview.count(Outcome.INVALID)) == (1, 2)
    assert not preview.importable  # an invalid row: the import would store nothing
    assert len(stored(north)) == 1
    assert requested == []


UNKNOWN_SOUTH = "Unknown patient: CRMO-000077 is none of your sites' patients."


def test_the_preview_says_what_the_import_then_does(north, north_2, nurse_a):
    rows = many([north, north_2], 50)
    lab_results_import(rows=rows[:20], by=nurse_a)

    preview = lab_results_preview(rows=rows, by=nurse_a)
    result = lab_results_import(rows=rows, by=nurse_a)

    assert preview.importable
    assert preview.count(Outcome.NEW) == result.created == 30
    assert [r.row for r in preview.rows if r.outcome is Outcome.ALREADY_RECORDED] == list(
        result.already_recorded_rows
    )


def test_the_preview_refuses_what_the_import_refuses(north, nurse_a, settings):
    settings.LAB_IMPORT_MAX_ROWS = 2
    with pytest.raises(LabImportTooLarge):
        lab_results_preview(rows=[crp(north)] * 3, by=nurse_a)
    with pytest.raises(LabImportRefused):
        lab_results_preview(rows=[], by=nurse_a)


def test_the_preview_s_queries_do_not_grow_with_the_rows(
    north, north_2, nurse_a, django_assert_max_num_queries
):
    with CaptureQueriesContext(connection) as ten:
        lab_results_preview(rows=many([north, north_2], 10), by=nurse_a)
    with django_assert_max_num_queries(len(ten.captured_queries)):
        lab_results_preview(rows=many([north, north_2], 1000), by=nurse_a)


# --- CSV ----------------------------------------------------------------------------------------


def test_csv_rows_are_the_named_cells_under_the_header():
    text = "registry_code, analyte ,value\r\nCRMO-000042,crp,3.2\r\n\r\nCRMO-000043,esr,\r\n"

    assert list(csv_rows(io.StringIO(text, newline=""))) == [
        {"registry_code": "CRMO-000042", "analyte": "crp", "value": "3.2"},
        {"registry_code": "CRMO-000043", "analyte": "esr"},
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b,a\n1,2,3\n", "The header names a more than once."),
        ("a,b\n1,2,3\n", "Row 1 has a value in a column the header does not name."),
        ("a\n" + "x" * 200_000, "Send CSV as UTF-8 text (field larger than field limit"),
    ],
)
def test_csv_that_is_no_rows_under_a_header_is_unreadable(text, message):
    with pytest.raises(LabImportUnreadable, match=re.escape(message)):
        list(csv_rows(io.StringIO(text, newline="")))


# --- In bulk --------------------------------------------------------------------------------------


def many(patients, n: int) -> list[dict[str, Any]]:
    """n different results, spread over the patients and over days."""
    start = dt.date(2025, 1, 1)
    return [
        crp(
            patients[i % len(patients)],
            f"{i % 900}.5",
            collected_on=str(start + dt.timedelta(days=i % 600)),
        )
        for i in range(n)
    ]


def queries(rows, by) -> int:
    with CaptureQueriesContext(connection) as captured, contextlib.suppress(LabImportRefused):
        lab_results_import(rows=rows, by=by)
    return len(captured.captured_queries)


def test_its_queries_do_not_grow_with_the_rows(
    north, north_2, nurse_a, django_assert_max_num_queries
):
    ten = queries(many([north, north_2], 10), nurse_a)
    thousand = many([north, north_2], 1000)  # its first 10 rows are stored already
    with django_assert_max_num_queries(ten):
        result = lab_results_import(rows=thousand, by=nurse_a)
    assert (result.created, len(result.already_recorded_rows)) == (990, 10)
    with django_assert_max_num_queries(ten):
        result = lab_results_import(rows=thousand, by=nurse_a)
    assert (result.created, len(result.already_recorded_rows)) == (0, 1000)


def test_its_refusal_does_not_query_per_row(north, nurse_a, django_assert_max_num_queries):
    bad = [crp(north, "-1")] * 10
    few = queries(bad, nurse_a)
    with django_assert_max_num_queries(few), pytest.raises(LabImportRefused) as refused:
        lab_results_import(rows=[crp(north, "-1")] * 1000, by=nurse_a)
    assert len(refused.value.errors) == 1000


# --- Re-evaluation --------------------------------------------------------------------------------


@pytest.fixture
def requested() -> Iterator[list[dict[str, Any]]]:
    """What each reevaluation_requested signal asked for."""
    asked: list[dict[str, Any]] = []

    def receiver(
        sender: Any, *, patient_ids: list[int], actor_id: int | None, **kwargs: Any
    ) -> None:
        asked.append({"patient_ids": patient_ids, "actor_id": actor_id})

    reevaluation_requested.connect(receiver)
    yield asked
    reevaluation_requested.disconnect(receiver)


def test_one_import_asks_once_for_each_patient_it_changed(
    north, north_2, south, nurse_a, requested, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        lab_results_import(rows=many([north, north_2], 200), by=nurse_a)
    assert requested == [{"patient_ids": sorted([north.pk, north_2.pk]), "actor_id": nurse_a.pk}]


def test_an_import_that_changes_nothing_asks_for_nothing(
    north, nurse_a, requested, django_capture_on_commit_callbacks
):
    lab_results_import(rows=[crp(north)], by=nurse_a)
    with django_capture_on_commit_callbacks(execute=True):
        lab_results_import(rows=[crp(north)], by=nurse_a)
        with pytest.raises(LabImportRefused):
            lab_results_import(rows=[crp(north, "3.3"), crp(north, "-1")], by=nurse_a)
    assert requested == []


# --- Concurrency --------------------------------------------------------------------------------


def at_once(*actions: Callable[[], object]) -> list[object]:
    """Run the actions in threads started together; what each returned or raised."""
    barrier = threading.Barrier(len(actions))
    outcomes: list[object] = [None] * len(actions)

    def run(n: int) -> None:
        try:
            barrier.wait()
            outcomes[n] = actions[n]()
        except Exception as error:
            outcomes[n] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def held_open(action: Callable[[], object]) -> Callable[[], object]:
    """The action in a transaction that stays open a while after it (a request's, say)."""

    def run() -> object:
        with transaction.atomic():
            outcome = action()
            time.sleep(0.5)
        return outcome

    return run


@pytest.mark.django_db(transaction=True)
def test_two_imports_of_one_file_at_once_store_it_once(north, nurse_a):
    rows = [crp(north), crp(north, "12", analyte="esr")]
    outcomes = at_once(*[held_open(lambda: lab_results_import(rows=rows, by=nurse_a))] * 2)
    # The second waits for the first's lock on the patient, then sees its results.
    assert sorted((o.created, o.already_recorded_rows) for o in outcomes) == [(0, (1, 2)), (2, ())]
    assert len(stored(north)) == 2


@pytest.mark.django_db(transaction=True)
def test_a_result_saved_meanwhile_refuses_the_import_in_words(north, nurse_a):
    def save_one() -> object:
        return LabResult.objects.create(
            patient_id=north.pk, collected_on=D, analyte="crp", value=Decimal("3.2"), unit="mg/L"
        )

    def import_it() -> object:
        time.sleep(0.1)  # the single save first; its transaction stays open
        return lab_results_import(rows=[crp(north, "1"), crp(north)], by=nurse_a)

    saved, refused = at_once(held_open(save_one), import_it)
    assert isinstance(saved, LabResult)
    assert isinstance(refused, LabImportRefused)
    assert refused.errors == (RowError(0, {"non_field_errors": [RECORDED_MEANWHILE]}),)
    assert [value for _day, _analyte, value in stored(north)] == [Decimal("3.200")]


def test_every_unit_code_is_read_as_itself_in_either_case():
    # Two codes of one spelling would be read as the same unit.
    for code in LabUnit.values:
        assert (lab_unit_code(code), lab_unit_code(code.upper())) == (code, code)
