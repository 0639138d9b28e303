"""Fixtures of the clinic's view tests: an overdue course at each site, and a way to see what a
save asks for once it has committed (the patient's re-evaluation)."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from celery import current_app

from registry.models import TreatmentCourse
from tests.clinic.support import overdue_course


@pytest.fixture
def course_a(site_a) -> TreatmentCourse:
    return overdue_course(site_a, family_name="Okafor", given_name="Zara", mrn="MRN-77")


@pytest.fixture
def course_b(site_b) -> TreatmentCourse:
    return overdue_course(site_b, family_name="Okafor", given_name="Yusuf", mrn="MRN-88")


@pytest.fixture
def committed(
    django_capture_on_commit_callbacks,
) -> Iterator[Callable[[], AbstractContextManager[Any]]]:
    """`with committed(): client.post(...)` runs, on leaving the block, the on-commit callbacks the
    request registered, as its commit would (under the `db` fixture the test's transaction never
    commits): the re-evaluation it asked for, in this process (Celery eager, not sent to Redis)."""
    eager = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    yield lambda: django_capture_on_commit_callbacks(execute=True)
    current_app.conf.task_always_eager = eager


@pytest.fixture
def post_committed(client, committed) -> Callable[..., Any]:
    """POST, let it commit (its re-evaluation runs), then follow its redirect; a refusal (no
    redirect) comes back as it was."""

    def post(url: str, data: dict[str, Any]) -> Any:
        with committed():
            posted = client.post(url, data)
        if posted.status_code != 302:
            return posted
        page = client.get(posted["Location"])
        page.redirect_chain = [(posted["Location"], 302)]  # as `follow=True` records it
        return page

    return post
