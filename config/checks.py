"""Deployment checks Django's own do not make (`manage.py check --deploy`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

# pyproject.toml's pytest-env gives the test runs this key (they run with production's settings).
TESTS_SECRET_KEY = "tests-only-secret-key-never-used-outside-pytest-0123456789abcdef"  # noqa: S105


@register(Tags.security, deploy=True)
def secret_key_is_not_public(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Django's security.W009 accepts any long, varied key, including the demo's fallback, which
    is in the repository: with it anyone can forge a session or an unsubscribe link."""
    if settings.SECRET_KEY not in {*settings.PUBLIC_SECRET_KEYS, TESTS_SECRET_KEY}:
        return []
    return [
        Error(
            "SECRET_KEY is a key published with the code (the demo's, compose's, .env.example's, "
            "the image build's or the tests').",
            hint='Set DJANGO_SECRET_KEY to the output of: python3 -c "import secrets; '
            'print(secrets.token_urlsafe(50))"',
            id="project.E001",
        )
    ]
