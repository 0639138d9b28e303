#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh into a NEW, EMPTY database.
#
#   createdb -h HOST -U USER registry_restored
#   TARGET_DATABASE_URL=postgres://user@host:5432/registry_restored scripts/restore.sh BACKUP_FOLDER
#
# Checks the folder's SHA256SUMS, refuses a database that already has tables, restores in one
# transaction (all or nothing, stopping at the first error) and, when EXPORT_ROOT is set and the
# backup has exports, unpacks them there. Then point DATABASE_URL at the restored database and
# run `python manage.py migrate` (a no-op unless the code is newer than the backup).
set -euo pipefail

folder=${1:?usage: scripts/restore.sh BACKUP_FOLDER (with TARGET_DATABASE_URL set)}
: "${TARGET_DATABASE_URL:?set TARGET_DATABASE_URL to the new, empty database (postgres://…)}"

(cd "$folder" && sha256sum --check --quiet SHA256SUMS)

tables=$(psql "$TARGET_DATABASE_URL" -Atc \
  "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")
if [ "$tables" != 0 ]; then
  echo "error: the target database already has $tables tables; restore into a new, empty one" >&2
  exit 1
fi

# --no-owner: the restoring role owns the objects (the original role may not exist here); the
# privileges (GRANT/REVOKE, e.g. an append-only audit table) are restored as they were.
pg_restore --dbname "$TARGET_DATABASE_URL" --no-owner --exit-on-error --single-transaction \
  "$folder/registry.dump"

if [ -f "$folder/exports.tar.gz" ] && [ -n "${EXPORT_ROOT:-}" ]; then
  mkdir -p "$EXPORT_ROOT"
  tar -C "$EXPORT_ROOT" -xzf "$folder/exports.tar.gz"
fi
echo "restored $folder into the target database"
