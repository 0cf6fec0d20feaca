#!/usr/bin/env bash
# Runs a command under another Node.js major version, with the binary from the npm registry's `node` package
# (cached by npx after the first run): `npm run test:node -- 24` runs the whole `npm test` under Node.js 24.
#
#   bash tools/node.sh MAJOR [COMMAND ...]    default command: npm test
set -euo pipefail
major="${1:-}"
if ! [[ "$major" =~ ^[0-9]+$ ]]; then
  echo "usage: npm run test:node -- MAJOR [COMMAND ...]   (e.g. 22 or 24; the default command is npm test)" >&2
  exit 2
fi
shift
[ $# -gt 0 ] || set -- npm test
bin="$(npx --yes --package "node@$major" -c 'dirname "$(command -v node)"')"
export PATH="$bin:$PATH"
echo "Node.js $(node --version) from the npm registry's node@$major: $*" >&2
exec "$@"
