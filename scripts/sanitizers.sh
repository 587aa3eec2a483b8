#!/usr/bin/env bash
# Runs the Swift unit tests under ThreadSanitizer and/or AddressSanitizer, each in its own
# scratch folder (.build-tsan, .build-asan), then a concurrent load on that sanitizer's
# lynx-portal binary through Caddy (Tests/sanitizers/). Fails on any sanitizer report.
# Records its figures in experiments/reliability/RESULTS.md (section "sanitizers").
#
# Before trusting "no report", each sanitizer first builds and runs a deliberately broken canary
# (Tests/sanitizers/canary/) and requires a report from it.
set -Eeuo pipefail

usage() { echo "usage: scripts/sanitizers.sh [thread|address|all]   (default all)" >&2; exit 2; }

[ $# -le 1 ] || usage
choice=${1:-all}
case "$choice" in
    thread) sanitizers=(thread) ;;
    address) sanitizers=(address) ;;
    all) sanitizers=(thread address) ;;
    *) usage ;;
esac

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
swift=${SWIFT:-swift}
toolchain_bin=$(dirname "$(readlink -f "$(command -v "$swift")")")
symbolizer="$toolchain_bin/llvm-symbolizer"
suppressions="$repo/Tests/sanitizers/tsan-suppressions.txt"
work=$(mktemp -d "${TMPDIR:-/tmp}/lynx-sanitizers.XXXXXX")
logs="$repo/.build-sanitizer-logs"
mkdir -p "$logs"
trap 'rm -rf "$work"' EXIT
trap 'echo "sanitizers.sh: unexpected failure at line $LINENO: $BASH_COMMAND" >&2' ERR
# The first line of every ThreadSanitizer, AddressSanitizer and LeakSanitizer report.
report_pattern='WARNING: ThreadSanitizer|ERROR: AddressSanitizer|ERROR: LeakSanitizer|SUMMARY: (Thread|Address)Sanitizer'

export SWIFT_BACKTRACE=enable=no
tsan_options="halt_on_error=0:second_deadlock_stack=1:print_suppressions=1:external_symbolizer_path=$symbolizer"
if [ -f "$suppressions" ]; then tsan_options="$tsan_options:suppressions=$suppressions"; fi
export TSAN_OPTIONS="${TSAN_OPTIONS:-$tsan_options}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$repo/Tests/sanitizers/lsan-suppressions.txt:print_suppressions=1}"
export ASAN_SYMBOLIZER_PATH="$symbolizer"

rows="$work/rows.md"
notes="$work/notes.md"
: >"$rows"
: >"$notes"
failed=""

row() { echo "| $* |" >>"$rows"; }

record() {
    local verdict="passed: zero sanitizer reports"
    [ -z "$failed" ] || verdict="**FAILED**: $failed"
    {
        echo "Result: $verdict. Logs of the last run: \`.build-sanitizer-logs/\` (not committed)."
        echo
        echo "| sanitizer | step | figures | time |"
        echo "| --- | --- | --- | --- |"
        cat "$rows"
        echo
        cat "$notes"
    } | python3 experiments/reliability/record.py sanitizers "Unit tests and the binary under sanitizers" \
        "scripts/sanitizers.sh $choice"
}

# fail STEP MESSAGE LOG: records what ran so far, shows the log's report, and stops.
fail() {
    failed="$1: $2"
    echo "sanitizers.sh: step '$1' failed: $2" >&2
    if [ -n "${3:-}" ] && [ -f "$3" ]; then
        if grep -q -E "$report_pattern" "$3"; then
            grep -m1 -n -E -A60 "$report_pattern" "$3" >&2
        else
            tail -60 "$3" >&2
        fi
        echo "sanitizers.sh: full log: $3" >&2
    fi
    record
    exit 1
}

count_reports() { grep -c -E "$report_pattern" "$1" || true; }

run_canary() {
    local sanitizer=$1 source=$2 expected=$3
    local log="$logs/$sanitizer-canary.log" started=$SECONDS
    if ! "$toolchain_bin/swiftc" -sanitize="$sanitizer" "Tests/sanitizers/canary/$source" -o "$work/canary-$sanitizer" >"$log" 2>&1; then
        fail "$sanitizer canary" "swiftc -sanitize=$sanitizer could not build Tests/sanitizers/canary/$source" "$log"
    fi
    "$work/canary-$sanitizer" >>"$log" 2>&1 || true
    if ! grep -q "$expected" "$log"; then
        fail "$sanitizer canary" "the deliberate bug in $source gave no '$expected' report" "$log"
    fi
    row "$sanitizer | canary: \`Tests/sanitizers/canary/$source\`, a deliberate bug | reported, as it must be | $((SECONDS - started)) s"
}

run_unit_tests() {
    local sanitizer=$1 scratch=$2
    local build_log="$logs/$sanitizer-build.log" test_log="$logs/$sanitizer-test.log"
    echo "sanitizers.sh: building the package and its tests with --sanitize=$sanitizer into $scratch"
    local started=$SECONDS
    if ! "$swift" build --build-tests --sanitize="$sanitizer" --scratch-path "$scratch" >"$build_log" 2>&1; then
        fail "$sanitizer build" "swift build --build-tests --sanitize=$sanitizer failed" "$build_log"
    fi
    local build_seconds=$((SECONDS - started))
    row "$sanitizer | build (\`swift build --build-tests --sanitize=$sanitizer --scratch-path $scratch\`) | – | ${build_seconds} s"

    echo "sanitizers.sh: running the unit tests under $sanitizer"
    started=$SECONDS
    local status=0
    "$swift" test --skip-build --sanitize="$sanitizer" --scratch-path "$scratch" >"$test_log" 2>&1 || status=$?
    local test_seconds=$((SECONDS - started))
    local reports tests
    reports=$(count_reports "$test_log")
    tests=$(grep -o -E 'Test run with [0-9]+ tests?' "$test_log" | grep -o -E '[0-9]+' | tail -1 || true)
    local xctests
    xctests=$(grep -o -E 'Executed [0-9]+ tests?' "$test_log" | grep -o -E '[0-9]+' | tail -1 || true)
    local suppressed
    # TSan: "ThreadSanitizer: Matched N suppressions"; LSan: "Suppressions used:", a header, then
    # "COUNT BYTES PATTERN" lines up to a dashed line.
    suppressed=$(awk '/ThreadSanitizer: Matched [0-9]+ suppressions/ {sum += $3}
        /^Suppressions used:/ {lsan = 1; next}
        lsan && /^-+$/ {lsan = 0}
        lsan && $1 ~ /^[0-9]+$/ {sum += $1}
        END {print sum + 0}' "$test_log")
    row "$sanitizer | unit tests | ${tests:-0} Swift Testing tests, ${xctests:-0} XCTest tests, exit $status, $reports report lines, ${suppressed:-0} suppressed | ${test_seconds} s"
    if [ "$reports" -gt 0 ]; then
        fail "$sanitizer unit tests" "$reports sanitizer report lines" "$test_log"
    fi
    if [ "$status" -ne 0 ]; then
        fail "$sanitizer unit tests" "swift test exited $status" "$test_log"
    fi
    if [ -z "$tests" ] || [ "$tests" -eq 0 ]; then
        fail "$sanitizer unit tests" "no test ran" "$test_log"
    fi
}

run_load() {
    local sanitizer=$1 scratch=$2
    local log="$logs/$sanitizer-load.log" summary="$work/$sanitizer-load.json"
    local binary="$repo/$scratch/debug/lynx-portal"
    [ -x "$binary" ] || fail "$sanitizer load" "no binary at $binary" ""
    echo "sanitizers.sh: concurrent load through Caddy on the $sanitizer binary"
    local started=$SECONDS status=0
    (cd Tests/sanitizers && LYNX_PORTAL_BIN="$binary" LYNX_EXPECT_SANITIZER="$sanitizer" \
        LYNX_LOAD_SUMMARY="$summary" LYNX_LOAD_KEEP_LOG="$logs/$sanitizer-portal.log" \
        python3 -m pytest -q -p no:cacheprovider test_concurrent_load.py) >"$log" 2>&1 || status=$?
    local seconds=$((SECONDS - started))
    local figures="no summary written"
    if [ -f "$summary" ]; then
        figures=$(python3 - "$summary" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
statuses = ", ".join(f"{code}: {count}" for code, count in sorted(s["statuses"].items()))
print(f"{s['learners']} learners x {s['rounds']} rounds, {s['requests']} requests ({statuses}), "
      f"{s['journal_writes']} journal writes, {s['template_reloads']} SIGHUP reloads, "
      f"portal exit {s['portal_exit_code']}, {s['sanitizer_report_lines']} report lines, "
      f"suppressed: {', '.join(f'{p} ×{n}' for p, n in s['suppressed'].items()) or 'none'}")
EOF
        )
    fi
    row "$sanitizer | load on \`lynx-portal\` through Caddy (8 workers) | $figures; pytest exit $status | ${seconds} s"
    if [ "$status" -ne 0 ]; then
        fail "$sanitizer load" "Tests/sanitizers/test_concurrent_load.py failed (portal stderr kept in $logs/$sanitizer-portal.log if it had a report)" "$log"
    fi
}

total_started=$SECONDS
for sanitizer in "${sanitizers[@]}"; do
    case "$sanitizer" in
        thread)
            run_canary thread DataRace.swift "WARNING: ThreadSanitizer"
            run_unit_tests thread .build-tsan
            run_load thread .build-tsan
            ;;
        address)
            run_canary address UseAfterFree.swift "ERROR: AddressSanitizer: heap-use-after-free"
            run_unit_tests address .build-asan
            run_load address .build-asan
            ;;
    esac
done
{
    echo "Suppressions, each entry with its reason: \`Tests/sanitizers/tsan-suppressions.txt\` (ThreadSanitizer"
    echo "cannot see Synchronization.Mutex's contended path: races on a Mutex's own value) and"
    echo "\`Tests/sanitizers/lsan-suppressions.txt\` (XCTest's runner objects alive at exit)."
} >>"$notes"
echo "Total: $((SECONDS - total_started)) s on $(nproc) cores." >>"$notes"
record
echo "sanitizers.sh: ${sanitizers[*]}: zero reports ($((SECONDS - total_started)) s)"
