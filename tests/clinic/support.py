"""Builders and page readers shared by the clinic's view tests."""

from __future__ import annotations

import datetime as dt
import json
import re
from html.parser import HTMLParser
from typing import Any

from django.utils import timezone
from django.utils.html import escape

from monitoring.evaluation import evaluate_courses
from monitoring.models import Alert
from registry.models import TreatmentCourse
from tests.conftest import TODAY
from tests.factories import CourseFactory, InfusionFactory, PatientFactory

DAY = dt.timedelta(days=1)
START = TODAY - 112 * DAY  # 04 Aug 2026


def overdue_course(site, **patient_fields: Any):
    """Induction given on time (days 0, 14, 42 from 04 Aug 2026), at 40 kg and 200 mg: the first
    maintenance dose was due on 10 Nov 2026, 14 days ago. Evaluated, so its alerts are open."""
    course = CourseFactory(patient=PatientFactory(site=site, **patient_fields), started_on=START)
    for offset in (0, 14, 42):
        InfusionFactory(course=course, given_on=START + offset * DAY)
    evaluate_courses([course.pk], TODAY)
    return course


def make_alert(
    course: TreatmentCourse,
    *,
    rule: str = "markers_overdue",
    severity: str = "info",
    due_on: dt.date | None = None,
    status: str = "open",
    title: str = "",
) -> Alert:
    """An alert written directly, for tests of the worklist's order and filters."""
    now = timezone.now()
    return Alert.objects.create(
        course=course,
        rule=rule,
        key=f"{rule}-{Alert.objects.count()}",
        severity=severity,
        status=status,
        title=title or f"{severity} {rule}",
        explanation="Because the guideline says so.",
        evidence={"due_on": due_on.isoformat() if due_on else None},
        due_on=due_on,
        first_raised_at=now,
        last_seen_at=now,
        resolved_at=now if status == "resolved" else None,
        guideline_version="test",
    )


# --- Reading pages -------------------------------------------------------------------------------


class _FormReader(HTMLParser):
    """The values a browser would submit from the page's fields, by field name."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, Any] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name:
            if a.get("type") == "checkbox":
                self.values[name] = "checked" in a
            elif a.get("type") == "radio":
                self.values.setdefault(name, "")
                if "checked" in a:
                    self.values[name] = a.get("value") or ""
            elif a.get("type") not in ("hidden", "submit"):
                self.values[name] = a.get("value") or ""
        elif tag == "select" and name:
            self._select = name
            self.values[name] = ""
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.values[self._textarea] += data.strip()


def form_values(html: str) -> dict[str, Any]:
    reader = _FormReader()
    reader.feed(html)
    return reader.values


class _TableReader(HTMLParser):
    """Each table row as the text of its cells."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table_rows(html: str) -> list[list[str]]:
    reader = _TableReader()
    reader.feed(html)
    return reader.rows


def timeline_data(html: str) -> dict[str, Any]:
    found = re.search(r'<script id="timeline-data" type="application/json">(.*?)</script>', html)
    assert found, "no timeline-data script on the page"
    return json.loads(found.group(1))


def ms(day: dt.date) -> int:
    """A chart x value: milliseconds since the epoch at midnight UTC."""
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def between(text: str, start: str, end: str) -> str:
    """The text from `start` up to the next `end`."""
    assert start in text, f"no {start!r} on the page"
    rest = text[text.index(start) :]
    return rest[: rest.index(end)]


def refused(response, field: str, message: str) -> None:
    """400, with the message under its field (or above the form, for the whole record), and in the
    error summary above the form, linked to its field."""
    assert response.status_code == 400
    assert message in response.context["form"].errors[field], response.context["form"].errors
    summary = between(response.text, '<div class="error-summary" role="alert"', "</div>")
    if field == "__all__":
        assert f"<li>{escape(message)}</li>" in summary
    else:
        under_field = between(
            response.text, f'<div class="field-error" id="id_{field}_error">', "</div>"
        )
        assert f"<p>{escape(message)}</p>" in under_field
        assert f'<a href="#id_{field}">' in summary
        assert f"{escape(message)}</a>" in summary


def field_tag(html: str, name: str) -> str:
    """The opening tag of the field named `name` (an input, select or textarea)."""
    found = re.search(rf'<(?:input|select|textarea)[^>]*\bname="{name}"[^>]*>', html)
    assert found, f"no field {name!r} on the page"
    return found.group(0)
