# Helpers of the kind scripts; sourced, not run.
# shellcheck shell=bash

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
pass() { printf '   ok: %s\n' "$*"; }

# eventually CMD...: retry a check for up to a minute.
eventually() {
  local i
  for i in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    [ "$i" -lt 60 ] && sleep 1
  done
  return 1
}
