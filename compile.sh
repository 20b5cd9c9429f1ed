#!/usr/bin/env bash
# Builds dist/aws-cni, dist/egress-cni and dist/ipamd with `deno compile`, permissions baked in.
#
#   bash compile.sh            compile both (needs a denort base binary, see below)
#   bash compile.sh --check    type-check both entry points only
#
# Environment:
#   DENO        the deno binary (default: `deno` on PATH)
#   DENORT_BIN  path of the denort base binary matching DENO's version; passed through to deno compile.
#               Without it deno compile downloads denort, which fails on machines without internet.
#   DIST_DIR    output directory (default: dist/ next to this script)
#   AWS_CNI_ENTRY, EGRESS_CNI_ENTRY, IPAMD_ENTRY   entry points (default src/cni/main.ts,
#               src/egress/main.ts, src/ipamd/main.ts; for tests)
#
# Permissions: every binary gets --allow-all, on purpose (egress-cni is a CNI plugin like aws-cni: same needs).
#   - Both load libnl and libc through Deno.dlopen (--allow-ffi), and FFI code runs outside Deno's sandbox:
#     with --allow-ffi no other flag is a real boundary any more.
#   - Deno 2.x also refuses /proc/<pid>/ns/* (checking that CNI_NETNS is a namespace) and writes under
#     /proc/sys (veth and ENI sysctls) unless the process has --allow-all. With narrower flags every ADD fails.
#   What each one touches: aws-cni reads CNI_* env, the netns path, /proc/sys, the ipamd unix socket and its
#   log; ipamd adds EC2/IMDS/Kubernetes over HTTP, iptables-restore, ports 61678/61679 and its socket.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
DENO="${DENO:-deno}"
dist="${DIST_DIR:-$here/dist}"

CNI_ENTRY="${AWS_CNI_ENTRY:-src/cni/main.ts}"
EGRESS_ENTRY="${EGRESS_CNI_ENTRY:-src/egress/main.ts}"
IPAMD_ENTRY="${IPAMD_ENTRY:-src/ipamd/main.ts}"
CNI_PERMS=(--allow-all)
IPAMD_PERMS=(--allow-all)
# ipamd's V8 flags: the one home is IPAMD_V8_FLAGS in src/ipamd/process_memory.ts (tests/compile_test.ts checks
# this line against it). A 1 MiB young generation instead of V8's 16 MiB, and lite mode: ~40 MiB less RSS
# (docs/PERFORMANCE.md).
IPAMD_V8_FLAGS="--max-semi-space-size=1,--lite-mode"

die() {
  echo "compile.sh: $*" >&2
  exit 1
}

command -v "$DENO" >/dev/null 2>&1 || die "no deno binary '$DENO' (set DENO to a deno 2.9.6 binary)"

if [[ "${1:-}" == "--check" ]]; then
  status=0
  for entry in "$CNI_ENTRY" "$EGRESS_ENTRY" "$IPAMD_ENTRY"; do
    if [[ ! -f "$entry" ]]; then
      echo "compile.sh: skip: $entry does not exist yet"
      continue
    fi
    "$DENO" check "$entry" || status=1
  done
  exit "$status"
elif [[ $# -gt 0 ]]; then
  die "unknown argument '$1' (usage: compile.sh [--check])"
fi

denort_help="deno compile needs the denort base binary of the same version as '$DENO' \
($("$DENO" --version | head -1)). It downloads it unless DENORT_BIN names it, and this machine cannot \
download it. Get denort-x86_64-unknown-linux-gnu for that version onto the machine and run: \
DENORT_BIN=/path/to/denort bash compile.sh"

if [[ -n "${DENORT_BIN:-}" && ! -x "$DENORT_BIN" ]]; then
  die "DENORT_BIN=$DENORT_BIN is not an executable file. $denort_help"
fi

for entry in "$CNI_ENTRY" "$EGRESS_ENTRY" "$IPAMD_ENTRY"; do
  [[ -f "$entry" ]] || die "$entry does not exist yet; nothing to compile"
done

mkdir -p "$dist"

# compile ENTRY NAME PERMS...: build into a temp name, move into place only on success.
compile() {
  local entry="$1" name="$2"
  shift 2
  local tmp="$dist/.$name.tmp.$$" log
  log="$(mktemp)"
  if ! "$DENO" compile --no-prompt "$@" --output "$tmp" "$entry" 2> >(tee "$log" >&2); then
    rm -f "$tmp"
    if grep -qiE 'denort|base binary' "$log"; then
      rm -f "$log"
      die "could not get the denort base binary. $denort_help"
    fi
    rm -f "$log"
    die "deno compile $entry failed"
  fi
  rm -f "$log"
  mv -f "$tmp" "$dist/$name"
  echo "compile.sh: built $dist/$name"
}

compile "$CNI_ENTRY" aws-cni "${CNI_PERMS[@]}"
compile "$EGRESS_ENTRY" egress-cni "${CNI_PERMS[@]}"
compile "$IPAMD_ENTRY" ipamd "${IPAMD_PERMS[@]}" "--v8-flags=$IPAMD_V8_FLAGS"
