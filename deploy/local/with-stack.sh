#!/usr/bin/env bash
# Run a command with the local stack up; stop the stack afterwards (also on failure or Ctrl-C)
# unless it was already running before, so a developer's own `make up` is left alone.
set -uo pipefail
STACK="$(dirname "${BASH_SOURCE[0]}")/stack.sh"

started=0
if ! "$STACK" status >/dev/null 2>&1; then
  started=1
fi
cleanup() {
  if [[ $started == 1 ]]; then "$STACK" down; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$STACK" up || exit 1
"$@"
