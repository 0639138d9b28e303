"""The outcomes page's figures: the clinic's own relapse, reaction, response and adherence figures
beside the claims the source document treats by, with honest intervals.

Every figure reads stored rows in a few SQL queries — the course outcomes the nightly refresh
computed with the exports' own code (`research.outcome_snapshots`) and, for reactions, the
infusions and reactions themselves — so the page costs the same for 20 patients or 20,000. Each
figure says what it counts and how many patients and courses it rests on. For a researcher (the
aggregates only) the patients are those with research use in force today, as for an export, and
every cell that rests on fewer than 5 patients is suppressed (research.deidentify's threshold).
"""

from __future__ import annotations

import datetime as dt
import statistics as stats
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet

from registry.models import (
    Infusion,
    InfusionReaction,
    Patient,
    ReactionOnset,
    ReactionSeverity,
    StopReason,
    TreatmentCourse,
)
from registry.selectors import with_consent_in_force
from research.deidentify import GATING_SCOPE, SMALL_CELL_PATIENTS
from research.models import CourseOutcomeSnapshot
from research.outcomes import MONTH_3, MONTH_12, PEDCNO_LEVELS, RELAPSE
from research.statistics import Interval, KaplanMeier, Step, at_risk, kaplan_meier, wilson

SUPPRESSED = f"< {SMALL_CELL_PATIENTS}"
MONTH = 30.4375  # days: the curve's axis and its table are in months
CURVE_MONTHS = (0, 3, 6, 9, 12, 18, 24, 36)
# The source document's claims (GUIDELINE.md, shared/seed): relapse after stopping, reactions.
SOURCE_RELAPSE = (0.30, 0.40)
SOURCE_REACTIONS = 0.015
# Cheifetz A et al. Am J Gastroenterol 2003;98:1315–24: 165 patients, 479 infusions; reactions in
# 6.1 % of infusions — mild 3.1 %, moderate 1.2 %, severe 1.0 % (the rest not graded).
CHEIFETZ = {"all": 0.061, "mild": 0.031, "moderate": 0.012, "severe": 0.010}


@dataclass(frozen=True)
class Scope:
    """Whose figures: courses of these sites' patients (a researcher's: with research use in force
    on `as_of`); `start`–`end` bounds each figure's own date (its note says which)."""

    site_ids: frozenset[int]
    as_of: dt.date
    start: dt.date | None = None
    end: dt.date | None = None
    aggregates_only: bool = False

    def within(self, path: str) -> Q:
        q = Q()
        if self.start:
            q &= Q(**{f"{path}__gte": self.start})
        if self.end:
            q &= Q(**{f"{path}__lte": self.end})
        return q

    def patients(self) -> QuerySet[Patient]:
        patients = Patient.objects.filter(site_id__in=self.site_ids)
        if self.aggregates_only:
            patients = with_consent_in_force(patients, GATING_SCOPE, self.as_of)
        return patients


@dataclass
class Table:
    slug: str
    caption: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)


@dataclass
class Figure:
    slug: str
    title: str
    how_counted: str
    basis: str  # "rests on N patients and M courses"
    tables: list[Table]
    chart: dict[str, Any] | None = None
    headline: list[tuple[str, str]] = field(default_factory=list)  # (label, value) pairs
    suppressed: bool = False  # too few patients to show anything to a researcher

    @property
    def chart_id(self) -> str:
        return f"{self.slug}-data"


def bar(label: str, interval: Interval | None) -> dict[str, Any]:
    """A bar of a rates chart: the estimate and its interval (None: no data)."""
    if interval is None:
        return {"label": label, "value": None}
    return {
        "label": label,
        "value": round(interval.estimate, 4),
        "low": round(interval.low, 4),
        "high": round(interval.high, 4),
    }


def percent(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f} %"


def with_interval(interval: Interval | None) -> str:
    if interval is None:
        return "—"
    return (
        f"{percent(interval.estimate)} (95 % CI {percent(interval.low)}–{percent(interval.high)})"
    )


def _basis(patients: int, courses: int | None = None, infusions: int | None = None) -> str:
    parts = [f"{patients} patient{'s' if patients != 1 else ''}"]
    if courses is not None:
        parts.append(f"{courses} course{'s' if courses != 1 else ''}")
    if infusions is not None:
        parts.append(f"{infusions} infusion{'s' if infusions != 1 else ''}")
    return "Rests on " + ", ".join(parts) + "."


class Cells:
    """A researcher's small-cell rule: a count resting on fewer than 5 patients is shown as "< 5",
    and a rate over it is not shown."""

    def __init__(self, scope: Scope) -> None:
        self.on = scope.aggregates_only

    def small(self, patients: int) -> bool:
        return self.on and 0 < patients < SMALL_CELL_PATIENTS

    def count(self, value: int, patients: int | None = None) -> str:
        return SUPPRESSED if self.small(value if patients is None else patients) else str(value)

    def rate(self, interval: Interval | None, patients: int) -> str:
        return SUPPRESSED if self.small(patients) else with_interval(interval)

    def family(self, patients: Iterable[int]) -> bool:
        """Whether a family of cells that add up to a shown total (the severities, the stop
        reasons) is suppressed whole: one small cell of it could be had by subtraction."""
        return any(self.small(p) for p in patients)


# --- Relapse-free survival after stopping ------------------------------------------------------


@dataclass(frozen=True)
class Stop:
    patient_id: int
    days: int
    relapsed: bool
    reason: str
    tapered: bool


def _stops(scope: Scope) -> list[Stop]:
    rows = CourseOutcomeSnapshot.objects.filter(
        course__patient__in=scope.patients(),
        course__stopped_on__isnull=False,
        relapse_free_days__isnull=False,
    ).filter(scope.within("course__stopped_on"))
    return [
        Stop(patient, days or 0, end == RELAPSE, reason, tapered)
        for patient, days, end, reason, tapered in rows.values_list(
            "course__patient_id",
            "relapse_free_days",
            "relapse_free_end",
            "course__stop_reason",
            "reached_taper",
        )
    ]


class FollowedUp:
    """How many stops, and how many patients, are still followed on a day after the stop: the
    number at risk under a curve, and the count the small-cell rule reads. Sorted once; each day
    is then a binary search."""

    def __init__(self, stops: Sequence[Stop]) -> None:
        self.times = sorted(s.days for s in stops)
        longest: dict[int, int] = {}
        for s in stops:
            longest[s.patient_id] = max(s.days, longest.get(s.patient_id, 0))
        self.patient_times = sorted(longest.values())

    def courses(self, day: int) -> int:
        return at_risk(self.times, day)

    def patients(self, day: int) -> int:
        return at_risk(self.patient_times, day)


def _curve_rows(
    label: str, followed: FollowedUp, km: KaplanMeier | None, cells: Cells
) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for months in CURVE_MONTHS:
        day = round(months * MONTH)
        left = followed.courses(day)
        patients_left = followed.patients(day)
        if km is None or (day > km.last_day and left == 0):
            continue
        step = km.at(day)
        shown = not cells.small(patients_left) or months == 0
        rows.append(
            (
                label,
                str(months),
                cells.count(left, patients_left),
                percent(1 - step.survival) if shown else SUPPRESSED,
                _relapsed_interval(step) if shown else SUPPRESSED,
            )
        )
    return rows


def _relapsed_interval(step: Step) -> str:
    """The band as the share relapsed; none before the first relapse (no variance to show)."""
    if step.survival >= 1:
        return "—"
    return f"{percent(1 - step.high)}–{percent(1 - step.low)}"


def _curve_points(km: KaplanMeier, followed: FollowedUp, cells: Cells) -> list[dict[str, Any]]:
    """The steps as points in months (a researcher's curve stops where fewer than 5 patients are
    still followed: its shape there would describe individuals)."""

    def shown(day: int) -> bool:
        return not (day and cells.small(followed.patients(day)))

    def point(day: int, step: Step) -> dict[str, Any]:
        return {
            "x": round(day / MONTH, 2),
            "y": round(step.survival, 4),
            "low": round(step.low, 4),
            "high": round(step.high, 4),
        }

    points: list[dict[str, Any]] = []
    for step in km.steps:
        if not shown(step.day):
            return points
        points.append(point(step.day, step))
    # Flat after the last relapse until the longest follow-up (censored times draw no step).
    longest = followed.times[-1]
    if longest > km.last_day and shown(longest):
        points.append(point(longest, km.steps[-1]))
    return points


def _groups(stops: Sequence[Stop]) -> list[tuple[str, list[Stop], str]]:
    """(label, its stops, its family: the groups of one split add up to all stops)."""
    groups: list[tuple[str, list[Stop], str]] = [("All stops", list(stops), "all")]
    for value, label in StopReason.choices:
        chosen = [s for s in stops if s.reason == value]
        if chosen:
            groups.append((f"Stopped: {label.lower()}", chosen, "reason"))
    tapered = [s for s in stops if s.tapered]
    if tapered:
        groups.append(("Tapered before the stop", tapered, "taper"))
    untapered = [s for s in stops if not s.tapered]
    if untapered:
        groups.append(("Stopped without a taper", untapered, "taper"))
    return groups


def relapse_free_survival(scope: Scope) -> Figure:
    stops = _stops(scope)
    cells = Cells(scope)
    patients = len({s.patient_id for s in stops})
    table = Table(
        "relapse-free-survival",
        "Relapse after stopping: the share relapsed (1 - Kaplan–Meier) by months since the stop, "
        "with its 95 % confidence interval and the number still followed",
        ("Group", "Months since the stop", "Still followed", "Relapsed", "95 % CI"),
    )
    datasets: list[dict[str, Any]] = []
    headline: list[tuple[str, str]] = []
    groups = _groups(stops)
    suppressed_families = {
        family
        for family in ("reason", "taper")
        if cells.family(len({s.patient_id for s in g}) for _l, g, f in groups if f == family)
    }
    for label, group, family in groups:
        group_patients = len({s.patient_id for s in group})
        if cells.small(group_patients) or family in suppressed_families:
            table.rows.append((label, "—", SUPPRESSED, SUPPRESSED, SUPPRESSED))
            continue
        km = kaplan_meier([s.days for s in group], [s.relapsed for s in group])
        followed = FollowedUp(group)
        table.rows.extend(_curve_rows(label, followed, km, cells))
        if km is None:
            continue
        if label == "All stops":
            for months in (12, 24):
                day = round(months * MONTH)
                left = followed.patients(day)
                step = km.at(day)
                value = (
                    "not estimable yet: no stop followed this long"
                    if left == 0
                    else SUPPRESSED
                    if cells.small(left)
                    else (
                        f"{percent(1 - step.survival)} (95 % CI {percent(1 - step.high)}–"
                        f"{percent(1 - step.low)}; {left} still followed)"
                    )
                )
                headline.append((f"Relapsed by {months} months", value))
        # The band of the whole cohort only: six overlapping bands would hide the curves.
        datasets.append(
            {
                "label": label,
                "points": _curve_points(km, followed, cells),
                "band": label == "All stops",
            }
        )
    headline.append(("Source document", "about 30–40 % relapse after stopping infliximab"))
    # The number still followed under the curve's axis, as a Kaplan–Meier plot shows it.
    everyone = FollowedUp(stops)
    under_axis = []
    for months in CURVE_MONTHS:
        day = round(months * MONTH)
        left = everyone.patients(day)
        if months and left == 0:
            break
        under_axis.append({"x": months, "n": cells.count(everyone.courses(day), left)})
    return Figure(
        "relapse-free-survival",
        "Relapse-free survival after stopping",
        "Each stopped course of the chosen sites whose stop falls in the date range, followed from "
        "its stop: to the first relapse recorded from the stop on (the event), else censored when "
        "the next course starts without a relapse recorded before it (retreatment), else at the "
        "end of follow-up — the patient's last lab result, imaging study or assessment. "
        "Kaplan–Meier estimate (statsmodels) with a pointwise 95 % band (Greenwood's error on the "
        "log(-log) scale). The same definition as the relapse_free_days and relapse_free_end "
        "columns of the research exports' courses table. The source document's 30–40 % has no "
        "time horizon: compare it with the 12- and 24-month figures.",
        _basis(patients, len(stops)),
        [table],
        chart={
            "kind": "survival",
            "datasets": datasets,
            "reference": SOURCE_RELAPSE,
            "at_risk": under_axis,
        },
        headline=headline,
        suppressed=cells.small(patients) or not stops,
    )


# --- Infusion reactions ---------------------------------------------------------------------------


def reactions(scope: Scope) -> Figure:
    cells = Cells(scope)
    infusions = Infusion.objects.filter(course__patient__in=scope.patients()).filter(
        scope.within("given_on")
    )
    premedicated = (
        Q(premedication_antihistamine=True)
        | Q(premedication_corticosteroid=True)
        | Q(premedication_antipyretic=True)
    )
    reacted = Exists(InfusionReaction.objects.filter(infusion=OuterRef("pk")))
    totals = infusions.annotate(reacted=reacted).aggregate(
        infusions=Count("pk"),
        with_reaction=Count("pk", filter=Q(reacted=True)),
        premedicated=Count("pk", filter=premedicated),
        premedicated_with_reaction=Count("pk", filter=premedicated & Q(reacted=True)),
        patients=Count("course__patient", distinct=True),
        patients_with_reaction=Count("course__patient", filter=Q(reacted=True), distinct=True),
        patients_premedicated_with_reaction=Count(
            "course__patient", filter=premedicated & Q(reacted=True), distinct=True
        ),
        patients_unpremedicated_with_reaction=Count(
            "course__patient", filter=~premedicated & Q(reacted=True), distinct=True
        ),
        courses=Count("course", distinct=True),
    )
    by_kind = (
        InfusionReaction.objects.filter(infusion__in=infusions)
        .values("severity", "onset")
        .annotate(infusions=Count("infusion", distinct=True))
        .annotate(patients=Count("infusion__course__patient", distinct=True))
    )
    severity: Counter[str] = Counter()
    severity_patients: Counter[str] = Counter()
    onset: Counter[str] = Counter()
    onset_patients: Counter[str] = Counter()
    for kind in by_kind:
        severity[kind["severity"]] += kind["infusions"]
        severity_patients[kind["severity"]] += kind["patients"]
        onset[kind["onset"]] += kind["infusions"]
        onset_patients[kind["onset"]] += kind["patients"]
    n = totals["infusions"]
    table = Table(
        "infusion-reactions",
        "Infusion reactions: the share of infusions (and of patients) with a reaction, with 95 % "
        "Wilson intervals, beside the published figures",
        ("Measure", "Count", "Of", "Rate (95 % CI)", "Published"),
    )

    def row(
        label: str, count: int, of: int, patients: int, published: str, *, hide: bool = False
    ) -> None:
        if hide:
            table.rows.append((label, SUPPRESSED, str(of), SUPPRESSED, published))
            return
        table.rows.append(
            (label, cells.count(count, patients), str(of), cells.rate(wilson(count, of), patients),
             published)
        )  # fmt: skip

    severities = cells.family(severity_patients[v] for v in ReactionSeverity.values)
    onsets = cells.family(onset_patients[v] for v in ReactionOnset.values)
    premedications = cells.family(
        (
            totals["patients_premedicated_with_reaction"],
            totals["patients_unpremedicated_with_reaction"],
        )
    )

    row(
        "Infusions with a reaction",
        totals["with_reaction"],
        n,
        totals["patients_with_reaction"],
        f"source {percent(SOURCE_REACTIONS)}; Cheifetz 2003 {percent(CHEIFETZ['all'])}",
    )
    for value, label in ReactionSeverity.choices:
        row(
            f"… {label.lower()}",
            severity[value],
            n,
            severity_patients[value],
            f"Cheifetz 2003 {percent(CHEIFETZ[value])}",
            hide=severities,
        )
    for value, label in ReactionOnset.choices:
        row(f"… onset {label.lower()}", onset[value], n, onset_patients[value], "", hide=onsets)
    row(
        "Patients with a reaction",
        totals["patients_with_reaction"],
        totals["patients"],
        totals["patients_with_reaction"],
        "",
    )
    without = n - totals["premedicated"]
    row(
        "Reactions with premedication",
        totals["premedicated_with_reaction"],
        totals["premedicated"],
        totals["patients_premedicated_with_reaction"],
        "",
        hide=premedications,
    )
    row(
        "Reactions without premedication",
        totals["with_reaction"] - totals["premedicated_with_reaction"],
        without,
        totals["patients_unpremedicated_with_reaction"],
        "",
        hide=premedications,
    )
    clinic = wilson(totals["with_reaction"], n)
    bars = [
        bar("This registry", clinic),
        {"label": "Source document", "value": SOURCE_REACTIONS, "reference": True},
        {"label": "Cheifetz 2003", "value": CHEIFETZ["all"], "reference": True},
    ]
    for value, label in ReactionSeverity.choices:
        shown = None if severities else wilson(severity[value], n)
        bars.append(bar(f"{label} (registry)", shown))
        bars.append({"label": f"{label} (Cheifetz)", "value": CHEIFETZ[value], "reference": True})
    small = cells.small(totals["patients_with_reaction"])
    return Figure(
        "infusion-reactions",
        "Infusion reactions",
        "Every infusion of the chosen sites given in the date range, and the reactions recorded "
        "to it (an infusion with two reactions counts once in the first row; by severity and "
        "onset each reaction counts). Per patient: the patients with at least one reaction of "
        "those who had an infusion. Premedication: an antihistamine, corticosteroid or "
        "antipyretic recorded on the infusion — given because of an earlier reaction, so a "
        "higher rate with premedication is expected, not a failure of it. 95 % Wilson score "
        "intervals (statsmodels).",
        _basis(totals["patients"], totals["courses"], n),
        [table],
        chart=None if small else {"kind": "rates", "bars": bars},
        headline=[
            ("Infusions with a reaction", cells.rate(clinic, totals["patients_with_reaction"])),
            ("Source document", f"{percent(SOURCE_REACTIONS)} (rare)"),
            ("Cheifetz 2003", "6.1 % of infusions: mild 3.1 %, moderate 1.2 %, severe 1.0 %"),
        ],
        suppressed=n == 0,
    )


# --- Response and adherence (the stored course outcomes) ----------------------------------------


def _courses(scope: Scope) -> QuerySet[CourseOutcomeSnapshot]:
    return CourseOutcomeSnapshot.objects.filter(course__patient__in=scope.patients()).filter(
        scope.within("course__started_on")
    )


def _share_rows(
    table: Table,
    label: str,
    values: Iterable[tuple[int, bool]],
    cells: Cells,
) -> Interval | None:
    """One row: of the courses with data, the share for which the flag holds; the interval for
    the chart (None where the row is suppressed)."""
    values = list(values)
    of = len(values)
    yes = [patient for patient, flag in values if flag]
    interval = wilson(len(yes), of)
    table.rows.append(
        (label, cells.count(len(yes), len(set(yes))), str(of), cells.rate(interval, len(set(yes))))
    )
    return None if cells.small(len(set(yes))) else interval


def response(scope: Scope) -> Figure:
    cells = Cells(scope)
    rows = list(
        _courses(scope).values_list(
            "course__patient_id",
            "course__started_on",
            "pedcno_response_3_months",
            "pedcno_response_12_months",
            "inactive_at_12_months",
        )
    )
    table = Table(
        "response",
        "PedCNO response at about 3 and 12 months and disease judged inactive at 12 months: the "
        "share of courses with the data, with 95 % Wilson intervals",
        ("Measure", "Courses", "Of courses with data", "Share (95 % CI)"),
    )
    bars = []
    levels = tuple(reversed(PEDCNO_LEVELS[:-1]))  # PedCNO30, 50, 70: "or better" adds the next
    at_least = {level: set(levels[i:]) for i, level in enumerate(levels)}
    for follow_up, column in ((MONTH_3, 2), (MONTH_12, 3)):
        window = dt.timedelta(days=follow_up.target_day + follow_up.window_days)
        due = [r for r in rows if r[1] + window <= scope.as_of]
        known = [r for r in due if r[column]]
        for level in levels:
            interval = _share_rows(
                table,
                f"{level} or better at {follow_up.label}",
                ((r[0], r[column] in at_least[level]) for r in known),
                cells,
            )
            bars.append(bar(f"{level} at {follow_up.label}", interval))
        missing = {r[0] for r in due if not r[column]}
        table.rows.append(
            (
                f"… insufficient data at {follow_up.label}",
                cells.count(len(due) - len(known), len(missing)),
                str(len(due)),
                "",
            )
        )
    judged = [(r[0], r[4]) for r in rows if r[4] is not None]
    interval = _share_rows(table, "Judged inactive at 12 months", judged, cells)
    bars.append(bar("Inactive at 12 months", interval))
    patients = len({r[0] for r in rows})
    return Figure(
        "response",
        "Response",
        "Courses of the chosen sites started in the date range whose follow-up window has "
        "passed (3 months: day 91 ± 45; 12 months: day 365 ± 60). PedCNO30/50/70 (Beck 2010): at "
        "least 3 of the 5 core variables (ESR, active MRI lesions, physician global, patient "
        "global, CHAQ) improved by 30/50/70 % from the baseline nearest the start, at most one "
        "worse by more than 30 %; fewer than 3 variables measured at both times is insufficient "
        "data and not in the share. Inactive: the clinician's judgement at the assessment nearest "
        "month 12. The same definitions as the research exports' courses table.",
        _basis(patients, len(rows)),
        [table],
        chart=None if cells.small(patients) else {"kind": "rates", "bars": bars},
        suppressed=cells.small(patients) or not rows,
    )


def _median_iqr(values: Sequence[int]) -> str:
    if not values:
        return "—"
    if len(values) < 4:
        return f"median {stats.median(values):.0f}"
    q1, q2, q3 = stats.quantiles(values, n=4)
    return f"median {q2:.0f} (IQR {q1:.0f}–{q3:.0f})"


def adherence(scope: Scope) -> Figure:
    cells = Cells(scope)
    rows = list(
        _courses(scope).values_list(
            "course__patient_id",
            "doses_due",
            "proportion_doses_on_time",
            "longest_gap_days",
            "days_to_taper",
            "course__stopped_on",
            "days_on_treatment",
            "course__stop_reason",
        )
    )
    patients = len({r[0] for r in rows})
    table = Table(
        "adherence",
        "Adherence and course: doses on time, the longest gaps, time to taper, courses stopped "
        "before 12 months and why",
        ("Measure", "Value", "Courses"),
    )
    due = sum(r[1] for r in rows)
    on_time = sum(round((r[2] or 0) * r[1]) for r in rows)
    on_time_patients = len({r[0] for r in rows if r[1]})
    with_doses = sum(1 for r in rows if r[1])
    doses = cells.rate(wilson(on_time, due), on_time_patients)
    table.rows.append(("Doses given on time (of those due)", doses, str(with_doses)))
    gaps = [(r[0], r[3]) for r in rows if r[3] is not None]
    tapers = [(r[0], r[4]) for r in rows if r[4] is not None]
    for label, values in (
        ("Longest gap between infusions (days)", gaps),
        ("Start to the first taper (days)", tapers),
    ):
        shown = (
            SUPPRESSED
            if cells.small(len({p for p, _ in values}))
            else _median_iqr([v for _, v in values])
        )
        table.rows.append((label, shown, str(len(values))))
    stopped = [r for r in rows if r[5] is not None]
    early = [r for r in stopped if r[6] < 365]
    early_count = cells.count(len(early), len({r[0] for r in early}))
    table.rows.append(
        ("Courses stopped before 12 months", early_count, f"of {len(stopped)} stopped")
    )
    reasons: defaultdict[str, list[int]] = defaultdict(list)
    for r in early:
        reasons[r[7]].append(r[0])
    labels = dict(StopReason.choices)
    hidden = cells.family(len(set(who)) for who in reasons.values())
    for reason, who in sorted(reasons.items()):
        shown = SUPPRESSED if hidden else cells.count(len(who), len(set(who)))
        table.rows.append((f"… {labels.get(reason, reason).lower()}", shown, ""))
    return Figure(
        "adherence",
        "Adherence and course",
        "Courses of the chosen sites started in the date range. On time: given no later than the "
        "guideline's grace period after the due date (its schedule, as the alerts use it), pooled "
        "over every dose due. The longest gap: between consecutive infusions of a course. Time "
        "to taper: from the start to the first taper (courses that tapered). Stopped before 12 "
        "months: stop within 365 days of the start, by stop reason.",
        _basis(patients, len(rows)),
        [table],
        suppressed=cells.small(patients) or not rows,
    )


# Each figure by its slug (the slug of its table too), in the page's order.
FIGURES: dict[str, Callable[[Scope], Figure]] = {
    "relapse-free-survival": relapse_free_survival,
    "infusion-reactions": reactions,
    "response": response,
    "adherence": adherence,
}


def figures(scope: Scope) -> list[Figure]:
    return [build(scope) for build in FIGURES.values()]


def computed_as_of(scope: Scope) -> dt.date | None:
    """The day the stored course outcomes were computed for (the oldest of the sites')."""
    oldest = CourseOutcomeSnapshot.objects.filter(
        course__patient__site_id__in=scope.site_ids
    ).aggregate(oldest=Min("as_of"))["oldest"]
    return oldest if isinstance(oldest, dt.date) else None


def courses_without_outcomes(scope: Scope) -> int:
    return (
        TreatmentCourse.objects.filter(patient__site_id__in=scope.site_ids)
        .filter(outcome_snapshot__isnull=True)
        .count()
    )
