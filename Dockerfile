# syntax=docker/dockerfile:1
# Node 24 LTS on Debian slim, pinned to one Debian release so a rebuild does not change the OS under us.
# The same steps run outside Docker in .ci/run (build, prune dev dependencies, start, /healthz);
# test/ops/dockerfile.test.ts keeps the two in step.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
COPY console ./console
# Compiles src/ into dist/, migrations/ into dist/migrations and the console into
# dist/console-app (the server only: the
# workspace packages, packages/ and examples/, are not part of the image).
RUN npm run build:server

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 DATA_DIR=/data
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY policies ./policies
# Embedded mode (no DATABASE_URL) keeps its PGlite data here: mount a volume on it.
RUN mkdir -p /data && chown node:node /data
# `castellan <command>` on the PATH: `docker run --rm castellan castellan loadtest --help`.
RUN ln -s /app/dist/cli.js /usr/local/bin/castellan
# Code and dependencies stay root-owned and read-only to the process.
USER node
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Node runs as PID 1 (exec form, no shell), so SIGTERM reaches its graceful shutdown.
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
