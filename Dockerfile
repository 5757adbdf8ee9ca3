# Two images from one file. Node 24 runs the TypeScript sources directly (type stripping): no build
# step, runtime dependencies only.
#   product (the default: the last stage)   tokenwatch itself — node service/cli.ts serve
#   demo    (target: demo)                   the demo's companions in docker-compose.yml: the reference
#                                            auth server (node examples/auth-server/main.ts) and the
#                                            demo's traffic (node tools/demo/demo.ts --attach)
# The product image holds the product only: no SDK, examples or tools.
# test/unit/compose.test.ts checks that each image holds every module its entrypoints import, and
# that the product image holds nothing else.
FROM node:24-slim AS base
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM base AS demo
COPY NOTICE ./NOTICE
COPY contract ./contract
COPY platform ./platform
COPY ingest ./ingest
COPY detectors ./detectors
COPY response ./response
COPY sdk/src ./sdk/src
COPY examples ./examples
COPY tools/local-stack ./tools/local-stack
COPY tools/demo ./tools/demo
COPY tools/simulator ./tools/simulator
USER node
ENTRYPOINT ["node", "tools/demo/demo.ts"]

FROM base AS product
# the attribution of geoip-lite's bundled GeoLite2 data (CC BY-SA 4.0)
COPY NOTICE ./NOTICE
COPY contract ./contract
COPY platform ./platform
COPY ingest ./ingest
COPY detectors ./detectors
COPY response ./response
COPY service ./service
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s CMD node -e "fetch('http://127.0.0.1:'+(process.env.TOKENWATCH_PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "service/cli.ts"]
CMD ["serve"]
