# One image for tokenwatch and its companions in docker-compose.yml. Node 24 runs the TypeScript
# sources directly (type stripping): no build step, runtime dependencies only.
#   default                                     tokenwatch: node ingest/cli.ts serve
#   entrypoint node examples/auth-server/main.ts         the reference auth server
#   entrypoint node tools/demo/demo.ts --attach    the demo's traffic and attacks against running services
# test/unit/compose.test.ts checks that every module these three import is copied here.
FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY platform ./platform
COPY ingest ./ingest
COPY detectors ./detectors
COPY response ./response
COPY sdk/src ./sdk/src
COPY examples ./examples
COPY tools/local-stack ./tools/local-stack
COPY tools/demo ./tools/demo
COPY tools/simulator ./tools/simulator
COPY contract ./contract
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s CMD node -e "fetch('http://127.0.0.1:'+(process.env.TOKENWATCH_PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "ingest/cli.ts"]
CMD ["serve"]
