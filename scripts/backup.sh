#!/usr/bin/env bash
# Back up the registry: the database (pg_dump, custom format) and the research exports' files.
#
#   DATABASE_URL=postgres://user@host:5432/registry scripts/backup.sh [BACKUP_ROOT]
#
# Writes BACKUP_ROOT/<UTC time>/ (default BACKUP_ROOT: ./backups) holding registry.dump, the
# exports (exports.tar.gz, when EXPORT_ROOT is a folder) and SHA256SUMS, and checks that the dump
# reads back. Copy the folder off the machine: it holds identified patient data, so keep it where
# the database itself may be kept. The beat schedule, Redis and the static files need no backup.
set -euo pipefail

: "${DATABASE_URL:?set DATABASE_URL to the registry database (postgres://…)}"
root=${1:-backups}
folder="$root/$(date -u +%Y%m%dT%H%M%SZ)"
umask 077  # the backup holds identified data: owner only
mkdir -p "$folder"

# --format=custom: compressed, and pg_restore can restore it table by table or in parallel.
pg_dump --format=custom --file "$folder/registry.dump" "$DATABASE_URL"
pg_restore --list "$folder/registry.dump" >/dev/null  # the archive reads back whole

if [ -n "${EXPORT_ROOT:-}" ] && [ -d "$EXPORT_ROOT" ]; then
  tar -C "$EXPORT_ROOT" -czf "$folder/exports.tar.gz" .
fi

(cd "$folder" && sha256sum -- * >SHA256SUMS)
echo "$folder"
