# Shared helpers for murmur's scripts. Source it; do not run it.
# Everything the project installs goes under one cache directory, reused across clones.

MURMUR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MURMUR_CACHE="${MURMUR_CACHE:-$HOME/.cache/murmur}"
export MURMUR_ROOT MURMUR_CACHE
# One shared cargo target directory for every clone: builds are the bottleneck on small machines.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$MURMUR_CACHE/target}"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
