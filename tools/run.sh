#!/usr/bin/env bash
# Entry point of the npm scripts: makes sure the tools are there (Node 24, npm packages), then runs
#   run.sh test        lint, typecheck and every test (unit + integration on real ClickHouse/Kafka)
#   run.sh demo        the main job on local infrastructure
#   run.sh CMD ARGS…   any command with Node 24 first on PATH
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tools/node-env.sh
source tools/node-env.sh

# npm packages: installed when missing or when package-lock.json changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "tokenwatch: installing npm packages (npm ci)…" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
export PATH="$PWD/node_modules/.bin:$PATH"

# Python's chdb embeds a current ClickHouse: the tests run our SQL on it as well as on 18.16.
ensure_chdb() {
  if ! python3 -c 'import chdb' 2>/dev/null; then
    echo "tokenwatch: installing chdb (pip) to check SQL against current ClickHouse…" >&2
    python3 -m pip install --quiet --disable-pip-version-check chdb >&2 \
      || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages chdb >&2
  fi
}

case "${1:-}" in
  test)
    shift
    ensure_chdb
    biome check .
    tsc -p .
    mkdir -p .state
    status=0
    vitest run --reporter=default --reporter=json --outputFile.json=.state/vitest-report.json "$@" || status=$?
    # One plain closing line for CI: "N passed, N failed".
    node -e 'const r = JSON.parse(require("fs").readFileSync(".state/vitest-report.json", "utf8")); console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed`)' || true
    exit "$status"
    ;;
  demo)
    shift
    # --auth keycloak|oidc-provider: the demo against a real auth server, a program of its own
    # (tools/real-auth-demo/; the demo image, which runs tools/demo/, carries neither server)
    previous=""
    for arg in "$@"; do
      case "$previous $arg" in
        "--auth keycloak" | "--auth oidc-provider" | *" --auth=keycloak" | *" --auth=oidc-provider")
          exec node tools/real-auth-demo/real-auth.ts "$@" ;;
      esac
      previous="$arg"
    done
    exec node tools/demo/demo.ts "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
