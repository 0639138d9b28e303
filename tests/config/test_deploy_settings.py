"""Production settings: `check --deploy` is clean with them, and the app refuses to start with a
missing, short or published secret key outside the demo and DEBUG. The embedded demo (`make run`)
keeps plain HTTP. Each case is a fresh process, since the settings read the environment once."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from config.checks import TESTS_SECRET_KEY

# The variables pyproject.toml's pytest-env sets for the test runs, and the ones a shell may hold.
OURS = (
    "DJANGO_SECRET_KEY",
    "DJANGO_SECURE_SSL_REDIRECT",
    "DJANGO_SECURE_COOKIES",
    "DJANGO_HSTS_SECONDS",
    "DJANGO_DEBUG",
    "DJANGO_DEMO_MODE",
    "DATABASE_URL",
)
PRODUCTION_DATABASE = "postgres://registry:registry@127.0.0.1:5432/registry"  # never connected


def manage(*arguments: str, **environment: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name not in OURS}
    env.update(environment)
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def new_key() -> str:
    return secrets.token_urlsafe(50)


SHOW_SETTINGS = """
import json
from django.conf import settings as s
print(json.dumps({name: getattr(s, name) for name in (
    "PRODUCTION", "DEMO_MODE", "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS",
    "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_REDIRECT_EXEMPT")}))
"""


def settings_of(**environment: str) -> dict:
    ran = manage("shell", "--no-imports", "-c", SHOW_SETTINGS, **environment)
    assert ran.returncode == 0, ran.stderr
    return json.loads(ran.stdout.strip().splitlines()[-1])


def test_check_deploy_is_clean_under_production_settings():
    ran = manage(
        "check", "--deploy", "--fail-level", "WARNING",
        DATABASE_URL=PRODUCTION_DATABASE, DJANGO_SECRET_KEY=new_key(),
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "System check identified no issues" in ran.stdout


def test_production_is_https_only():
    values = settings_of(DATABASE_URL=PRODUCTION_DATABASE, DJANGO_SECRET_KEY=new_key())
    assert values["PRODUCTION"] is True
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] == 365 * 24 * 3600
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_REDIRECT_EXEMPT"] == ["^healthz$", "^health/"]


def test_the_demo_keeps_plain_http_and_its_fallback_key(tmp_path: Path):
    values = settings_of(DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}")
    assert values["DEMO_MODE"] is True
    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0
    assert values["SESSION_COOKIE_SECURE"] is False


@pytest.mark.parametrize(
    "key",
    [
        None,  # unset: the demo's fallback
        "",
        "insecure-compose-key-change-me-set-DJANGO_SECRET_KEY-in-env",  # compose's old default
        "short-but-random-Zq81",
        "ab" * 40,  # long, but two characters
    ],
)
def test_production_refuses_to_start_without_a_real_secret_key(key):
    environment = {"DATABASE_URL": PRODUCTION_DATABASE}
    if key is not None:
        environment["DJANGO_SECRET_KEY"] = key
    ran = manage("check", **environment)
    assert ran.returncode != 0
    assert "ImproperlyConfigured" in ran.stderr
    assert "DJANGO_SECRET_KEY" in ran.stderr
    assert "secrets.token_urlsafe(50)" in ran.stderr


def test_debug_runs_without_a_key():
    ran = manage("check", DATABASE_URL=PRODUCTION_DATABASE, DJANGO_DEBUG="true")
    assert ran.returncode == 0, ran.stderr


def test_check_deploy_flags_a_published_key_where_the_app_accepts_one(tmp_path: Path):
    """The demo and the test runs start with a public key; `check --deploy` says so."""
    demo = manage("check", "--deploy", DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}")
    assert demo.returncode != 0
    assert "project.E001" in demo.stderr + demo.stdout
    tests = manage(
        "check", "--deploy", DATABASE_URL=PRODUCTION_DATABASE, DJANGO_SECRET_KEY=TESTS_SECRET_KEY
    )
    assert "project.E001" in tests.stderr + tests.stdout


def test_compose_has_no_default_key_and_runs_gunicorn_with_its_conf():
    compose = (settings.BASE_DIR / "docker-compose.yml").read_text()
    assert "DJANGO_SECRET_KEY: ${DJANGO_SECRET_KEY:?" in compose
    assert "insecure-compose-key" not in compose
    assert '"--config", "config/gunicorn.conf.py"' in compose
    dockerfile = (settings.BASE_DIR / "Dockerfile").read_text()
    assert '"--config", "config/gunicorn.conf.py"' in dockerfile
