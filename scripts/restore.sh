#!/usr/bin/env bash
# AgentHub database restore: runbook "Database Backup & Restore" -> "Restore procedure".
#
#   scripts/restore.sh [--yes] [--force] <agenthub_backup_YYYYmmdd_HHMMSS.dump>
#
# Stop the service first (runbook step 1: `docker compose stop agenthub`). Then this script:
#   1. verifies the dump with `pg_restore --list` (nothing is touched if it is unreadable),
#   2. drops and recreates POSTGRES_DB owned by POSTGRES_DB_OWNER, as POSTGRES_ADMIN_USER,
#   3. restores with `pg_restore --no-owner --no-acl` as POSTGRES_USER, in one transaction,
#   4. prints the runbook's row counts (agents, rooms, messages, api_tokens, audit_events).
# Afterwards: start the service (`docker compose up -d agenthub`), check /healthz and /readyz, and
# check the audit chain (`npm run audit:verify`, or in the image `node dist/src/cli/audit-verify.js`).
#
# Options:
#   --yes     do not ask for confirmation (needed when stdin is not a terminal)
#   --force   disconnect sessions still using POSTGRES_DB instead of refusing (DROP ... WITH (FORCE))
#
# Environment:
#   POSTGRES_HOST, POSTGRES_USER, POSTGRES_DB   required (POSTGRES_USER restores the objects, so it
#                                               owns them: --no-owner)
#   POSTGRES_PORT                               default 5432
#   PGPASSWORD                                  password of POSTGRES_USER
#   POSTGRES_DB_OWNER                           owner of the recreated database; default POSTGRES_USER
#                                               (runbook: CREATE DATABASE agenthub OWNER agenthub)
#   POSTGRES_ADMIN_USER                         role that drops/creates the database; default
#                                               postgres (runbook). In the compose stack the
#                                               superuser is POSTGRES_USER (set by the compose file).
#   POSTGRES_ADMIN_PASSWORD                     its password; default PGPASSWORD
#   POSTGRES_ADMIN_DB                           database it connects to; default postgres
set -euo pipefail

readonly SELF="${BASH_SOURCE[0]}"
readonly EXPECTED_TABLES=(agents api_tokens rooms room_members messages audit_events)

log() { printf 'restore: %s\n' "$*"; }
fail() {
  printf 'restore: ERROR: %s\n' "$*" >&2
  exit 1
}
usage() {
  sed -n '2,/^set -euo pipefail/{/^set -euo pipefail/d;s/^# \{0,1\}//;p}' "$SELF"
}

assume_yes=false
force=false
dump=''
while [ $# -gt 0 ]; do
  case "$1" in
    --yes | -y) assume_yes=true ;;
    --force) force=true ;;
    -h | --help)
      usage
      exit 0
      ;;
    -*)
      usage >&2
      fail "unknown option '$1'"
      ;;
    *)
      [ -z "$dump" ] || fail "only one dump file, please (got '$dump' and '$1')"
      dump=$1
      ;;
  esac
  shift
done
if [ -z "$dump" ]; then
  usage >&2
  fail "no dump file given"
fi
[ -f "$dump" ] || fail "$dump: no such file"
[ -r "$dump" ] || fail "$dump: not readable"

missing=()
for name in POSTGRES_HOST POSTGRES_USER POSTGRES_DB; do
  [ -n "${!name:-}" ] || missing+=("$name")
done
[ ${#missing[@]} -eq 0 ] || fail "set ${missing[*]} (see scripts/restore.sh --help)"
for tool in pg_restore psql; do
  command -v "$tool" >/dev/null || fail "$tool not found: install the PostgreSQL client tools"
done

POSTGRES_PORT="${POSTGRES_PORT:-5432}"
db_owner="${POSTGRES_DB_OWNER:-$POSTGRES_USER}"
admin_user="${POSTGRES_ADMIN_USER:-postgres}"
admin_db="${POSTGRES_ADMIN_DB:-postgres}"
[ "$admin_db" != "$POSTGRES_DB" ] ||
  fail "POSTGRES_ADMIN_DB must not be the database being restored ($POSTGRES_DB)"

admin_psql() {
  PGPASSWORD="${POSTGRES_ADMIN_PASSWORD:-${PGPASSWORD:-}}" psql --no-psqlrc --no-password \
    -h "$POSTGRES_HOST" -p "$POSTGRES_PORT" -U "$admin_user" -d "$admin_db" \
    -v ON_ERROR_STOP=1 -v db="$POSTGRES_DB" -v owner="$db_owner" "$@"
}

# 1. Verify backup integrity (runbook: pg_restore --list <dump> | head).
log "verifying $dump with pg_restore --list"
toc=$(pg_restore --list "$dump") || fail "$dump is not a readable pg_dump archive; the database was not touched"
head <<<"$toc"
for table in "${EXPECTED_TABLES[@]}"; do
  grep -Eq "^[0-9]+; [0-9]+ [0-9]+ TABLE DATA public $table " <<<"$toc" ||
    fail "$dump has no data for table $table: not an AgentHub backup? The database was not touched"
done
log "archive OK: $(grep -Ecv '^;|^$' <<<"$toc") entries"

# Sessions still on the database: the service must be stopped (runbook step 1).
sessions=$(admin_psql -AtX <<'SQL'
SELECT count(*) FROM pg_stat_activity WHERE datname = :'db' AND pid <> pg_backend_pid();
SQL
) || fail "cannot connect to $POSTGRES_HOST:$POSTGRES_PORT as $admin_user (database $admin_db)"
if [ "$sessions" != 0 ]; then
  if [ "$force" = true ]; then
    log "$sessions session(s) connected to $POSTGRES_DB will be terminated (--force)"
  else
    admin_psql -X <<'SQL' >&2 || true
SELECT pid, usename, application_name, client_addr, state FROM pg_stat_activity
WHERE datname = :'db' AND pid <> pg_backend_pid();
SQL
    fail "$sessions session(s) still use $POSTGRES_DB: stop the service first (docker compose stop agenthub), or pass --force"
  fi
fi

# 2. Confirmation: this is destructive.
if [ "$assume_yes" != true ]; then
  [ -t 0 ] || fail "refusing to drop $POSTGRES_DB without confirmation: pass --yes"
  printf 'This DROPS database "%s" on %s:%s and replaces it with %s.\nType the database name to continue: ' \
    "$POSTGRES_DB" "$POSTGRES_HOST" "$POSTGRES_PORT" "$dump"
  read -r answer
  [ "$answer" = "$POSTGRES_DB" ] || fail "not confirmed; nothing was changed"
fi

# 3. Drop and recreate (runbook: DROP DATABASE IF EXISTS agenthub; CREATE DATABASE agenthub OWNER agenthub).
log "dropping and recreating $POSTGRES_DB (owner $db_owner) as $admin_user"
if [ "$force" = true ]; then
  admin_psql -q <<'SQL'
DROP DATABASE IF EXISTS :"db" WITH (FORCE);
CREATE DATABASE :"db" OWNER :"owner";
SQL
else
  admin_psql -q <<'SQL'
DROP DATABASE IF EXISTS :"db";
CREATE DATABASE :"db" OWNER :"owner";
SQL
fi

# 4. Restore (runbook: pg_restore ... --no-owner --no-acl <dump>). One transaction: a failure
# leaves an empty database rather than half a restore. Triggers are created after the data is
# loaded, so audit_events keeps its ids and hashes exactly as dumped.
log "restoring $dump into $POSTGRES_DB as $POSTGRES_USER"
started=$(date +%s)
pg_restore -h "$POSTGRES_HOST" -p "$POSTGRES_PORT" -U "$POSTGRES_USER" -d "$POSTGRES_DB" \
  --no-password --no-owner --no-acl --single-transaction --exit-on-error "$dump" ||
  fail "pg_restore failed; $POSTGRES_DB is empty. Fix the cause and run this script again"
log "restored in $(($(date +%s) - started)) s; updating planner statistics"
psql --no-psqlrc --no-password -h "$POSTGRES_HOST" -p "$POSTGRES_PORT" -U "$POSTGRES_USER" \
  -d "$POSTGRES_DB" -v ON_ERROR_STOP=1 -qX \
  -c 'SET client_min_messages = error' -c 'ANALYZE' # (a non-superuser cannot analyze shared catalogs)

# 5. Verify row counts (runbook query, as written).
log "row counts:"
psql --no-psqlrc --no-password -h "$POSTGRES_HOST" -p "$POSTGRES_PORT" -U "$POSTGRES_USER" \
  -d "$POSTGRES_DB" -v ON_ERROR_STOP=1 -X <<'SQL'
SELECT 'agents' AS table, COUNT(*) FROM agents
UNION ALL SELECT 'rooms', COUNT(*) FROM rooms
UNION ALL SELECT 'messages', COUNT(*) FROM messages
UNION ALL SELECT 'api_tokens', COUNT(*) FROM api_tokens
UNION ALL SELECT 'audit_events', COUNT(*) FROM audit_events;
SQL

log "done. Next: docker compose up -d agenthub; curl http://localhost:3000/healthz; curl http://localhost:3000/readyz"
log "and check the audit chain: docker compose exec agenthub node dist/src/cli/audit-verify.js"
