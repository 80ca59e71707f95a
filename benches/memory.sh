#!/usr/bin/env bash
# Peak memory of every command on its worst input: the bounded-memory
# promise of README.md and SECURITY.md, measured (BENCHMARKS.md, "Peak
# memory of every command").
#
#   benches/memory.sh                          # the figures in BENCHMARKS.md
#   CERTMIG_MEM_CERTS=20000 benches/memory.sh  # a quicker run
#
# It builds `cargo build --release`, makes the inputs in a temporary
# directory under /tmp (removed at the end; CERTMIG_BENCH_KEEP=1 keeps it),
# runs each command once under `/usr/bin/time -v` and prints a Markdown
# table: command, input, exit code, wall seconds, peak RSS. A command that
# refuses its input (exit 1 or 2) is a row too: refusing a 2 GB file must
# cost nothing.
set -euo pipefail

cd "$(dirname "$0")/.."
N=${CERTMIG_MEM_CERTS:-200000}
CERTMIG=$PWD/target/release/certmig
TIME=/usr/bin/time
[[ -x $TIME ]] || { echo "memory.sh: needs GNU time at $TIME" >&2; exit 1; }
cargo build --release --bin certmig >&2

W=$(mktemp -d /tmp/certmig-mem.XXXXXX)
if [[ -z ${CERTMIG_BENCH_KEEP:-} ]]; then trap 'chmod -R u+rwx "$W"; rm -rf "$W"' EXIT; fi
echo "making the inputs in $W ..." >&2

# A store of N bulk certificates, and a REGEDIT5 export of N/4.
"$CERTMIG" gen --machines 1 --certs-per-machine "$N" --bulk --format sst --out "$W/big" >/dev/null
BIG=$(ls "$W"/big/*.sst)
"$CERTMIG" gen --machines 1 --certs-per-machine $((N / 4)) --bulk --format reg --out "$W/bigreg" >/dev/null
BIGREG=$(ls "$W"/bigreg/*.reg)
# 96 MiB of the smallest elements a store can hold (14 bytes each): the
# most elements per byte, the worst case for anything kept per element.
python3 - "$W/tiny.sst" <<'PY'
import struct, sys
el = struct.pack('<III', 32, 1, 2) + b'\x30\x00'
with open(sys.argv[1], 'wb') as f:
    f.write(struct.pack('<I', 0) + b'CERT')
    f.write(el * ((96 << 20) // len(el)))
    f.write(bytes(12))
PY
# Sparse 2 GiB files: zeros (read as one element), a mix, a scenario.
truncate -s 2G "$W/zeros.sst" "$W/huge-mix.toml" "$W/huge-scenario.toml"
# A blob directory and an inventory of many exports.
"$CERTMIG" gen --machines 1 --certs-per-machine $((N / 10)) --format blob --bulk --out "$W/blobs" >/dev/null
BLOBDIR=$(dirname "$(find "$W/blobs" -name '*.blob' | head -n 1)")
"$CERTMIG" gen --machines $((N / 20)) --format reg --bulk --out "$W/gen-exports" >/dev/null
mkdir "$W/exports"
find "$W/gen-exports" -name '*.reg' -exec mv -t "$W/exports" {} +
# A directory of hostile entries beside a real store.
mkdir "$W/hostile"
cp "$BIG" "$W/hostile/"
mkfifo "$W/hostile/fifo.sst"
ln -s /dev/zero "$W/hostile/zero.sst"
ln -s . "$W/hostile/a"
ln -s . "$W/hostile/b"
python3 -c "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" "$W/hostile/sock.sst"

size() { du -h --apparent-size "$1" | cut -f1; }
echo "| command | worst input | exit | seconds | peak RSS |"
echo "|---|---|---|---|---|"
row() {
    local input=$1
    shift
    local log="$W/time.log" status=0
    "$TIME" -v -o "$log" "$@" >/dev/null 2>"$W/stderr.log" </dev/null || status=$?
    local wall rss
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log")
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log")
    local shown="${*:2}"
    shown=${shown//$W\//}
    printf '| `certmig %s` | %s | %s | %s | %.1f MB |\n' "$shown" "$input" "$status" "$wall" "$(awk -v k="$rss" 'BEGIN { print k / 1000 }')"
}
C=$CERTMIG
row "$(size "$BIG") store, $N certificates" $C scan "$BIG"
row "the same" $C scan --json "$BIG"
row "the same" $C scan --lenient "$BIG"
row "$(size "$W/tiny.sst") store of $(((96 << 20) / 14)) 14-byte elements" $C scan "$W/tiny.sst"
row "the same" $C scan --json "$W/tiny.sst"
row "the same" $C scan --lenient --json "$W/tiny.sst"
row "$(size "$BIGREG") REGEDIT5 export, $((N / 4)) certificates" $C scan "$BIGREG"
row "2 GiB of zeros (sparse)" $C scan "$W/zeros.sst"
row "directory: a store, a FIFO, a link to /dev/zero, two link loops, a socket" $C scan "$W/hostile"
row "$(size "$W/tiny.sst") store of tiny elements" $C dump "$W/tiny.sst"
row "the same" $C dump --lenient "$W/tiny.sst"
row "2 GiB of zeros (sparse)" $C dump "$W/zeros.sst"
row "$(size "$BIG") store" $C fix "$BIG" -o "$W/fixed.sst"
row "the same" $C fix "$BIG" --json -o "$W/fixed.sst"
row "$(size "$W/tiny.sst") store of tiny elements" $C fix --dry-run "$W/tiny.sst"
row "$(size "$BIGREG") REGEDIT5 export (read whole)" $C fix "$BIGREG" -o "$W/fixed.reg"
row "$(find "$BLOBDIR" -name '*.blob' | wc -l) .blob files (a set: read whole)" $C fix "$BLOBDIR" --dry-run
row "2 GiB of zeros (sparse)" $C fix "$W/zeros.sst"
row "directory of hostile entries" $C fix "$W/hostile"
row "1 000 000 machines" $C fleet --machines 1000000
row "2 GiB mix (sparse)" $C fleet --machines 10 --mix "$W/huge-mix.toml"
row "$(find "$W/exports" -name '*.reg' | wc -l) exports" $C fleet --inventory "$W/exports" --target win7-sp1
row "directory of hostile entries" $C fleet --inventory "$W/hostile" --target win7-sp1
row "the shipped scenarios" $C replay
row "2 GiB scenario (sparse)" $C replay "$W/huge-scenario.toml"
row "$((N / 20)) machines" $C gen --machines $((N / 20)) --out "$W/gen"
row "the reference fixer (its processes included), 2 000 cases" $C validate --cases 2000 --fixer "$C fix {in} -o {out}"
# crosscheck runs on Windows or under Wine only (it calls crypt32).
