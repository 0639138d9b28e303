"""Revoke the API tokens of rest_framework.authtoken (no longer installed): their secrets were
stored in plain text, so anyone who read the database or a backup has them. Hashing them now would
not undo that; their owners make new ones (the API tokens page, or manage.py create_api_token).

The table itself is left (Django does not drop the tables of an app it no longer has), empty."""

from django.db import migrations

PLAIN_TEXT_TOKENS = "authtoken_token"


def revoke_plain_text_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if PLAIN_TEXT_TOKENS not in connection.introspection.table_names():
        return
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {connection.ops.quote_name(PLAIN_TEXT_TOKENS)}")


class Migration(migrations.Migration):
    dependencies = [("api", "0001_initial")]

    operations = [
        migrations.RunPython(revoke_plain_text_tokens, migrations.RunPython.noop, elidable=True),
    ]
