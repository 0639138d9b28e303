"""PostgreSQL refuses UPDATE, DELETE and TRUNCATE of the access log from any client, and indexes
the id lists (GIN) for "who read patient 42" and "the rows of my sites". SQLite (the demo): none.

The one DELETE let through is the retention purge's (audit.retention): its transaction names a
cut-off in `audit.purge_before`, and only rows before it may go.
"""

from django.db import migrations

TABLE = "audit_accesslogentry"

FORWARDS = f"""
CREATE FUNCTION audit_access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    purge_before text := current_setting('audit.purge_before', true);
BEGIN
    IF TG_OP = 'DELETE' AND coalesce(purge_before, '') <> ''
            AND OLD.at < purge_before::timestamptz THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the access log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_access_log_no_change BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION audit_access_log_append_only();
CREATE TRIGGER audit_access_log_no_truncate BEFORE TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION audit_access_log_append_only();
CREATE INDEX audit_entry_patient_ids ON {TABLE} USING gin (patient_ids);
CREATE INDEX audit_entry_site_ids ON {TABLE} USING gin (site_ids);
"""

BACKWARDS = f"""
DROP INDEX audit_entry_site_ids;
DROP INDEX audit_entry_patient_ids;
DROP TRIGGER audit_access_log_no_truncate ON {TABLE};
DROP TRIGGER audit_access_log_no_change ON {TABLE};
DROP FUNCTION audit_access_log_append_only();
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_access_log")]

    operations = [migrations.RunPython(_on_postgresql(FORWARDS), _on_postgresql(BACKWARDS))]
