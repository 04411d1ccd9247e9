#!/usr/bin/env bash
# Restore drill: back a PostgreSQL database up with pg_dump (custom format, as a nightly backup would), restore it
# into a scratch database on the same server, and check that the copy is the same: the same tables, and in each
# the same rows (an md5 of every row's text, in order). Prints the time each step took; exits non-zero on any
# difference or failure, and always drops the scratch database and the dump.
# Usage: ops/restore_drill.sh postgresql://user@host:port/dbname   (a DATABASE_URL's "+asyncpg" is accepted)
set -euo pipefail
source_url=${1:?usage: ops/restore_drill.sh postgresql://user@host:port/dbname}
source_url=${source_url/+asyncpg/}
server=${source_url%/*}
scratch="restore_drill_$$"
dump=$(mktemp --suffix=.dump)
cleanup() { psql "$server/postgres" -qc "DROP DATABASE IF EXISTS $scratch" >/dev/null 2>&1 || true; rm -f "$dump"; }
trap cleanup EXIT
step_start=$SECONDS
step() { echo "== restore drill: $1 ($((SECONDS - step_start)) s)"; step_start=$SECONDS; }

# One line per table of the public schema: name, row count, md5 of its rows as text in order.
fingerprint() {
  psql "$1" -At -F ' ' -c "
    SELECT table_name,
           (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM public.%I', table_name),
                                                false, true, '')))[1]::text,
           (xpath('/row/h/text()', query_to_xml(format(
              'SELECT md5(coalesce(string_agg(t::text, ''|'' ORDER BY t::text), '''')) AS h FROM public.%I t',
              table_name), false, true, '')))[1]::text
    FROM information_schema.tables
    WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
    ORDER BY table_name"
}

pg_dump --format=custom --no-owner --file="$dump" "$source_url"
step "pg_dump, $(stat -c %s "$dump") bytes"
psql "$server/postgres" -qc "CREATE DATABASE $scratch"
pg_restore --no-owner --exit-on-error --dbname="$server/$scratch" "$dump"
step "pg_restore into $scratch"
before=$(fingerprint "$source_url")
after=$(fingerprint "$server/$scratch")
tables=$(wc -l <<<"$before")
rows=$(awk '{n += $2} END {print n + 0}' <<<"$before")
if [[ "$before" != "$after" ]]; then
  echo "== restore drill FAILED: the copy differs from the source:"
  diff <(echo "$before") <(echo "$after") || true
  exit 1
fi
step "compared: $tables tables, $rows rows, identical"
