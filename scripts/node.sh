#!/usr/bin/env bash
# Runs `node "$@"` under a Node new enough for the repository's tooling (>= 22.12: wrangler's minimum, and the
# oldest line the package supports). The first `node` on PATH is used when it is new enough; otherwise the Node 22
# that `npm ci` installs into node_modules/node22 (devDependency `node22`, a Linux x64 build), so a machine whose only
# system Node is older still runs `npm start`, `npm test` and `npm run bench`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
MIN_MAJOR=22
MIN_MINOR=12

new_enough() {
  local v
  v="$("$1" -p 'process.versions.node' 2>/dev/null)" || return 1
  local major="${v%%.*}" rest="${v#*.}"
  local minor="${rest%%.*}"
  [ "$major" -gt "$MIN_MAJOR" ] || { [ "$major" -eq "$MIN_MAJOR" ] && [ "$minor" -ge "$MIN_MINOR" ]; }
}

if command -v node >/dev/null 2>&1 && new_enough node; then
  exec node "$@"
fi
bundled="$root/node_modules/node22/bin/node"
if [ -x "$bundled" ] && new_enough "$bundled"; then
  exec "$bundled" "$@"
fi
have="$(node --version 2>/dev/null || echo none)"
echo "scripts/node.sh: Node >= $MIN_MAJOR.$MIN_MINOR is needed (found $have) and $bundled is missing;" \
  "run \`npm ci\` (which installs it) or install Node 22 or 24" >&2
exit 1
