"""Load course histories in bulk, run the guideline engine, and reconcile the alerts.

Loading a chunk costs a fixed number of queries whatever its size (no per-course queries), and the
reconciliation is idempotent: a finding still present refreshes its alert, a new one opens one, an
open alert whose finding is gone resolves itself, saying why ("condition cleared", "course
stopped", "guideline updated"); the alerts of courses that left the scope resolve as "out of
monitoring scope" in every kind of run (nightly, site, patient). A chunk locks its courses
(`SELECT … FOR UPDATE`) so two workers evaluating the same courses at once take turns; the partial
unique constraint on live alerts is the backstop.

Each evaluation stores what it saw (`CourseEvaluation`): the patient's record version, the
guideline it ran and the engine's horizon. The nightly run evaluates only the courses due
(`courses_due`): new in scope, their data or guideline changed, or their horizon come; a full run
(weekly, `evaluate_courses --full`) evaluates every course in scope. Both leave the same alerts
(tests/monitoring/test_incremental.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import BooleanField, F, Func, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from monitoring import guideline as engine
from monitoring.guideline import DEFAULT, Finding, Guideline, evaluate_course
from monitoring.guideline.history import (
    MEDICATIONS_READ,
    SCREENINGS_READ,
    AdverseEventRow,
    AssessmentRow,
    ConsentRow,
    CourseHistory,
    CourseSpan,
    Exposure,
    ImagingRow,
    InfusionRow,
    LabRow,
    MedicationRow,
    ReactionRow,
    RegimenRow,
    ScreeningRow,
    VaccinationRow,
    attached_course,
)
from monitoring.models import (
    ACKNOWLEDGED_PAST_FACT,
    ACTIONABLE_STATUSES,
    CLEARS_ON_STOP_RULES,
    CONDITION_CLEARED,
    COURSE_STOPPED,
    GUIDELINE_UPDATED,
    LIVE_STATUSES,
    OUT_OF_SCOPE,
    PAST_FACT_RULES,
    REGIMEN_CHANGED,
    Alert,
    AlertEvent,
    AlertEventKind,
    AlertStatus,
    CourseEvaluation,
    EvaluationRun,
    RunStatus,
    SiteGuideline,
)
from registry.models import (
    AdverseEvent,
    ClinicalAssessment,
    Consent,
    ImagingStudy,
    Infusion,
    InfusionReaction,
    LabResult,
    Medication,
    RegimenChange,
    Relapse,
    ScreeningResult,
    Site,
    TreatmentCourse,
    Vaccination,
)
from registry.safety_codes import (
    LIVE_VACCINES,
    SPECIAL_INTEREST_TERMS,
    AdverseEventTerm,
    SpecialInterest,
    special_interest,
)

logger = logging.getLogger(__name__)


# --- Scope and parameters ------------------------------------------------------------------------


def site_guidelines() -> dict[str, Guideline]:
    """Each site's effective parameters, by site code (sites without overrides use the default)."""
    return {row.site.code: row.effective() for row in SiteGuideline.objects.select_related("site")}


def scope_days(guideline: Guideline) -> int:
    """How many days after its stop a course stays in scope: the relapse watch, or until the last
    post-stop visit's window closes if that is later (GUIDELINE.md, post_stop_visits_days)."""
    visits = guideline.post_stop_visit_days
    last_window_closes = max(visits) + guideline.post_stop_visit_window_days if visits else 0
    return max(guideline.post_stop_watch_days, last_window_closes)


def courses_in_scope(as_of: dt.date, site: Site | None = None) -> QuerySet[TreatmentCourse]:
    """Courses started by `as_of` and not stopped, or stopped at most `scope_days` of their site's
    guideline before it (so the 24-month visit is watched until its window closes)."""
    default_days = scope_days(DEFAULT)
    other_days: dict[int, list[int]] = defaultdict(list)  # days → sites whose days differ
    for row in SiteGuideline.objects.all():
        days = scope_days(row.effective())
        if days != default_days:
            other_days[days].append(row.site_id)

    def stopped_since(days: int) -> Q:
        return Q(stopped_on__gte=as_of - dt.timedelta(days=days))

    others = [site_id for site_ids in other_days.values() for site_id in site_ids]
    watched = stopped_since(default_days)
    if others:
        watched &= ~Q(patient__site_id__in=others)
    for days, site_ids in other_days.items():
        watched |= Q(patient__site_id__in=site_ids) & stopped_since(days)
    courses = TreatmentCourse.objects.filter(started_on__lte=as_of).filter(
        Q(stopped_on__isnull=True) | watched
    )
    if site is not None:
        courses = courses.filter(patient__site=site)
    return courses.order_by("pk")


# The engine's own revision: a deploy that changes a rule or a default evaluates every course again
# the next night, as a change of a site's parameters does (its guideline version changes).
ENGINE_REVISION = hashlib.sha256(
    b"".join(path.read_bytes() for path in sorted(Path(engine.__file__).parent.glob("*.py")))
).hexdigest()[:12]


def guideline_mark(guideline: Guideline) -> str:
    """What a course's evaluation ran: the guideline's version (site overrides included) and the
    engine's revision. A course evaluated under another mark is due again."""
    return f"{guideline.version}@{ENGINE_REVISION}"


def courses_due(as_of: dt.date, site: Site | None = None) -> QuerySet[TreatmentCourse]:
    """The courses in scope whose stored evaluation no longer stands on `as_of`: never evaluated;
    the patient's record changed since (its version moved); their site's guideline or the engine
    changed; their horizon (`reevaluate_on`) has come; or last evaluated for a later day."""
    marks: dict[str, list[int]] = defaultdict(list)  # guideline mark → sites that run it
    overridden = []
    for row in SiteGuideline.objects.all():
        marks[guideline_mark(row.effective())].append(row.site_id)
        overridden.append(row.site_id)
    stale_guideline = ~Q(patient__site_id__in=overridden) & ~Q(
        evaluation__guideline=guideline_mark(DEFAULT)
    )
    for mark, site_ids in marks.items():
        stale_guideline |= Q(patient__site_id__in=site_ids) & ~Q(evaluation__guideline=mark)
    return (
        courses_in_scope(as_of, site)
        .alias(seen_version=Coalesce("patient__record_version__version", 0))
        .filter(
            Q(evaluation__isnull=True)
            | Q(evaluation__reevaluate_on__lte=as_of)
            | Q(evaluation__as_of__gt=as_of)
            | ~Q(evaluation__record_version=F("seen_version"))
            | stale_guideline
        )
    )


def chunked(ids: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


# --- Loading -----------------------------------------------------------------------------------


def _fetch(queryset: QuerySet[Any]) -> Iterable[tuple[Any, ...]]:
    """The rows of a values_list queryset. On PostgreSQL, psycopg already returns dates,
    decimals and booleans as Python values, so Django's per-row conversion (two thirds of the
    loading time) is skipped; other databases go through the ORM."""
    if connection.vendor != "postgresql":
        return queryset
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:  # an empty `__in` list: Django knows there is nothing to read
        return []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


class _AnyOf(Func):
    """`column = ANY(%s::bigint[])` with the ids as one array literal: for thousands of ids,
    Django's `IN (%s, %s, …)` costs more to build, to send and for the server to parse than the
    rows, and psycopg's list dumper checks every element (the ids are the database's own ints)."""

    output_field = BooleanField()

    def __init__(self, column: str, ids: Sequence[int]) -> None:
        super().__init__(F(column))
        self.ids = list(ids)

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **extra: Any) -> Any:
        column, params = compiler.compile(self.source_expressions[0])
        literal = "{" + ",".join(str(int(pk)) for pk in self.ids) + "}"
        return f"{column} = ANY(%s::bigint[])", (*params, literal)


def _among(column: str, ids: Sequence[int]) -> Q | _AnyOf:
    """The rows whose `column` is one of `ids` (an array parameter on PostgreSQL)."""
    if connection.vendor == "postgresql":
        return _AnyOf(column, ids)
    return Q(**{f"{column}__in": list(ids)})


def _columns(row_type: Any) -> list[str]:
    """The model columns of an engine row: its fields carry the model's names (`id`: the pk)."""
    return ["pk" if f.name == "id" else f.name for f in dataclasses.fields(row_type)]


def _group(queryset: QuerySet[Any], owner: str, row_type: Any) -> dict[int, list[Any]]:
    """The rows of `queryset` as `row_type`, grouped by the `owner` column. The columns are picked
    by the row's field names, in its field order, so each value lands in its namesake field."""
    grouped: dict[int, list[Any]] = defaultdict(list)
    for row in _fetch(queryset.values_list(owner, *_columns(row_type))):
        grouped[row[0]].append(row_type(*row[1:]))
    return grouped


def _dates(queryset: QuerySet[Any], owner: str, date_field: str) -> dict[int, list[dt.date]]:
    grouped: dict[int, list[dt.date]] = defaultdict(list)
    for owner_id, day in _fetch(queryset.order_by(date_field).values_list(owner, date_field)):
        grouped[owner_id].append(day)
    return grouped


def load_histories(course_ids: Sequence[int]) -> list[CourseHistory]:
    """The plain histories of these courses, with the exposure of their patients' other courses,
    in fourteen queries whatever their number."""
    courses = list(
        TreatmentCourse.objects.filter(pk__in=course_ids)
        .order_by("pk")
        .values_list(
            "pk",
            "patient_id",
            "patient__registry_code",
            "patient__site__code",
            "started_on",
            "planned_dose_mg_per_kg",
            "induction_weeks",
            "maintenance_interval_weeks",
            "stopped_on",
            "stop_reason",
            "patient__date_of_birth",
        )
    )
    ids = [row[0] for row in courses]
    patient_ids = list({row[1] for row in courses})
    by_patient = _among("patient_id", patient_ids)
    # Every course of these patients: their starts, and the exposure across courses.
    patient_of: dict[int, int] = {}
    course_starts: dict[int, list[dt.date]] = defaultdict(list)
    spans: dict[int, list[CourseSpan]] = defaultdict(list)
    for course_id, patient_id, started_on, course_stopped_on in _fetch(
        TreatmentCourse.objects.filter(by_patient)
        .order_by("started_on")
        .values_list("pk", "patient_id", "started_on", "stopped_on")
    ):
        patient_of[course_id] = patient_id
        course_starts[patient_id].append(started_on)
        spans[patient_id].append(CourseSpan(course_id, started_on, course_stopped_on))
    every_course = _among("course_id", list(patient_of))
    infusions: dict[int, list[InfusionRow]] = defaultdict(list)
    for course_id, rows in _group(
        Infusion.objects.filter(every_course).order_by("given_on", "pk"), "course_id", InfusionRow
    ).items():
        infusions[patient_of[course_id]].extend(rows)
    for rows in infusions.values():
        rows.sort(key=lambda row: (row.given_on, row.id))
    reactions: dict[int, list[ReactionRow]] = defaultdict(list)
    for course_id, rows in _group(
        InfusionReaction.objects.filter(_among("infusion__course_id", list(patient_of))).order_by(
            "pk"
        ),
        "infusion__course_id",
        ReactionRow,
    ).items():
        reactions[patient_of[course_id]].extend(rows)
    regimens = _group(
        RegimenChange.objects.filter(_among("course_id", ids)).order_by("effective_on"),
        "course_id",
        RegimenRow,
    )
    labs = _group(
        LabResult.objects.filter(by_patient).order_by("collected_on", "pk"), "patient_id", LabRow
    )
    imaging = _group(
        ImagingStudy.objects.filter(by_patient).order_by("performed_on", "pk"),
        "patient_id",
        ImagingRow,
    )
    assessments = _group(
        ClinicalAssessment.objects.filter(by_patient).order_by("assessed_on", "pk"),
        "patient_id",
        AssessmentRow,
    )
    relapses = _dates(Relapse.objects.filter(_among("course_id", ids)), "course_id", "noted_on")
    medications = _group(
        Medication.objects.filter(by_patient, drug__in=sorted(MEDICATIONS_READ)).order_by(
            "started_on", "pk"
        ),
        "patient_id",
        MedicationRow,
    )
    screenings = _group(
        ScreeningResult.objects.filter(by_patient, test__in=sorted(SCREENINGS_READ)).order_by(
            "tested_on", "pk"
        ),
        "patient_id",
        ScreeningRow,
    )
    live_vaccinations = _group(
        Vaccination.objects.filter(by_patient, vaccine__in=sorted(LIVE_VACCINES)).order_by(
            "given_on", "pk"
        ),
        "patient_id",
        VaccinationRow,
    )
    events = _events_by_course(by_patient, spans)
    consents = _group(
        Consent.objects.filter(by_patient).order_by("given_on", "pk"), "patient_id", ConsentRow
    )

    histories = []
    for (pk, patient_id, code, site_code, started_on, dose, weeks, interval, stopped_on,
         stop_reason, born_on) in courses:  # fmt: skip
        patient_infusions = infusions[patient_id]
        own = tuple(i for i in patient_infusions if i.course_id == pk)
        own_ids = {i.id for i in own}
        patient_reactions = reactions[patient_id]
        later_starts = [start for start in course_starts[patient_id] if start > started_on]
        histories.append(
            CourseHistory(
                course_id=pk,
                patient_code=code,
                site_code=site_code,
                started_on=started_on,
                planned_dose_mg_per_kg=dose,
                induction_weeks=tuple(weeks),
                maintenance_interval_weeks=interval,
                stopped_on=stopped_on,
                stop_reason=stop_reason,
                infusions=own,
                regimen_changes=tuple(regimens[pk]),
                labs=tuple(labs[patient_id]),
                imaging=tuple(imaging[patient_id]),
                assessments=tuple(assessments[patient_id]),
                reactions=tuple(r for r in patient_reactions if r.infusion_id in own_ids),
                relapses_noted_on=tuple(relapses[pk]),
                medications=tuple(medications[patient_id]),
                screenings=tuple(screenings[patient_id]),
                live_vaccinations=tuple(live_vaccinations[patient_id]),
                adverse_events=tuple(events[pk]),
                next_course_started_on=min(later_starts, default=None),
                exposure=Exposure(
                    infusions=tuple(i for i in patient_infusions if i.course_id != pk),
                    reactions=tuple(r for r in patient_reactions if r.infusion_id not in own_ids),
                ),
                patient_born_on=born_on,
                consents=tuple(consents[patient_id]),
            )
        )
    return histories


_EVENT_COLUMNS = ("pk", "onset_on", "term", "serious", "reviewed_on", "review_decision")


def _events_by_course(
    by_patient: Q | _AnyOf, spans: dict[int, list[CourseSpan]]
) -> dict[int, list[AdverseEventRow]]:
    """The adverse events that need a clinician's review (serious, or of special interest: the
    record's AWAITING_REVIEW, reviewed ones included, so a history cut before the review still
    sees them), each on the one course `attached_course` picks, by onset."""
    by_course: dict[int, list[AdverseEventRow]] = defaultdict(list)
    needing_review = AdverseEvent.objects.filter(
        Q(serious=True) | Q(term__in=SPECIAL_INTEREST_TERMS), by_patient
    ).order_by("onset_on", "pk")
    for row in _fetch(needing_review.values_list("patient_id", "course_id", *_EVENT_COLUMNS)):
        patient_id, course_id, pk, onset_on, term, serious, reviewed_on, decision = row
        course = attached_course(course_id, onset_on, tuple(spans[patient_id]))
        if course is None:
            continue  # no course at all: nothing to raise it on
        by_course[course].append(
            AdverseEventRow(
                id=pk,
                onset_on=onset_on,
                term=term,
                serious=serious,
                reviewed_on=reviewed_on,
                review_decision=decision,
                term_label=str(AdverseEventTerm(term).label).replace(" (name it)", ""),
                special_interest=tuple(
                    str(SpecialInterest(kind).label).lower()
                    for kind in special_interest(term, serious=serious)
                ),
            )
        )
    return by_course


# --- Reconciling ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    courses: int = 0
    findings: int = 0
    opened: int = 0
    refreshed: int = 0
    resolved: int = 0
    by_rule: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    resolved_by_reason: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, other: Outcome) -> None:
        for name in ("courses", "findings", "opened", "refreshed", "resolved"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for rule_id, n in other.by_rule.items():
            self.by_rule[rule_id] += n
        for reason, n in other.resolved_by_reason.items():
            self.resolved_by_reason[reason] += n

    @classmethod
    def left_scope(cls, resolved: int) -> Outcome:
        """The outcome of resolving `resolved` alerts of courses that left the scope."""
        outcome = cls(resolved=resolved)
        if resolved:
            outcome.resolved_by_reason[OUT_OF_SCOPE] = resolved
        return outcome


_REFRESHED_FIELDS = [
    "severity",
    "title",
    "explanation",
    "evidence",
    "due_on",
    "last_seen_at",
    "guideline_version",
]


def _new_alert(course_id: int, finding: Finding, version: str, now: dt.datetime) -> Alert:
    return Alert(
        course_id=course_id,
        rule=finding.rule_id,
        key=finding.key,
        severity=finding.severity.value,
        title=finding.title,
        explanation=finding.explanation,
        evidence=finding.evidence,
        due_on=finding.due_on,
        first_raised_at=now,
        last_seen_at=now,
        guideline_version=version,
    )


def _event(
    alert: Alert,
    kind: str,
    to_status: str,
    now: dt.datetime,
    note: str = "",
    actor_id: int | None = None,
) -> AlertEvent:
    """The event of a transition of `alert` (call it before changing the alert's status)."""
    from_status = "" if kind == AlertEventKind.RAISED else alert.status
    return AlertEvent(
        alert=alert,
        at=now,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        note=note,
        actor_id=actor_id,
    )


def _why_cleared(
    alert: Alert, stopped: bool, version: str, regimen_moved_due: bool
) -> tuple[str, str]:
    """(resolution reason, event note) of a live alert whose finding is gone."""
    if stopped and alert.rule in CLEARS_ON_STOP_RULES:
        return COURSE_STOPPED, COURSE_STOPPED
    if alert.guideline_version != version:
        return GUIDELINE_UPDATED, f"{GUIDELINE_UPDATED} ({alert.guideline_version} → {version})"
    if regimen_moved_due and alert.rule == "maintenance_dose_overdue":
        return REGIMEN_CHANGED, REGIMEN_CHANGED
    return CONDITION_CLEARED, CONDITION_CLEARED


def reconcile(
    findings_by_course: dict[int, tuple[str, list[Finding]]],
    now: dt.datetime,
    actor_id: int | None = None,
    stopped: Collection[int] = (),
    regimen_moved_due: Collection[int] = (),
) -> Outcome:
    """Make the live alerts of these courses match their findings: {course: (version, findings)}.

    `stopped`: the courses stopped by the evaluation date. Their rules that GUIDELINE.md clears on
    stop ("clears when … course stopped") raise nothing, and their live alerts resolve with the
    reason "course stopped". Another alert whose finding is gone resolves with "guideline updated"
    if it was raised under another version than the course's now, else "condition cleared".
    `regimen_moved_due`: the courses whose next dose a regimen change decided after the last
    infusion moved; their overdue alert that is gone resolves with "regimen changed".
    `actor_id`: the person whose change to the record caused this evaluation; the events it
    writes name them (the nightly run has none: the registry itself acts).
    """
    stopped, regimen_moved_due = frozenset(stopped), frozenset(regimen_moved_due)
    outcome = Outcome(courses=len(findings_by_course))
    live = {
        (alert.course_id, alert.rule, alert.key): alert
        for alert in Alert.objects.filter(
            course_id__in=list(findings_by_course), status__in=LIVE_STATUSES
        )
    }
    closed_for_good = set(
        Alert.objects.filter(
            course_id__in=list(findings_by_course),
            rule__in=PAST_FACT_RULES,
            status=AlertStatus.RESOLVED,
            resolution_reason__startswith=ACKNOWLEDGED_PAST_FACT,
        ).values_list("course_id", "rule", "key")
    )
    new: list[Alert] = []
    seen_again: list[int] = []  # unchanged: only last_seen_at moves
    changed: list[Alert] = []
    events: list[AlertEvent] = []
    seen = set()
    for course_id, (version, findings) in findings_by_course.items():
        for finding in findings:
            if course_id in stopped and finding.rule_id in CLEARS_ON_STOP_RULES:
                continue  # cleared by the stop: it resolves below if it was raised
            outcome.findings += 1
            outcome.by_rule[finding.rule_id] += 1
            key = (course_id, finding.rule_id, finding.key)
            seen.add(key)
            if key in closed_for_good:
                continue
            alert = live.get(key)
            if alert is None:
                new.append(_new_alert(course_id, finding, version, now))
                continue
            if alert.status == AlertStatus.DISMISSED:
                continue  # dismissed stays dismissed for this key
            fresh = (
                finding.severity.value,
                finding.title,
                finding.explanation,
                finding.evidence,
                finding.due_on,
                version,
            )
            stored = (
                alert.severity,
                alert.title,
                alert.explanation,
                alert.evidence,
                alert.due_on,
                alert.guideline_version,
            )
            if fresh == stored:
                seen_again.append(alert.pk)
                continue
            if alert.severity != finding.severity.value:
                events.append(
                    _event(
                        alert,
                        AlertEventKind.ESCALATED,
                        alert.status,
                        now,
                        f"{alert.severity} → {finding.severity.value}",
                        actor_id,
                    )
                )
            (
                alert.severity,
                alert.title,
                alert.explanation,
                alert.evidence,
                alert.due_on,
                alert.guideline_version,
            ) = fresh
            alert.last_seen_at = now
            changed.append(alert)
    cleared = [
        alert
        for key, alert in live.items()
        if key not in seen and alert.status in ACTIONABLE_STATUSES
    ]
    for alert in cleared:
        version = findings_by_course[alert.course_id][0]
        reason, note = _why_cleared(
            alert, alert.course_id in stopped, version, alert.course_id in regimen_moved_due
        )
        events.append(
            _event(alert, AlertEventKind.RESOLVED, AlertStatus.RESOLVED, now, note, actor_id)
        )
        alert.status, alert.resolved_at = AlertStatus.RESOLVED, now
        alert.resolution_reason = reason
        outcome.resolved_by_reason[reason] += 1

    Alert.objects.bulk_create(new)
    events += [
        _event(alert, AlertEventKind.RAISED, AlertStatus.OPEN, now, actor_id=actor_id)
        for alert in new
    ]
    # Most alerts are unchanged night to night: one UPDATE moves their last_seen_at, and only
    # the changed ones pay for bulk_update's per-row CASE expressions.
    Alert.objects.filter(pk__in=seen_again).update(last_seen_at=now)
    Alert.objects.bulk_update(changed, _REFRESHED_FIELDS)
    Alert.objects.bulk_update(cleared, ["status", "resolved_at", "resolution_reason"])
    AlertEvent.objects.bulk_create(events)
    outcome.opened, outcome.resolved = len(new), len(cleared)
    outcome.refreshed = len(seen_again) + len(changed)
    return outcome


def evaluate_courses(
    course_ids: Sequence[int], as_of: dt.date, actor_id: int | None = None
) -> Outcome:
    """Evaluate and reconcile one chunk of courses, atomically, and store what each evaluation
    saw. The record versions are read with the lock, before the data: a change committed while
    the chunk reads is then newer than the version stored, and the next run takes it."""
    guidelines = site_guidelines()
    with transaction.atomic():
        versions = dict(
            TreatmentCourse.objects.select_for_update(of=("self",))
            .filter(pk__in=list(course_ids))
            .order_by("pk")
            .values_list("pk", Coalesce("patient__record_version__version", 0))
        )
        now = timezone.now()
        findings_by_course = {}
        stopped, regimen_moved_due = set(), set()
        evaluations = []
        # Each guideline's version and mark, once per chunk rather than once per course.
        versions_of = {
            code: (g.version, guideline_mark(g)) for code, g in {"": DEFAULT, **guidelines}.items()
        }
        for history in load_histories(list(versions)):
            site_code = history.site_code if history.site_code in guidelines else ""
            guideline = guidelines.get(site_code, DEFAULT)
            version, mark = versions_of[site_code]
            verdict = evaluate_course(history, as_of, guideline)
            findings_by_course[history.course_id] = (version, verdict.findings)
            if verdict.stopped:
                stopped.add(history.course_id)
            if verdict.regimen_moved_due:
                regimen_moved_due.add(history.course_id)
            evaluations.append(
                CourseEvaluation(
                    course_id=history.course_id,
                    as_of=as_of,
                    reevaluate_on=verdict.reevaluate_on,
                    record_version=versions[history.course_id],
                    guideline=mark,
                    evaluated_at=now,
                )
            )
        outcome = reconcile(findings_by_course, now, actor_id, stopped, regimen_moved_due)
        CourseEvaluation.objects.bulk_create(
            evaluations,
            update_conflicts=True,
            unique_fields=["course"],
            update_fields=["as_of", "reevaluate_on", "record_version", "guideline", "evaluated_at"],
        )
        return outcome


def evaluate_patient(patient_id: int, actor_id: int | None = None) -> Outcome:
    """Evaluate a patient's courses in scope today (after a change to their record), and resolve
    the alerts of their courses that left the scope."""
    today = timezone.localdate()
    ids = list(courses_in_scope(today).filter(patient_id=patient_id).values_list("pk", flat=True))
    with transaction.atomic():
        outcome = evaluate_courses(ids, today, actor_id) if ids else Outcome()
        left = resolve_out_of_scope(today, patient_id=patient_id, actor_id=actor_id)
    outcome.add(Outcome.left_scope(left))
    return outcome


@transaction.atomic
def resolve_out_of_scope(
    as_of: dt.date,
    *,
    site: Site | None = None,
    patient_id: int | None = None,
    actor_id: int | None = None,
) -> int:
    """The open and acknowledged alerts of courses out of scope on `as_of` (of all courses, of a
    site's or of a patient's) resolve as "out of monitoring scope"; returns how many. Dismissed
    alerts stay dismissed. Locks the courses first, as a chunk does, then their alerts: a constant
    number of queries whatever the number of alerts."""
    now = timezone.now()
    in_scope = courses_in_scope(as_of).values("pk")
    stale = Alert.objects.filter(status__in=ACTIONABLE_STATUSES).exclude(course__in=in_scope)
    if site is not None:
        stale = stale.filter(course__patient__site=site)
    if patient_id is not None:
        stale = stale.filter(course__patient_id=patient_id)
    locked = list(
        TreatmentCourse.objects.select_for_update()
        .filter(pk__in=stale.values("course_id"))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not locked:
        return 0
    alerts = list(stale.filter(course_id__in=locked).select_for_update(of=("self",)))
    AlertEvent.objects.bulk_create(
        [
            _event(a, AlertEventKind.RESOLVED, AlertStatus.RESOLVED, now, OUT_OF_SCOPE, actor_id)
            for a in alerts
        ]
    )
    return Alert.objects.filter(pk__in=[a.pk for a in alerts]).update(
        status=AlertStatus.RESOLVED, resolved_at=now, resolution_reason=OUT_OF_SCOPE
    )


# --- Runs --------------------------------------------------------------------------------------


def record_chunk(run_id: int, outcome: Outcome, chunks: int = 1) -> None:
    """Add a chunk's counts to its run (concurrent chunks add atomically in the database)."""
    EvaluationRun.objects.filter(pk=run_id).update(
        chunks_done=F("chunks_done") + chunks,
        courses=F("courses") + outcome.courses,
        findings=F("findings") + outcome.findings,
        opened=F("opened") + outcome.opened,
        refreshed=F("refreshed") + outcome.refreshed,
        resolved=F("resolved") + outcome.resolved,
    )


def finish_run(run_id: int, status: str = RunStatus.DONE) -> EvaluationRun:
    run = EvaluationRun.objects.get(pk=run_id)
    run.status, run.finished_at = status, timezone.now()
    run.duration_ms = int((run.finished_at - run.started_at).total_seconds() * 1000)
    run.save(update_fields=["status", "finished_at", "duration_ms"])
    return run


def courses_to_evaluate(
    as_of: dt.date, site: Site | None = None, *, full: bool
) -> tuple[list[int], int]:
    """The ids of the courses a run evaluates (every one in scope if `full`, else those due),
    and how many in scope it leaves alone."""
    in_scope = courses_in_scope(as_of, site)
    if full:
        return list(in_scope.values_list("pk", flat=True)), 0
    due = list(courses_due(as_of, site).values_list("pk", flat=True))
    return due, in_scope.count() - len(due)


def run_evaluation(
    *,
    as_of: dt.date,
    kind: str = "command",
    site: Site | None = None,
    chunk_size: int = 500,
    full: bool = False,
) -> tuple[EvaluationRun, Outcome]:
    """Evaluate the courses due (every course in scope if `full`) synchronously, chunk by chunk
    (the command's path), then resolve the alerts of the courses (of `site`, if given) that left
    the scope."""
    started = time.monotonic()
    course_ids, skipped = courses_to_evaluate(as_of, site, full=full)
    chunks = list(chunked(course_ids, chunk_size))
    run = EvaluationRun.objects.create(
        kind=kind, as_of=as_of, site=site, chunks_total=len(chunks), full=full, skipped=skipped
    )
    total = Outcome()
    for chunk in chunks:
        outcome = evaluate_courses(chunk, as_of)
        record_chunk(run.pk, outcome)
        total.add(outcome)
    # A site's run resolves the alerts of its own courses that left the scope.
    left = Outcome.left_scope(resolve_out_of_scope(as_of, site=site))
    record_chunk(run.pk, left, chunks=0)
    total.add(left)
    run = finish_run(run.pk)
    logger.info(
        "evaluation %s as of %s (%s): %d courses (%d left alone), %d findings, %d opened, "
        "%d resolved in %.1fs",
        run.pk,
        as_of,
        "full" if full else "incremental",
        total.courses,
        skipped,
        total.findings,
        total.opened,
        total.resolved,
        time.monotonic() - started,
    )
    return run, total
