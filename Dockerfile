# Glossa: the translation server with the shipped reference model (models/glossa-mini-50), CPU engine.
#   docker build -t glossa .            docker run -p 8080:8080 glossa        (compose.yaml adds Prometheus)
# Stage 1 builds the native engine (node-gyp), the TypeScript and the web pages; stage 2 holds only what runs,
# as a non-root user. The GPU variant is deploy/cuda/Dockerfile.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
# Compilers for the native engine and better-sqlite3 (node-gyp).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# Dependencies and the native engine first: this layer is reused until package*.json or native/ change.
COPY package.json package-lock.json .npmrc tsconfig.json ./
COPY native/ native/
COPY src/ src/
COPY web/ web/
# npm ci: installs, builds native/ (install script), compiles src/ and bundles web/ into dist/ (prepare script).
# /out gets what runs: the addon (src/engine/native.ts finds the root by native/binding.gyp), dist, production deps.
RUN npm ci --no-audit --no-fund \
 && npm prune --omit=dev --no-audit --no-fund \
 && mkdir -p /out/native/build/Release \
 && cp native/build/Release/glossa_native.node /out/native/build/Release/ \
 && cp native/binding.gyp /out/native/ \
 && cp -r dist node_modules package.json /out/

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=8080 \
    GLOSSA_HOST=0.0.0.0 \
    GLOSSA_DB=/data/glossa.sqlite \
    GLOSSA_ENGINES_DIR=/data/engines
WORKDIR /app
COPY --from=build /out/ ./
COPY migrations/ migrations/
COPY eval/ eval/
COPY calib-data/ calib-data/
COPY models/glossa-mini-50/ models/glossa-mini-50/
# The registry (GLOSSA_DB) and calibrated engine files live in /data, the only place the server user may write.
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home glossa \
 && mkdir -p /data/engines \
 && chown -R glossa:glossa /data
VOLUME ["/data"]
USER glossa
EXPOSE 8080
# Ready = the engine is loaded (GET /ready answers 503 while loading).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/server/main.js"]
