# platform-server for production (Railway with its Postgres plugin, which sets DATABASE_URL and PORT).
# Build: docker build -t platform-server .   Run: docker run -p 8080:8080 -e DATABASE_URL=postgres://… platform-server

# --- build: compile the native SQLite binding and bundle the server into one ESM file -------------
FROM node:20-slim AS build
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/domain/package.json packages/domain/
COPY packages/server/package.json packages/server/
COPY packages/cli/package.json packages/cli/
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3
COPY tsconfig.json ./
COPY scripts scripts
COPY packages packages
RUN node scripts/build.mjs server

# --- runtime: production dependencies only, non-root ----------------------------------------------
FROM node:20-slim
ENV NODE_ENV=production \
    PORT=8080 \
    AGENT_MARKETPLACE_DATA_DIR=/app/data
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/domain/package.json packages/domain/
COPY packages/server/package.json packages/server/
COPY packages/cli/package.json packages/cli/
# --ignore-scripts: no toolchain here; the one native binding comes from the build stage (same base image).
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/node_modules/better-sqlite3/build/Release/better_sqlite3.node node_modules/better-sqlite3/build/Release/better_sqlite3.node
COPY --from=build /app/packages/server/dist packages/server/dist
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM reaches node directly (exec form): it stops accepting, drains in-flight requests, closes the pool.
CMD ["node", "packages/server/dist/main.mjs"]
