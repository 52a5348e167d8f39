#!/usr/bin/env bash
# Backup/restore drill against the local PostgreSQL (runbook "Database Backup & Restore"), run by
# .ci/run. On a scratch database agenthub_test_backup_<pid> owned by a scratch login role (not a
# superuser, like the runbook's `agenthub`):
#   migrations -> data in every table (audit rows through the chain trigger) -> scripts/backup.sh
#   -> drop the database -> scripts/restore.sh -> same row counts (runbook SQL), same rows (md5 per
#   table), same audit ids/hashes, `npm run audit:verify` intact, triggers and sequence working.
# Also: retention pruning, the --daily loop, and the refusals (bad dump, live sessions, no --yes,
# wrong database) that must leave the database untouched. Everything is removed on exit.
#
# Environment: PGHOST (127.0.0.1), PGPORT (5432), PGSUPERUSER (postgres) of the local server.
set -euo pipefail
cd "$(dirname "$0")/.."

pg_host="${PGHOST:-127.0.0.1}"
pg_port="${PGPORT:-5432}"
superuser="${PGSUPERUSER:-postgres}"
db="agenthub_test_backup_$$"
role="agenthub_test_backup_$$"
work="$(mktemp -d -t agenthub-backup-test-XXXXXX)"
backups="$work/backups"
pids=()

started_all=$(date +%s)
step() { printf '\n--- %s\n' "$*"; }
die() {
  printf 'test-backup-restore: FAILED: %s\n' "$*" >&2
  exit 1
}
su_psql() { psql --no-psqlrc -X -v ON_ERROR_STOP=1 -h "$pg_host" -p "$pg_port" -U "$superuser" "$@"; }
app_psql() { psql --no-psqlrc -X -v ON_ERROR_STOP=1 -h "$pg_host" -p "$pg_port" -U "$role" -d "$db" "$@"; }

cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  su_psql -d postgres -q -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  su_psql -d postgres -q -c "DROP ROLE IF EXISTS \"$role\"" >/dev/null 2>&1 || true
  rm -rf "$work"
  if [ $status -eq 0 ]; then
    echo "test-backup-restore: ok ($(($(date +%s) - started_all)) s)"
  else
    echo "test-backup-restore: FAILED (exit $status)" >&2
  fi
}
trap cleanup EXIT

# The scripts' environment, as the runbook and the compose backup service set it.
export POSTGRES_HOST="$pg_host" POSTGRES_PORT="$pg_port" POSTGRES_USER="$role" POSTGRES_DB="$db"
export POSTGRES_ADMIN_USER="$superuser" POSTGRES_DB_OWNER="$role"
export BACKUP_DIR="$backups" RETENTION_DAYS=30
export DATABASE_URL="postgres://$role@$pg_host:$pg_port/$db"
unset PGDATABASE PGUSER

runbook_counts() {
  app_psql -At <<'SQL'
SELECT 'agents' AS table, COUNT(*) FROM agents
UNION ALL SELECT 'rooms', COUNT(*) FROM rooms
UNION ALL SELECT 'messages', COUNT(*) FROM messages
UNION ALL SELECT 'api_tokens', COUNT(*) FROM api_tokens
UNION ALL SELECT 'audit_events', COUNT(*) FROM audit_events;
SQL
}

# One line per table: row count and the md5 of every row in primary-key order; plus the state of
# the audit id sequence and the triggers on audit_events.
fingerprint() {
  app_psql -At <<'SQL'
SELECT 'agents', count(*), md5(coalesce(string_agg(t::text, E'\n' ORDER BY id), '')) FROM agents t
UNION ALL SELECT 'api_tokens', count(*), md5(coalesce(string_agg(t::text, E'\n' ORDER BY id), '')) FROM api_tokens t
UNION ALL SELECT 'jwt_revocations', count(*), md5(coalesce(string_agg(t::text, E'\n' ORDER BY jti), '')) FROM jwt_revocations t
UNION ALL SELECT 'rooms', count(*), md5(coalesce(string_agg(t::text, E'\n' ORDER BY id), '')) FROM rooms t
UNION ALL SELECT 'room_members', count(*), md5(coalesce(string_agg(t::text, E'\n' ORDER BY room_id, agent_id), '')) FROM room_members t
UNION ALL SELECT 'messages', count(*), md5(coalesce(string_agg(t::text, E'\n' ORDER BY room_id, seq), '')) FROM messages t
UNION ALL SELECT 'audit_events', count(*), md5(coalesce(string_agg(t::text, E'\n' ORDER BY id), '')) FROM audit_events t
UNION ALL SELECT 'typeorm_migrations', count(*), md5(coalesce(string_agg(t::text, E'\n' ORDER BY id), '')) FROM typeorm_migrations t
UNION ALL SELECT 'audit_events_id_seq', last_value, is_called::text FROM audit_events_id_seq
UNION ALL SELECT 'audit_events triggers', count(*), string_agg(tgname, ',' ORDER BY tgname)
  FROM pg_trigger WHERE tgrelid = 'audit_events'::regclass AND NOT tgisinternal;
SQL
}

audit_verify() {
  local out
  out=$(npm run -s audit:verify 2>&1) || die "audit:verify failed: $out"
  echo "$out"
  grep -q "audit chain intact: $1 events checked" <<<"$out" || die "audit:verify did not check $1 intact events: $out"
}

expect_failure() { # expect_failure <label> <pattern> <command...>
  local label=$1 pattern=$2 out
  shift 2
  if out=$("$@" 2>&1); then die "$label: expected a failure, got success: $out"; fi
  grep -Eq "$pattern" <<<"$out" || die "$label: expected /$pattern/ in: $out"
  echo "ok: $label -> $(grep -E "$pattern" <<<"$out" | head -1)"
}

step "scratch role $role and database $db on $pg_host:$pg_port"
pg_isready -h "$pg_host" -p "$pg_port" -q || die "PostgreSQL is not answering on $pg_host:$pg_port"
su_psql -d postgres -q <<SQL
CREATE ROLE "$role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE DATABASE "$db" OWNER "$role";
SQL
mkdir -p "$backups"

step "migrations (npm run migration:run)"
t=$(date +%s)
npm run -s migration:run >"$work/migrations.log" 2>&1 || { cat "$work/migrations.log"; die "migrations failed"; }
echo "migrated in $(($(date +%s) - t)) s"

step "data: agents, api_tokens, jwt_revocations, rooms, room_members, messages, audit_events"
app_psql -q <<'SQL'
BEGIN;
INSERT INTO agents (id, name, display_name, role, disabled, metadata, rate_limits, created_at, last_seen_at)
SELECT gen_random_uuid(), 'agent-' || i, CASE WHEN i % 3 = 0 THEN NULL ELSE 'Agent №' || i || ' "quoted" ☃' END,
       CASE WHEN i = 1 THEN 'admin' ELSE 'agent' END, i % 7 = 0,
       jsonb_build_object('i', i, 'tags', jsonb_build_array('a', 'b'), 'nested', jsonb_build_object('ünï', 'cödé', 'n', NULL)),
       CASE WHEN i % 5 = 0 THEN '{"restPerMinute": 1200}'::jsonb END,
       now() - make_interval(days => i), CASE WHEN i % 2 = 0 THEN now() - make_interval(mins => i) END
FROM generate_series(1, 25) i;
INSERT INTO api_tokens (id, agent_id, name, prefix, token_hash, created_at, expires_at, last_used_at, revoked_at)
SELECT gen_random_uuid(), a.id, 'token ' || k, 'ahp_' || substr(md5(a.name || k), 1, 6),
       sha256(convert_to(a.name || ':' || k, 'UTF8')), now() - interval '3 days',
       CASE WHEN k = 2 THEN now() + interval '30 days' END, now() - interval '1 hour',
       CASE WHEN k = 2 AND a.name LIKE '%3' THEN now() END
FROM agents a CROSS JOIN generate_series(1, 2) k;
INSERT INTO jwt_revocations (jti, agent_id, expires_at)
SELECT gen_random_uuid(), id, now() + interval '15 minutes' FROM agents WHERE name IN ('agent-2', 'agent-4');
INSERT INTO rooms (id, name, topic, visibility, kind, direct_key, created_by, archived_at)
SELECT gen_random_uuid(), 'room-' || r, 'Topic of room ' || r || E' with a\nnewline',
       CASE WHEN r % 2 = 0 THEN 'private' ELSE 'public' END, 'group', NULL,
       (SELECT id FROM agents WHERE name = 'agent-1'), CASE WHEN r = 6 THEN now() END
FROM generate_series(1, 6) r;
INSERT INTO rooms (id, name, visibility, kind, direct_key, created_by)
SELECT gen_random_uuid(), 'dm-agent-2-agent-3', 'private', 'direct', 'agent-2:agent-3', id FROM agents WHERE name = 'agent-2';
INSERT INTO room_members (room_id, agent_id, role, last_read_seq)
SELECT r.id, a.id, CASE WHEN a.name = 'agent-1' THEN 'owner' ELSE 'member' END, 0
FROM rooms r JOIN agents a ON r.kind = 'group' OR a.name IN ('agent-2', 'agent-3');
-- Messages: gapless seq per room, bodies with every escaping hazard COPY has, JSON data, replies.
INSERT INTO messages (id, room_id, seq, sender_id, body, data, reply_to, client_msg_id, created_at)
SELECT gen_random_uuid(), r.id, s,
       (SELECT id FROM agents WHERE name = 'agent-' || (1 + (s % 25))),
       CASE s % 5
         WHEN 0 THEN E'tab\there, newline\nthere, backslash \\ and \\N, CR\r, quote '' "dq"'
         WHEN 1 THEN '<script>alert(1)</script> ünïcödé 😀 ' || s
         WHEN 2 THEN repeat('x', 16384)
         WHEN 3 THEN E'\\.\nline starting with backslash-dot above'
         ELSE 'message ' || s END,
       CASE WHEN s % 4 = 0 THEN jsonb_build_object('seq', s, 'payload', jsonb_build_array(1, 2.5, true, NULL, 'é')) END,
       NULL, CASE WHEN s % 3 = 0 THEN 'client-' || r.name || '-' || s END,
       now() - make_interval(secs => 1000 - s)
FROM rooms r CROSS JOIN generate_series(1, 300) s WHERE r.kind = 'group';
INSERT INTO messages (id, room_id, seq, sender_id, body, created_at)
SELECT gen_random_uuid(), r.id, s, (SELECT id FROM agents WHERE name = 'agent-2'), 'dm ' || s, now()
FROM rooms r CROSS JOIN generate_series(1, 10) s WHERE r.kind = 'direct';
UPDATE messages m SET reply_to = p.id FROM messages p
WHERE p.room_id = m.room_id AND p.seq = m.seq - 1 AND m.seq % 10 = 0;
UPDATE rooms r SET last_seq = (SELECT max(seq) FROM messages WHERE room_id = r.id);
COMMIT;
-- Audit rows through the chain trigger (it assigns id, prev_hash and hash), one statement per
-- batch as the app does.
INSERT INTO audit_events (type, agent_id, target_type, target_id, ip, request_id, data, created_at)
SELECT (ARRAY['jwt-issued', 'auth-failed', 'token-created', 'room-created', 'member-added', 'rate-limited'])[1 + i % 6],
       CASE WHEN i % 4 = 0 THEN NULL ELSE (SELECT id FROM agents WHERE name = 'agent-' || (1 + i % 25)) END,
       CASE WHEN i % 2 = 0 THEN 'room' END, CASE WHEN i % 2 = 0 THEN 'room-' || i END,
       CASE WHEN i % 3 = 0 THEN '192.168.1.' || i % 250 ELSE '::1' END, 'req-' || i,
       jsonb_build_object('i', i, 'note', E'quote '' backslash \\ newline \n ünï'),
       now() - make_interval(secs => 500 - i)
FROM generate_series(1, 250) i;
INSERT INTO audit_events (type, data) VALUES ('agent-updated', '{"last": true}');
SQL
runbook_counts | sed 's/^/  /'
before=$(fingerprint)
audit_verify 251

step "refusals that must leave everything untouched"
expect_failure "backup.sh without POSTGRES_DB" "set POSTGRES_DB" env -u POSTGRES_DB bash scripts/backup.sh
expect_failure "backup.sh with a bad RETENTION_DAYS" "RETENTION_DAYS must be" env RETENTION_DAYS=0 bash scripts/backup.sh
expect_failure "backup.sh of a database that is not AgentHub's" "is POSTGRES_DB .* the AgentHub database" \
  env POSTGRES_DB=postgres POSTGRES_USER="$superuser" bash scripts/backup.sh
[ -z "$(ls -A "$backups")" ] || die "a refused backup left files behind: $(ls -A "$backups")"
expect_failure "restore.sh without a dump" "no dump file given" bash scripts/restore.sh --yes
expect_failure "restore.sh with a missing dump" "no such file" bash scripts/restore.sh --yes "$work/nope.dump"
head -c 4096 /dev/urandom >"$work/corrupt.dump"
expect_failure "restore.sh with a corrupt dump" "not a readable pg_dump archive" bash scripts/restore.sh --yes "$work/corrupt.dump"
su_psql -d postgres -Atq -c "SELECT 1" >/dev/null
[ "$(fingerprint)" = "$before" ] || die "a refused restore changed the database"

step "backup (scripts/backup.sh) with retention: 31-day-old dump and stale partial go, the rest stays"
touch -d '31 days ago' "$backups/agenthub_backup_20000101_000000.dump"
touch -d '29 days ago' "$backups/agenthub_backup_20000102_000000.dump"
touch -d '40 days ago' "$backups/unrelated-file.dump" "$backups/agenthub_backup_notes.txt"
touch -d '2 days ago' "$backups/.agenthub_backup_20000103_000000.dump.partial"
t=$(date +%s)
bash scripts/backup.sh
echo "backup took $(($(date +%s) - t)) s"
mapfile -t dumps < <(find "$backups" -maxdepth 1 -name 'agenthub_backup_2*.dump' -newer "$backups/agenthub_backup_20000102_000000.dump")
[ ${#dumps[@]} -eq 1 ] || die "expected one new dump, found: ${dumps[*]:-none}"
dump=${dumps[0]}
[[ "$(basename "$dump")" =~ ^agenthub_backup_[0-9]{8}_[0-9]{6}\.dump$ ]] || die "unexpected dump name $dump"
[ "$(stat -c %a "$dump")" = 600 ] || die "dump is not private (mode $(stat -c %a "$dump"))"
[ ! -e "$backups/agenthub_backup_20000101_000000.dump" ] || die "the 31-day-old dump was not pruned"
[ ! -e "$backups/.agenthub_backup_20000103_000000.dump.partial" ] || die "the stale partial dump was not pruned"
for keep in agenthub_backup_20000102_000000.dump unrelated-file.dump agenthub_backup_notes.txt; do
  [ -e "$backups/$keep" ] || die "retention deleted $keep"
done
pg_restore --list "$dump" | grep -q 'TRIGGER public audit_events audit_events_chain' || die "dump lacks the audit chain trigger"

step "restore refuses while a session uses the database, and without --yes"
app_psql -q -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do
  [ "$(su_psql -d postgres -At -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db' AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()")" = 1 ] && break
  sleep 0.1
done
expect_failure "restore.sh with a live session" "stop the service first" bash scripts/restore.sh --yes "$dump"
# End that session server-side (killing the client would leave pg_sleep running on the server).
su_psql -d postgres -Atq -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '$db'" >/dev/null
wait "${pids[-1]}" 2>/dev/null || true
for _ in $(seq 1 50); do
  [ "$(su_psql -d postgres -At -c "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db'")" = 0 ] && break
  sleep 0.1
done
expect_failure "restore.sh without --yes and no terminal" "pass --yes" bash scripts/restore.sh "$dump" </dev/null
[ "$(fingerprint)" = "$before" ] || die "a refused restore changed the database"

step "disaster: drop the database"
su_psql -d postgres -q -c "DROP DATABASE \"$db\""

step "restore (scripts/restore.sh)"
t=$(date +%s)
bash scripts/restore.sh --yes "$dump" | tee "$work/restore.log"
echo "restore took $(($(date +%s) - t)) s"
grep -Eq '^ audit_events +\| +251$' "$work/restore.log" || die "restore.sh did not print the runbook's row counts"
[ "$(su_psql -d postgres -At -c "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '$db'")" = "$role" ] ||
  die "restored database is not owned by $role"

step "compare: runbook row counts, rows, audit ids/hashes, sequence, triggers"
after=$(fingerprint)
diff <(echo "$before") <(echo "$after") || die "restored data differs (above: < before, > after)"
echo "$after" | sed 's/^/  /'
audit_verify 251

step "the restored audit log still chains and stays append-only"
app_psql -q -c "INSERT INTO audit_events (type, data) VALUES ('agent-updated', '{\"after\": \"restore\"}')"
app_psql -At <<'SQL' | grep -qx t || die "the first row after the restore did not continue the chain"
SELECT e.id = 252 AND e.prev_hash = p.hash
FROM audit_events e JOIN audit_events p ON p.id = e.id - 1 WHERE e.id = (SELECT max(id) FROM audit_events);
SQL
audit_verify 252
expect_failure "UPDATE audit_events after the restore" "append-only" app_psql -c "UPDATE audit_events SET type = 'x' WHERE id = 1"
expect_failure "TRUNCATE audit_events after the restore" "append-only" app_psql -c "TRUNCATE audit_events"

step "restore --force over a database in use"
app_psql -q -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
pids+=($!)
sleep 0.5
bash scripts/restore.sh --yes --force "$dump" >"$work/restore-force.log" || { cat "$work/restore-force.log"; die "restore --force failed"; }
wait "${pids[-1]}" 2>/dev/null || true
[ "$(fingerprint)" = "$before" ] || die "restore --force did not bring back the dumped data"
echo "ok: restore --force terminated the session and restored the dump"

step "backup.sh --daily: backs up on start (BACKUP_ON_START=true), then exits 0 on SIGTERM"
[[ "$(BACKUP_TIME_UTC=02:00 bash scripts/backup.sh --next-run)" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T02:00:00Z$ ]] ||
  die "--next-run does not print the next 02:00 UTC"
next=$(date -u -d "$(BACKUP_TIME_UTC=02:00 bash scripts/backup.sh --next-run)" +%s)
now=$(date -u +%s)
[ "$next" -gt "$now" ] && [ "$next" -le $((now + 86400)) ] || die "--next-run is not within the next 24 h"
rm -f "$backups"/agenthub_backup_2*.dump
BACKUP_ON_START=true bash scripts/backup.sh --daily >"$work/daily.log" 2>&1 &
daily_pid=$!
pids+=("$daily_pid")
for _ in $(seq 1 100); do
  grep -q 'next backup at' "$work/daily.log" && break
  sleep 0.1
done
grep -q 'wrote .*agenthub_backup_.*verified with pg_restore --list' "$work/daily.log" ||
  { cat "$work/daily.log"; die "--daily with BACKUP_ON_START=true did not back up"; }
t=$(date +%s%3N)
kill -TERM "$daily_pid"
wait "$daily_pid" || { cat "$work/daily.log"; die "--daily did not exit 0 on SIGTERM"; }
echo "ok: --daily backed up at start, then stopped $(($(date +%s%3N) - t)) ms after SIGTERM"
sed 's/^/  /' "$work/daily.log"
