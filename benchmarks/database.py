"""The benchmark's own PostgreSQL database: created if missing, migrated, and wiped before a run.

The benchmark never touches the database of `make run` or of the tests: it uses
BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/crmo_bench) and points Django at it
before Django is set up.
"""

from __future__ import annotations

import os
import secrets

import psycopg
from psycopg import sql

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/crmo_bench"
# Wiped before generating; the history tables (registry_historical*) are wiped and stay empty.
WIPED_PREFIXES = ("registry_", "monitoring_")


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as every benchmark prints them beside its figures."""
    return " / ".join(f"{load:.1f}" for load in os.getloadavg())


def database_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL


def ensure_database(url: str) -> bool:
    """Create the database of `url` if missing (connecting to `postgres`); True if created."""
    name = psycopg.conninfo.conninfo_to_dict(url).get("dbname")
    if not name:
        raise SystemExit(f"the benchmark database URL names no database: {url}")
    with psycopg.connect(url, dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(name))))
        return True


def setup_django(url: str) -> None:
    """Point Django at the benchmark database, then set it up (once, before any Django import)."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # DEBUG keeps every query in memory and would distort both time and memory.
    os.environ["DJANGO_DEBUG"] = "false"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # Production's settings refuse a missing or published key: a throwaway one for this run. The
    # in-process client speaks plain HTTP, as the tests' (pyproject.toml's pytest env) does.
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
    import django

    django.setup()


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def wipe(url: str) -> list[str]:
    """Empty every registry and monitoring table (ids restart at 1); returns the tables wiped."""
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                "ORDER BY tablename"
            )
            if name.startswith(WIPED_PREFIXES)
        ]
        conn.execute(
            sql.SQL("TRUNCATE {} RESTART IDENTITY CASCADE").format(
                sql.SQL(", ").join(sql.Identifier(t) for t in tables)
            )
        )
    return tables


def prepare(url: str) -> None:
    """Database created if missing, Django set up on it, migrated and wiped: ready to generate."""
    created = ensure_database(url)
    setup_django(url)
    migrate()
    tables = wipe(url)
    where = url.rsplit("@", 1)[-1]
    print(
        f"Database {where}: {'created, ' if created else ''}migrated, "
        f"{len(tables)} registry/monitoring tables wiped."
    )
