"""Idle timeout: signed out after IDLE_TIMEOUT without a request of the person (polling does not
count), and at the latest SESSION_COOKIE_AGE after signing in."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import time_machine
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.middleware import BACKGROUND_HEADER
from tests.accounts.support import LOGIN, sign_in, signed_in_as

WORKLIST = reverse("clinic:worklist")
POLL = {BACKGROUND_HEADER: "true", "HX-Request": "true"}


def after(minutes: float):
    return time_machine.travel(dt.timedelta(minutes=minutes))


def test_a_person_active_within_the_timeout_stays_signed_in(client, nurse_a):
    sign_in(client, "nina")
    for minutes in (29, 58, 87, 116):  # each request within 30 minutes of the one before
        with after(minutes):
            assert client.get(WORKLIST).status_code == 200, minutes
    assert signed_in_as(client) == "nina"


def test_31_idle_minutes_sign_out_and_the_sign_in_page_says_why(client, nurse_a):
    sign_in(client, "nina")
    client.get(WORKLIST)
    with after(31):
        response = client.get(WORKLIST, follow=True)
    assert response.redirect_chain[-1][0] == f"{LOGIN}?next={WORKLIST}"
    assert "signed out after 30 minutes without activity" in response.content.decode()
    assert signed_in_as(client) is None


def test_polling_does_not_count_as_activity(client, nurse_a):
    sign_in(client, "nina")
    client.get(WORKLIST)
    for minutes in range(1, 30, 2):  # a page left open polls all along
        with after(minutes):
            client.get(WORKLIST, headers=POLL)
    with after(31):
        answer = client.get(WORKLIST, headers=POLL | {"HX-Current-URL": "http://testserver/x/"})
    assert answer.status_code == 204  # HTMX goes to the sign-in page, not into the table row
    assert answer["HX-Redirect"] == f"{LOGIN}?next=%2Fx%2F"
    assert signed_in_as(client) is None


def test_every_polling_template_marks_its_requests_as_background():
    polling = []
    for template in Path(settings.BASE_DIR, "templates").rglob("*.html"):
        for element in re.findall(r"<[^>]*hx-trigger=\"[^\"]*every [^>]*>", template.read_text()):
            polling.append(template.name)
            assert f'"{BACKGROUND_HEADER}": "true"' in element, template
    assert polling  # the research exports' rows poll


def test_the_timeout_is_a_setting(client, nurse_a, settings):
    settings.IDLE_TIMEOUT = dt.timedelta(minutes=5)
    sign_in(client, "nina")
    with after(6):
        assert client.get(WORKLIST).status_code == 302
    assert signed_in_as(client) is None


def test_the_session_is_written_at_most_once_a_minute(client, nurse_a):
    sign_in(client, "nina")
    client.get(WORKLIST)
    with after(0.5), CaptureQueriesContext(connection) as queries:
        client.get(WORKLIST)
    session_writes = [q for q in queries if "UPDATE" in q["sql"] and "django_session" in q["sql"]]
    assert session_writes == []
    with after(1.5), CaptureQueriesContext(connection) as queries:
        client.get(WORKLIST)
    session_writes = [q for q in queries if "UPDATE" in q["sql"] and "django_session" in q["sql"]]
    assert len(session_writes) == 1


def test_activity_does_not_stretch_the_session_past_its_absolute_age(client, nurse_a):
    sign_in(client, "nina")
    key = client.cookies["sessionid"].value
    signed_in_at = Session.objects.get(session_key=key).expire_date
    for minutes in range(20, 8 * 60, 20):
        with after(minutes):
            client.get(WORKLIST)
    assert Session.objects.get(session_key=key).expire_date == signed_in_at
    with after(8 * 60 + 1):
        assert client.get(WORKLIST).status_code == 302
    assert signed_in_as(client) is None
