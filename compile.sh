#!/usr/bin/env bash
# Builds dist/aws-cni and dist/ipamd with `deno compile`, permissions baked in.
#
#   bash compile.sh            compile both (needs a denort base binary, see below)
#   bash compile.sh --check    type-check both entry points only
#
# Environment:
#   DENO        the deno binary (default: `deno` on PATH)
#   DENORT_BIN  path of the denort base binary matching DENO's version; passed through to deno compile.
#               Without it deno compile downloads denort, which fails on machines without internet.
#   DIST_DIR    output directory (default: dist/ next to this script)
#   AWS_CNI_ENTRY, IPAMD_ENTRY   entry points (default src/cni/main.ts, src/ipamd/main.ts; for tests)
#
# aws-cni permissions (the least that works):
#   --allow-ffi    netlink through libnl-3 / libnl-route-3 and setns through libc (Deno.dlopen)
#   --allow-read   CNI_NETNS (any path: /var/run/netns/x, /proc/<pid>/ns/net), /proc/thread-self/ns/net,
#                  sysctls under /proc/sys, and the ipamd socket (path set by the conflist's ipamdSocket)
#   --allow-write  sysctls under /proc/sys, the plugin log (path set by pluginLogFile), the ipamd socket
#   --allow-env    CNI_COMMAND, CNI_NETNS, CNI_ARGS, ... and VPC_CNI_LIBNL_DIR
#   --allow-net    Deno.createHttpClient over the unix socket needs net access to "unix:<path>"; the path
#                  is configurable, so it cannot be narrowed at compile time. aws-cni opens no TCP socket.
#   no --allow-run, --allow-sys: the plugin starts no processes and reads no system info.
# ipamd permissions: all of the above plus
#   --allow-run    iptables-restore / iptables-save (SNAT and connmark rules)
#   --allow-sys    hostname and OS info (the AWS and Kubernetes SDKs read them)
#   --allow-net    EC2, IMDS, the Kubernetes API, metrics :61678, introspection :61679, its socket
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
DENO="${DENO:-deno}"
dist="${DIST_DIR:-$here/dist}"

CNI_ENTRY="${AWS_CNI_ENTRY:-src/cni/main.ts}"
IPAMD_ENTRY="${IPAMD_ENTRY:-src/ipamd/main.ts}"
CNI_PERMS=(--allow-ffi --allow-read --allow-write --allow-env --allow-net)
IPAMD_PERMS=(--allow-ffi --allow-read --allow-write --allow-env --allow-net --allow-run --allow-sys)

die() {
  echo "compile.sh: $*" >&2
  exit 1
}

command -v "$DENO" >/dev/null 2>&1 || die "no deno binary '$DENO' (set DENO to a deno 2.9.6 binary)"

if [[ "${1:-}" == "--check" ]]; then
  status=0
  for entry in "$CNI_ENTRY" "$IPAMD_ENTRY"; do
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

for entry in "$CNI_ENTRY" "$IPAMD_ENTRY"; do
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
compile "$IPAMD_ENTRY" ipamd "${IPAMD_PERMS[@]}"
