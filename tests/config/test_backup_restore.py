"""scripts/backup.sh and scripts/restore.sh: the demo registry dumped with pg_dump, restored with
pg_restore into a fresh database, and every record found there: each table (history and audit
tables included) holds the same rows, field by field, and every sequence continues where it was.
"""

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from monitoring.evaluation import run_evaluation
from registry.demo import seed

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(shutil.which("pg_dump") is None, reason="needs pg_dump and pg_restore"),
]
SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
BASH = shutil.which("bash") or "/bin/bash"


def script(name: str, *args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BASH, str(SCRIPTS / name), *args],
        env=os.environ | env, capture_output=True, text=True, check=check,
    )  # fmt: skip


def url(database: str) -> str:
    settings = connection.settings_dict
    return f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{database}"


def tables(db: psycopg.Connection) -> list[str]:
    rows = db.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    ).fetchall()
    return [name for (name,) in rows]


def fingerprint(db: psycopg.Connection, table: str) -> tuple[int, str]:
    """Rows and a digest of every row's every field (its text form), in a fixed order."""
    count, digest = db.execute(
        f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) "  # noqa: S608
        f'FROM "{table}" t'
    ).fetchone()
    return count, digest


def sequences(db: psycopg.Connection) -> dict[str, int | None]:
    rows = db.execute(
        "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"
    ).fetchall()
    return dict(rows)


@pytest.fixture
def fresh_database():
    name = f"crmo_restore_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield name
    with psycopg.connect(url("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_backup_restores_into_a_fresh_database_with_every_record(
    transactional_db, fresh_database, tmp_path
):
    seed(today=timezone.localdate())  # two sites, their staff, ~40 patients, their histories
    run_evaluation(as_of=timezone.localdate())  # alerts, their events and a run
    exports = tmp_path / "exports"
    (exports / "42").mkdir(parents=True)
    (exports / "42" / "export.csv").write_text("registry_code\nCRMO-000001\n")
    source = url(connection.settings_dict["NAME"])
    backup = script(
        "backup.sh", str(tmp_path / "backups"), DATABASE_URL=source, EXPORT_ROOT=str(exports)
    )
    folder = Path(backup.stdout.strip().splitlines()[-1])
    assert sorted(p.name for p in folder.iterdir()) == [
        "SHA256SUMS", "exports.tar.gz", "registry.dump"
    ]  # fmt: skip
    assert oct(folder.stat().st_mode & 0o777) == "0o700"

    restored_exports = tmp_path / "restored-exports"
    script(
        "restore.sh",
        str(folder),
        TARGET_DATABASE_URL=url(fresh_database),
        EXPORT_ROOT=str(restored_exports),
    )

    with psycopg.connect(source) as before, psycopg.connect(url(fresh_database)) as after:
        names = tables(before)
        assert tables(after) == names
        for required in (
            "registry_patient",
            "registry_historicalpatient",
            "monitoring_alert",
            "monitoring_alertevent",
            "monitoring_evaluationrun",
            "django_migrations",
            "auth_user",
        ):
            assert required in names
        counts = {}
        for table in names:
            counts[table] = fingerprint(before, table)
            assert fingerprint(after, table) == counts[table], table
        assert counts["registry_patient"][0] >= 40
        assert counts["registry_historicalpatient"][0] >= counts["registry_patient"][0]
        assert counts["monitoring_alert"][0] > 0
        assert sequences(after) == sequences(before)
    assert (restored_exports / "42" / "export.csv").read_text() == "registry_code\nCRMO-000001\n"


def test_restore_refuses_a_database_that_is_not_empty(transactional_db, tmp_path):
    backup = script("backup.sh", str(tmp_path), DATABASE_URL=url(connection.settings_dict["NAME"]))
    folder = backup.stdout.strip().splitlines()[-1]
    refused = script(
        "restore.sh",
        folder,
        check=False,
        TARGET_DATABASE_URL=url(connection.settings_dict["NAME"]),
    )
    assert refused.returncode == 1
    assert "already has" in refused.stderr


def test_restore_refuses_a_damaged_backup(transactional_db, fresh_database, tmp_path):
    backup = script("backup.sh", str(tmp_path), DATABASE_URL=url(connection.settings_dict["NAME"]))
    folder = Path(backup.stdout.strip().splitlines()[-1])
    with (folder / "registry.dump").open("r+b") as dump:
        dump.seek(100)
        dump.write(b"\x00\x01\x02")
    refused = script(
        "restore.sh", str(folder), check=False, TARGET_DATABASE_URL=url(fresh_database)
    )
    assert refused.returncode != 0
    assert "FAILED" in refused.stdout + refused.stderr
