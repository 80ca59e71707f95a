#!/usr/bin/env bash
# Command-level benchmark: whole `certmig` commands against simple baselines
# over the same input, timed side by side in one run.
#
#   benches/commands.sh                       # 1 000 000 bulk certificates (~1 GB .sst)
#   CERTMIG_BENCH_CERTS=100000 benches/commands.sh   # quicker (~100 MB)
#
# It builds `cargo build --release`, generates the input with
# `certmig gen --machines 1 --certs-per-machine N --bulk --format sst` into a
# temporary directory under /tmp (removed at the end; set
# CERTMIG_BENCH_KEEP=1 to keep it), warms the page cache, then runs each row
# once under `/usr/bin/time -v` and prints a table: command, wall seconds,
# CPU seconds (user + system, all threads), MB/s over the input, the ratio of its rate to its baseline's rate (1.00 = as
# fast as the baseline), and peak RSS. The load average is printed too: on a
# shared machine, compare figures only between runs with a similar load.
#
# CERTMIG_BENCH_BEFORE=/path/to/another/certmig runs every certmig row with
# both binaries, twice each in the order A B B A ("NAME @before" is the other
# binary; same input, same baseline): before/after figures of a change from
# one run.
#
# Adding a row is one line at the bottom:
#   row NAME BASELINE -- command args...
# where BASELINE is the NAME of an earlier row (or `-` for none). The
# command's stdout goes to /dev/null; `$STORE` is the generated .sst and
# `$CERTMIG` the release binary.
set -euo pipefail

cd "$(dirname "$0")/.."
N=${CERTMIG_BENCH_CERTS:-1000000}
CERTMIG=$PWD/target/release/certmig
TIME=/usr/bin/time
[[ -x $TIME ]] || { echo "commands.sh: needs GNU time at $TIME" >&2; exit 1; }

cargo build --release --bin certmig >&2

WORK=$(mktemp -d /tmp/certmig-bench.XXXXXX)
if [[ -z ${CERTMIG_BENCH_KEEP:-} ]]; then trap 'rm -rf "$WORK"' EXIT; fi
echo "generating $N bulk certificates into $WORK ..." >&2
"$CERTMIG" gen --machines 1 --certs-per-machine "$N" --bulk --format sst --out "$WORK/gen" >/dev/null
STORE=$(ls "$WORK"/gen/*.sst | head -n 1)
BYTES=$(stat -c %s "$STORE")
cat "$STORE" >/dev/null # warm the page cache

declare -A SECS=()
ROWS=()

# row NAME BASELINE -- command...: runs the command once, timed.
row() {
    local name=$1 base=$2
    shift 2
    [[ ${1:-} == -- ]] && shift
    local log="$WORK/time.$name.log" status=0
    # What earlier rows wrote is on disk first, so that no row pays for
    # another's writeback.
    sync
    "$TIME" -v -o "$log" "$@" >/dev/null 2>"$WORK/stderr.$name.log" || status=$?
    local wall rss secs cpu
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log")
    cpu=$(awk -F': ' '/User time \(seconds\)|System time \(seconds\)/ { c += $2 } END { printf "%.2f", c }' "$log")
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log")
    secs=$(awk -v t="$wall" 'BEGIN { n = split(t, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.3f", s }')
    SECS[$name]=$secs
    local rate ratio
    rate=$(awk -v b="${RATE_BYTES:-$BYTES}" -v s="$secs" 'BEGIN { printf "%.1f", (s > 0 ? b / s / 1e6 : 0) }')
    if [[ $base != - && -n ${SECS[$base]:-} ]]; then
        ratio=$(awk -v b="${SECS[$base]}" -v s="$secs" 'BEGIN { printf "%.2f", (s > 0 ? b / s : 0) }')
    else
        ratio=-
    fi
    [[ $status == 0 ]] || name="$name (exit $status)"
    ROWS+=("$(printf '%-22s %9s %8s %10s %8s %-14s %10.1f' "$name" "$secs" "$cpu" "$rate" "$ratio" "$base" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')")")
}

# crow NAME BASELINE -- args...: a certmig row (`$CERTMIG args`), and the
# same with $CERTMIG_BENCH_BEFORE when it is set.
crow() {
    local name=$1 base=$2
    shift 2
    [[ ${1:-} == -- ]] && shift
    if [[ -z ${CERTMIG_BENCH_BEFORE:-} ]]; then
        row "$name" "$base" -- "$CERTMIG" "$@"
        return
    fi
    # Both binaries twice, in the order A B B A: a row that runs first after
    # another (page cache, writeback) is not always the same binary.
    local pass bin label
    for pass in "$CERTMIG" "$CERTMIG_BENCH_BEFORE" "$CERTMIG_BENCH_BEFORE" "$CERTMIG"; do
        # Each run writes where the one before it wrote: start clean.
        rm -rf "$WORK/gen2"
        label="$name"
        [[ $pass == "$CERTMIG_BENCH_BEFORE" ]] && label="$name @before"
        row "$label" "$base" -- "$pass" "$@"
    done
}

row "openssl sha1"       -             -- openssl sha1 "$STORE"
row "cat"                -             -- cat "$STORE"
crow "scan --json"       "openssl sha1" -- scan "$STORE" --json
crow "scan (human)"      "openssl sha1" -- scan "$STORE"
row "cp+fsync"           -             -- sh -c 'cp "$1" "$2" && sync "$2"' sh "$STORE" "$WORK/copy.sst"
crow "fix -o"            "cp+fsync"    -- fix "$STORE" -o "$WORK/fixed.sst"
row "fix in place"       "cp+fsync"    -- "$CERTMIG" fix "$WORK/copy.sst" --no-backup
crow "gen --bulk sst"    "cp+fsync"    -- gen --machines 1 --certs-per-machine "$N" --bulk --format sst --out "$WORK/gen2"
# .reg: one large export (read rate), and a directory of exports (inventory).
M=${CERTMIG_BENCH_EXPORTS:-100000}
row "gen --bulk reg x$M" -             -- "$CERTMIG" gen --machines "$M" --bulk --format reg --out "$WORK/exports"
"$CERTMIG" gen --machines 1 --certs-per-machine "$((N / 20))" --bulk --format reg --out "$WORK/bigreg" >/dev/null
BIGREG=$(ls "$WORK"/bigreg/*.reg | head -n 1)
cat "$BIGREG" >/dev/null
# From here, MB/s is over big.reg's size.
RATE_BYTES=$(stat -c %s "$BIGREG")
row "cat big.reg"        -             -- cat "$BIGREG"
row "sha1 big.reg"       -             -- openssl sha1 "$BIGREG"
crow "scan big.reg --json" "sha1 big.reg" -- scan "$BIGREG" --json
crow "scan big.reg"      "sha1 big.reg" -- scan "$BIGREG"
unset RATE_BYTES
find "$WORK/exports" -name '*.reg' -exec cat {} + >/dev/null
row "cat exports"        -             -- sh -c 'find "$1" -name "*.reg" -exec cat {} + >/dev/null' sh "$WORK/exports"
crow "inventory --csv"   "cat exports" -- fleet --inventory "$WORK/exports" --target win7-sp1 --csv
crow "inventory (table)" "cat exports" -- fleet --inventory "$WORK/exports" --target win7-sp1

echo
echo "input: $STORE, $N certificates, $BYTES bytes; big.reg: $(stat -c %s "$BIGREG") bytes; $M exports; $(nproc) cores; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "(MB/s is over the .sst's size, and over big.reg's for the big.reg rows; for the inventory rows compare seconds with their baseline)"
printf '%-22s %9s %8s %10s %8s %-14s %10s\n' command seconds "cpu s" "MB/s" ratio "baseline" "peak MB"
printf '%s\n' "${ROWS[@]}"
echo "(ratio = baseline seconds / seconds: 1.00 means as fast as the baseline; load average after: $(cut -d' ' -f1-3 /proc/loadavg))"
