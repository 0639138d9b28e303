"""The alerts as the clinic shows them (reads only; acting on one is monitoring.services'): the
worklist's rows and section counts, a patient's open alerts and alert history.

Who did what comes from the alerts' events, loaded for a page of alerts in one query; what a
person may do comes from their roles, read once per request (GUIDELINE.md "Who may act on alerts":
anyone on a site's staff acknowledges; only a clinician dismisses an urgent alert).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Count, Max, Q, QuerySet

from clinic.alert_timing import AlertTiming, alert_timing
from clinic.selectors import SEVERITY_ORDER
from monitoring.models import (
    PAST_FACT_RULES,
    Alert,
    AlertEvent,
    AlertEventKind,
    AlertStatus,
    Severity,
)
from registry import roles
from registry.models import Patient

ACT_ON_ALERTS = "monitoring.change_alert"
URGENT_DISMISS_REFUSAL = "Only a clinician of this site may dismiss an urgent alert."
HISTORY_STATUSES = (AlertStatus.RESOLVED, AlertStatus.DISMISSED, AlertStatus.ACKNOWLEDGED)
# The patient page shows the newest of the history; the alert history page shows it all, paged.
PATIENT_PAGE_HISTORY = 5


def person(user: User | None) -> str:
    """How the clinic names a person: their full name, else their username."""
    if user is None:
        return "registry"
    return user.get_full_name() or user.get_username()


# --- What this person may do -------------------------------------------------------------------


@dataclass(frozen=True)
class AlertActions:
    acknowledge: bool = False
    dismiss: bool = False
    closes_on_acknowledge: bool = False  # a past fact that a clinician's acknowledgement closes
    why_not_dismiss: str = ""  # said where Dismiss is not offered to someone who may act

    @property
    def any(self) -> bool:
        return self.acknowledge or self.dismiss


@dataclass(frozen=True)
class Permissions:
    """The sites where a person acts on alerts, and where they dismiss urgent ones. Only what the
    service would allow is offered; the service still refuses the rest."""

    act_site_ids: frozenset[int]
    clinician_site_ids: frozenset[int]

    @classmethod
    def of(cls, user: User | AnonymousUser) -> Permissions:
        return cls(
            frozenset(roles.sites_where(user, ACT_ON_ALERTS)),
            frozenset(roles.sites_where(user, roles.DISMISS_URGENT_ALERT)),
        )

    def actions(self, alert: Alert) -> AlertActions:
        site_id = alert.course.patient.site_id
        if alert.status not in (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED):
            return AlertActions()
        if site_id not in self.act_site_ids:
            return AlertActions()
        clinician = site_id in self.clinician_site_ids
        dismiss = alert.severity != Severity.URGENT or clinician
        return AlertActions(
            acknowledge=alert.status == AlertStatus.OPEN,
            dismiss=dismiss,
            closes_on_acknowledge=clinician and alert.rule in PAST_FACT_RULES,
            why_not_dismiss="" if dismiss else URGENT_DISMISS_REFUSAL,
        )


# --- One alert, with who acted on it ------------------------------------------------------------


@dataclass(frozen=True)
class EventLine:
    at: dt.datetime
    kind: str
    label: str
    who: str  # a person's name; "registry" for the engine (after whose change, if one caused it)
    note: str


def _event_line(event: AlertEvent) -> EventLine:
    if event.kind in (AlertEventKind.ACKNOWLEDGED, AlertEventKind.DISMISSED):
        who = person(event.actor)
    else:  # the engine's transitions: the actor is whose change to the record caused them
        who = "registry" + (f", after a change by {person(event.actor)}" if event.actor else "")
    label = event.get_kind_display()
    if event.kind == AlertEventKind.ACKNOWLEDGED and event.to_status == AlertStatus.RESOLVED:
        label = "Acknowledged and closed"  # a past fact, acknowledged by a clinician
    return EventLine(event.at, event.kind, label, who, event.note)


@dataclass(frozen=True)
class AlertItem:
    alert: Alert
    timing: AlertTiming
    actions: AlertActions = AlertActions()
    events: list[EventLine] = field(default_factory=list)  # oldest first

    def _latest(self, kind: str) -> EventLine | None:
        return next((e for e in reversed(self.events) if e.kind == kind), None)

    @property
    def acknowledged(self) -> EventLine | None:
        return self._latest(AlertEventKind.ACKNOWLEDGED)

    @property
    def closed(self) -> EventLine | None:
        """The event that resolved or dismissed it."""
        if self.alert.status == AlertStatus.DISMISSED:
            return self._latest(AlertEventKind.DISMISSED)
        if self.alert.status == AlertStatus.RESOLVED:
            # A clinician's acknowledgement of a past fact resolves it.
            return self._latest(AlertEventKind.RESOLVED) or self.acknowledged
        return None

    @property
    def last_at(self) -> dt.datetime:
        return self.events[-1].at if self.events else self.alert.last_seen_at


def _events_of(
    alert_ids: Iterable[int], kinds: Sequence[str] | None = None
) -> dict[int, list[EventLine]]:
    events = AlertEvent.objects.filter(alert_id__in=list(alert_ids)).select_related("actor")
    if kinds is not None:
        events = events.filter(kind__in=kinds)
    found: dict[int, list[EventLine]] = {}
    for event in events.order_by("at", "pk"):
        found.setdefault(event.alert_id, []).append(_event_line(event))
    return found


# The worklist needs only who acknowledged and who closed (an alert closed in place).
_ROW_EVENTS = (AlertEventKind.ACKNOWLEDGED, AlertEventKind.DISMISSED, AlertEventKind.RESOLVED)


def alert_items(
    alerts: Iterable[Alert],
    permissions: Permissions,
    today: dt.date,
    *,
    all_events: bool = False,
) -> list[AlertItem]:
    """The alerts with their timing, actions and events (one query for all their events)."""
    alerts = list(alerts)
    events = _events_of((a.pk for a in alerts), None if all_events else _ROW_EVENTS)
    return [
        AlertItem(a, alert_timing(a, today), permissions.actions(a), events.get(a.pk, []))
        for a in alerts
    ]


# --- The worklist's counts -----------------------------------------------------------------------


@dataclass(frozen=True)
class SeverityCount:
    severity: str
    label: str
    total: int
    acknowledged: int

    @property
    def open(self) -> int:
        return self.total - self.acknowledged


@dataclass(frozen=True)
class WorklistCounts:
    severities: list[SeverityCount]  # urgent, warning, info
    hidden_notes: int  # acknowledged info notes the worklist hides

    @property
    def total(self) -> int:
        return sum(count.total for count in self.severities)

    def of(self, severity: str) -> SeverityCount:
        return next(count for count in self.severities if count.severity == severity)


def worklist_counts(alerts: QuerySet[Alert], hidden: Q | None) -> WorklistCounts:
    """Per severity, the alerts the worklist shows and how many of them are acknowledged, and how
    many it hides (`hidden`: the acknowledged notes), in one query over the filtered `alerts`
    (before the hiding)."""
    shown = ~hidden if hidden is not None else Q()
    tallies = {
        "total": Count("pk", filter=shown),
        "acknowledged": Count("pk", filter=shown & Q(status=AlertStatus.ACKNOWLEDGED)),
    }
    if hidden is not None:
        tallies["hidden"] = Count("pk", filter=hidden)
    rows = alerts.order_by().values("severity").annotate(**tallies)
    by_severity: dict[str, dict[str, Any]] = {row["severity"]: dict(row) for row in rows}
    none: dict[str, Any] = {}
    counts = [
        SeverityCount(
            severity,
            label,
            by_severity.get(severity, none).get("total", 0),
            by_severity.get(severity, none).get("acknowledged", 0),
        )
        for severity, label in Severity.choices
    ]
    return WorklistCounts(counts, sum(row.get("hidden", 0) for row in by_severity.values()))


# --- A patient's alerts ------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientAlerts:
    patient: Patient
    open: list[AlertItem]
    history: list[AlertItem]  # newest first: the latest event first
    history_total: int

    @property
    def more_history(self) -> int:
        return self.history_total - len(self.history)

    # As the patient page's "alerts" always were: its open alerts.
    def __iter__(self) -> Iterator[Alert]:
        return (item.alert for item in self.open)

    def __len__(self) -> int:
        return len(self.open)

    def __contains__(self, alert: object) -> bool:
        return any(item.alert == alert for item in self.open)


def _patients_alerts(patient: Patient) -> QuerySet[Alert]:
    return Alert.objects.filter(course__patient=patient).select_related("course__patient__site")


def alert_history(patient: Patient) -> QuerySet[Alert]:
    """The patient's alerts that someone or something acted on, the latest action first."""
    return (
        _patients_alerts(patient)
        .filter(status__in=HISTORY_STATUSES)
        .annotate(last_event_at=Max("events__at"))
        .order_by("-last_event_at", "-pk")
    )


def patient_alerts(patient: Patient, user: User | AnonymousUser, today: dt.date) -> PatientAlerts:
    """The open alerts (most urgent first) with this person's actions, and the newest of the
    alert history, each with all its events. A constant number of queries."""
    permissions = Permissions.of(user)
    open_alerts = list(
        _patients_alerts(patient)
        .filter(status__in=(AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED))
        .annotate(severity_order=SEVERITY_ORDER)
        .order_by("severity_order", "due_on", "pk")
    )
    history = alert_history(patient)
    newest = list(history[:PATIENT_PAGE_HISTORY])
    items = alert_items([*open_alerts, *newest], permissions, today, all_events=True)
    total = len(newest) if len(newest) < PATIENT_PAGE_HISTORY else history.count()
    return PatientAlerts(patient, items[: len(open_alerts)], items[len(open_alerts) :], total)


@dataclass(frozen=True)
class Section:
    count: SeverityCount  # of the whole worklist as filtered, not only this page
    items: list[AlertItem]


def worklist_sections(
    page: Iterable[Alert], counts: WorklistCounts, permissions: Permissions, today: dt.date
) -> list[Section]:
    """The page's alerts by severity (most severe first), as rows (one query for their events)."""
    items = alert_items(page, permissions, today)
    return [
        Section(count, rows)
        for count in counts.severities
        if (rows := [item for item in items if item.alert.severity == count.severity])
    ]
