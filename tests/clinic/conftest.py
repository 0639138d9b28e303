"""Fixtures of the clinic's view tests: an overdue course at each site."""

import pytest

from registry.models import TreatmentCourse
from tests.clinic.support import overdue_course


@pytest.fixture
def course_a(site_a) -> TreatmentCourse:
    return overdue_course(site_a, family_name="Okafor", given_name="Zara", mrn="MRN-77")


@pytest.fixture
def course_b(site_b) -> TreatmentCourse:
    return overdue_course(site_b, family_name="Okafor", given_name="Yusuf", mrn="MRN-88")
