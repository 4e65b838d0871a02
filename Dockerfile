# The metrics bridge as an image: `metrics` by default; `mock_worker`, `system_server`, `frontend` and `loadgen` too.
#
#   docker build -t dynamo-otel-metrics:0.1.0 .
#   docker run --rm -p 9091:9091 -e NATS_SERVER=nats://nats:4222 -e ETCD_ENDPOINTS=http://etcd:2379 \
#     dynamo-otel-metrics:0.1.0 --component backend --endpoint generate
#
# Stage 1 compiles the TypeScript and packs the package exactly as npm would publish it; stage 2
# installs that tarball with production dependencies only and runs as the unprivileged `node` user.
# Node.js 26, the current LTS line; `.ci/run` runs the whole suite on it (scripts/test-lts.sh).
# test/deploy/image.test.ts runs these same WORKDIR/COPY/RUN steps in a temp directory.

FROM node:26-bookworm-slim AS build
WORKDIR /build
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
COPY index.ts ./
COPY src ./src
COPY instrumentation ./instrumentation
COPY bin ./bin
COPY config ./config
COPY docs ./docs
COPY examples ./examples
COPY static ./static
COPY README.md CHANGELOG.md ./
RUN npm run build && mkdir -p /pkg && npm pack --ignore-scripts --pack-destination /pkg --loglevel=error

FROM node:26-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /pkg /pkg
RUN npm install --global --omit=dev --no-audit --no-fund --loglevel=error /pkg/dynamo-otel-metrics-*.tgz && rm -rf /pkg
USER node
EXPOSE 9091 8081 8000
# /health of `metrics`: 200 while it leads with a current view or stands by able to take over, 503
# otherwise; it never renders /metrics. For a worker, point it at its status server's /health.
ENV HEALTHCHECK_URL=http://127.0.0.1:9091/health
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.HEALTHCHECK_URL).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["metrics"]
