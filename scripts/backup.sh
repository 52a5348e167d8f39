#!/usr/bin/env bash
# AgentHub database backup: runbook "Database Backup & Restore".
#
#   scripts/backup.sh             one backup now (the runbook's "Manual backup")
#   scripts/backup.sh --daily     run forever: one backup a day at BACKUP_TIME_UTC (the runbook's
#                                 "Automated backups"; the compose `backup` service runs this)
#   scripts/backup.sh --next-run  print when --daily would take its next backup, then exit
#
# A backup is the runbook's command,
#   pg_dump -h $POSTGRES_HOST -U $POSTGRES_USER -d $POSTGRES_DB --format=custom \
#     --file=agenthub_backup_$(date +%Y%m%d_%H%M%S).dump
# written into BACKUP_DIR (the timestamp is UTC), checked with `pg_restore --list` before it gets
# its final name, after which dumps older than RETENTION_DAYS are deleted. A failed backup deletes
# nothing.
#
# Environment:
#   POSTGRES_HOST, POSTGRES_USER, POSTGRES_DB   required
#   POSTGRES_PORT                               default 5432
#   PGPASSWORD                                  password of POSTGRES_USER (or use ~/.pgpass)
#   BACKUP_DIR                                  default: the current directory
#   RETENTION_DAYS                              default 30
#   BACKUP_TIME_UTC                             HH:MM, default 02:00 (--daily only)
#   BACKUP_ON_START                             true: --daily also backs up at once (default false)
set -euo pipefail

readonly SELF="${BASH_SOURCE[0]}"
# Tables an AgentHub dump must contain; their absence means the wrong database was dumped.
readonly EXPECTED_TABLES=(agents api_tokens rooms room_members messages audit_events)

log() { printf '%s backup: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
fail() {
  printf '%s backup: ERROR: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2
  exit 1
}
usage() {
  sed -n '2,/^set -euo pipefail/{/^set -euo pipefail/d;s/^# \{0,1\}//;p}' "$SELF"
}

require_env() {
  local name missing=()
  for name in "$@"; do
    [ -n "${!name:-}" ] || missing+=("$name")
  done
  [ ${#missing[@]} -eq 0 ] || fail "set ${missing[*]} (see scripts/backup.sh --help)"
}

validate_settings() {
  POSTGRES_PORT="${POSTGRES_PORT:-5432}"
  BACKUP_DIR="${BACKUP_DIR:-.}"
  RETENTION_DAYS="${RETENTION_DAYS:-30}"
  BACKUP_TIME_UTC="${BACKUP_TIME_UTC:-02:00}"
  [[ "$RETENTION_DAYS" =~ ^[0-9]+$ ]] && [ "$RETENTION_DAYS" -ge 1 ] ||
    fail "RETENTION_DAYS must be a whole number of days >= 1 (got '$RETENTION_DAYS')"
  [[ "$BACKUP_TIME_UTC" =~ ^([01][0-9]|2[0-3]):[0-5][0-9]$ ]] ||
    fail "BACKUP_TIME_UTC must be HH:MM in UTC, 00:00 to 23:59 (got '$BACKUP_TIME_UTC')"
  [[ "$POSTGRES_PORT" =~ ^[0-9]+$ ]] || fail "POSTGRES_PORT must be a port number (got '$POSTGRES_PORT')"
}

# One backup. Runs in its own process when called from --daily, so `set -e` applies in full.
backup_once() {
  require_env POSTGRES_HOST POSTGRES_USER POSTGRES_DB
  command -v pg_dump >/dev/null || fail "pg_dump not found: install the PostgreSQL client tools"
  mkdir -p "$BACKUP_DIR"
  [ -w "$BACKUP_DIR" ] || fail "BACKUP_DIR $BACKUP_DIR is not writable"
  umask 077 # dumps hold API-token hashes and every message

  local started name final partial toc entries table size
  started=$(date +%s)
  name="agenthub_backup_$(date -u +%Y%m%d_%H%M%S).dump"
  final="$BACKUP_DIR/$name"
  partial="$BACKUP_DIR/.$name.partial"
  [ ! -e "$final" ] || fail "$final already exists"
  # shellcheck disable=SC2064 # expand now: the names are fixed for this run
  trap "rm -f '$partial'" EXIT

  log "dumping database $POSTGRES_DB on $POSTGRES_HOST:$POSTGRES_PORT as $POSTGRES_USER"
  pg_dump -h "$POSTGRES_HOST" -p "$POSTGRES_PORT" -U "$POSTGRES_USER" -d "$POSTGRES_DB" \
    --no-password --format=custom --file="$partial" ||
    fail "pg_dump failed; nothing was pruned"

  # Integrity check (runbook: pg_restore --list): the archive must be readable end to end ...
  toc=$(pg_restore --list "$partial") || fail "pg_restore --list cannot read the dump; nothing was pruned"
  # ... and be an AgentHub database.
  for table in "${EXPECTED_TABLES[@]}"; do
    grep -Eq "^[0-9]+; [0-9]+ [0-9]+ TABLE DATA public $table " <<<"$toc" ||
      fail "the dump has no data section for table $table: is POSTGRES_DB ($POSTGRES_DB) the AgentHub database? Nothing was pruned"
  done
  entries=$(grep -Ecv '^;|^$' <<<"$toc")
  mv "$partial" "$final"
  trap - EXIT
  size=$(du -h "$final" | cut -f1)
  log "wrote $final ($size, $entries archive entries, verified with pg_restore --list) in $(($(date +%s) - started)) s"

  prune
}

# Deletes this script's dumps (agenthub_backup_*.dump) last modified more than RETENTION_DAYS ago,
# and leftovers of interrupted runs (.agenthub_backup_*.dump.partial) older than a day.
prune() {
  local old
  find "$BACKUP_DIR" -maxdepth 1 -type f -name '.agenthub_backup_*.dump.partial' -mmin +1440 \
    -print -delete | sed 's/^/retention: deleted interrupted /' | while IFS= read -r line; do log "$line"; done
  old=$(find "$BACKUP_DIR" -maxdepth 1 -type f -name 'agenthub_backup_*.dump' \
    -mmin +$((RETENTION_DAYS * 24 * 60)) -print)
  if [ -z "$old" ]; then
    log "retention: no dump older than $RETENTION_DAYS days"
    return
  fi
  while IFS= read -r file; do
    rm -f -- "$file"
    log "retention: deleted $file (older than $RETENTION_DAYS days)"
  done <<<"$old"
}

# Epoch seconds of the next BACKUP_TIME_UTC strictly after now.
next_run_epoch() {
  local now next
  now=$(date -u +%s)
  next=$(date -u -d "$(date -u +%Y-%m-%d) $BACKUP_TIME_UTC" +%s)
  if [ "$next" -le "$now" ]; then
    next=$(date -u -d "$(date -u +%Y-%m-%d) $BACKUP_TIME_UTC tomorrow" +%s)
  fi
  echo "$next"
}

daily() {
  require_env POSTGRES_HOST POSTGRES_USER POSTGRES_DB
  local sleeper=''
  # PID 1 in a container: exit promptly on `docker compose stop`.
  trap 'log "stopping"; [ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null; exit 0' TERM INT
  log "daily backups at $BACKUP_TIME_UTC UTC into $BACKUP_DIR, keeping $RETENTION_DAYS days"
  if [ "${BACKUP_ON_START:-false}" = true ]; then
    bash "$SELF" || log "backup FAILED (exit $?); next attempt at the scheduled time"
  fi
  local next
  while true; do
    next=$(next_run_epoch)
    log "next backup at $(date -u -d "@$next" +%Y-%m-%dT%H:%M:%SZ)"
    sleep $((next - $(date -u +%s))) &
    sleeper=$!
    wait "$sleeper" || true
    sleeper=''
    bash "$SELF" || log "backup FAILED (exit $?); next attempt at the scheduled time"
  done
}

case "${1:-}" in
  '')
    [ $# -le 1 ] || fail "unexpected argument '$2' (see --help)"
    validate_settings
    backup_once
    ;;
  --daily)
    [ $# -eq 1 ] || fail "unexpected argument '$2' (see --help)"
    validate_settings
    daily
    ;;
  --next-run)
    validate_settings
    date -u -d "@$(next_run_epoch)" +%Y-%m-%dT%H:%M:%SZ
    ;;
  -h | --help)
    usage
    ;;
  *)
    usage >&2
    fail "unknown argument '$1'"
    ;;
esac
