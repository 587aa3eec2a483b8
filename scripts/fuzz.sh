#!/usr/bin/env bash
# Builds the libFuzzer target over the FastCGI request parser (Fuzz/) with AddressSanitizer and
# runs it for a bounded time from the committed corpus, then records its figures in
# experiments/reliability/RESULTS.md (section "fuzz"; under .records/ unless LYNX_RECORD=1, see
# experiments/records.py). Exits non-zero on any crash, leak or
# broken invariant, and prints the path of the input that did it.
#
# New corpus entries go to a temporary folder; --update-corpus merges the ones that add coverage
# into Fuzz/corpus (commit those). Extra libFuzzer flags can be passed in LYNX_FUZZ_FLAGS.
set -Eeuo pipefail

usage() { echo "usage: scripts/fuzz.sh [--update-corpus] [SECONDS]   (default 120 seconds)" >&2; exit 2; }

update_corpus=false
seconds=120
for argument in "$@"; do
    case "$argument" in
        --update-corpus) update_corpus=true ;;
        -h | --help) usage ;;
        *[!0-9]* | '') usage ;;
        *) seconds=$argument ;;
    esac
done
[ "$seconds" -gt 0 ] || usage

command="scripts/fuzz.sh${*:+ $*}"
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
swift=${SWIFT:-swift}
scratch=.build-fuzz
corpus=Fuzz/corpus
max_len=4096
work=$(mktemp -d "${TMPDIR:-/tmp}/lynx-fuzz.XXXXXX")
keep_work=false
cleanup() { if [ "$keep_work" = false ]; then rm -rf "$work"; fi; }
trap cleanup EXIT
trap 'echo "fuzz.sh: unexpected failure at line $LINENO: $BASH_COMMAND" >&2' ERR
mkdir -p "$work/new-corpus" "$work/artifacts"

fail() { echo "fuzz.sh: $*" >&2; exit 1; }

# Optimised (-O, with -g for the stacks): about three times the executions per second of -Onone,
# and Swift keeps its bounds and overflow checks at -O.
echo "fuzz.sh: building Fuzz/ with -sanitize=fuzzer,address into $scratch"
build_started=$SECONDS
if ! "$swift" build --package-path Fuzz -c release --scratch-path "$scratch" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -g >"$work/build.log" 2>&1; then
    grep -v "Cannot export local symbol" "$work/build.log" | tail -40 >&2
    fail "building the fuzzer failed (step: swift build --package-path Fuzz)"
fi
build_seconds=$((SECONDS - build_started))
fuzzer="$scratch/release/RequestParsingFuzzer"
[ -x "$fuzzer" ] || fail "building the fuzzer produced no $fuzzer"

corpus_files=$(find "$corpus" -type f | wc -l)
corpus_bytes=$(du -sb "$corpus" | cut -f1)
echo "fuzz.sh: running for ${seconds}s from $corpus ($corpus_files inputs), new inputs in $work/new-corpus"

toolchain_bin=$(dirname "$(readlink -f "$(command -v "$swift")")")
# The Swift runtime's own crash backtracer runs inside the ASan process and trips ASan itself;
# turn it off so libFuzzer's handler prints the sanitizer's stack and saves the input.
export SWIFT_BACKTRACE=enable=no
export ASAN_SYMBOLIZER_PATH="$toolchain_bin/llvm-symbolizer"
read -r -a extra_flags <<<"${LYNX_FUZZ_FLAGS:-}"
run_started=$SECONDS
status=0
# The new-corpus folder comes first: libFuzzer writes new inputs only to the first folder.
"$fuzzer" "$work/new-corpus" "$corpus" \
    -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
    -dict=Fuzz/fuzz.dict -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
    "${extra_flags[@]}" >"$work/fuzz.log" 2>&1 || status=$?
run_seconds=$((SECONDS - run_started))

figure() { sed -n "s/^stat::$1: *//p" "$work/fuzz.log" | tail -1; }
runs=$(figure number_of_executed_units)
execs=$(figure average_exec_per_sec)
new_units=$(figure new_units_added)
peak_rss=$(figure peak_rss_mb)
inited=$(grep -m1 -E '^#[0-9]+[[:space:]]+INITED' "$work/fuzz.log" | sed -E 's/.*(cov: [0-9]+ ft: [0-9]+).*/\1/' || true)
final=$(grep -E '^#[0-9]+[[:space:]]+(DONE|NEW|REDUCE|pulse|INITED)' "$work/fuzz.log" | tail -1 |
    sed -E 's/.*(cov: [0-9]+ ft: [0-9]+ corp: [^ ]+).*/\1/' || true)
mapfile -t crashes < <(find "$work/artifacts" -type f | sort)

if [ "$status" -ne 0 ] || [ "${#crashes[@]}" -gt 0 ]; then
    keep_work=true
    grep -v "Cannot export local symbol" "$work/fuzz.log" | grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)' | tail -80 >&2
    verdict="**FAILED**: libFuzzer exited $status with ${#crashes[@]} saved input(s)"
else
    verdict="passed: no crash, leak, timeout or broken invariant"
fi

if [ "$update_corpus" = true ] && [ "$status" -eq 0 ]; then
    before=$(find "$corpus" -type f | wc -l)
    "$fuzzer" -merge=1 -max_len="$max_len" "$corpus" "$work/new-corpus" >"$work/merge.log" 2>&1 ||
        fail "merging new inputs into $corpus failed: $(tail -5 "$work/merge.log")"
    after=$(find "$corpus" -type f | wc -l)
    echo "fuzz.sh: merged $((after - before)) coverage-adding inputs into $corpus ($(du -sh "$corpus" | cut -f1))"
fi

{
    echo "Target: \`Fuzz/Sources/RequestParsingFuzzer\` (libFuzzer + AddressSanitizer, \`-O -g\`) over"
    echo "\`URLEncoding.percentDecode\`/\`encode\`, \`FormFields(urlencoded:)\`/\`parseFields\`, \`Cookies.parse\`,"
    echo "\`Request\` (path, query, form, cookies, header) from fuzzed FastCGI params and body, and \`Response.head\`;"
    echo "each checked against a reference decoder and round-trip invariants."
    echo
    echo "| figure | value |"
    echo "| --- | --- |"
    echo "| result | $verdict |"
    echo "| fuzzing time | ${run_seconds} s (asked: ${seconds} s), \`-max_len=$max_len\` |"
    echo "| inputs run | ${runs:-unknown} |"
    echo "| executions per second | ${execs:-unknown} |"
    echo "| seed corpus | $corpus_files inputs, $corpus_bytes bytes |"
    echo "| coverage from the seeds | ${inited:-unknown} |"
    echo "| coverage at the end | ${final:-unknown} |"
    echo "| new inputs found | ${new_units:-unknown} |"
    echo "| crashes | ${#crashes[@]} |"
    echo "| peak RSS | ${peak_rss:-unknown} MB |"
    echo "| build time | ${build_seconds} s |"
    for crash in "${crashes[@]}"; do echo "| crash input | \`$crash\` |"; done
} | python3 experiments/reliability/record.py fuzz "Fuzzing the request parser" "$command"

echo "fuzz.sh: $runs runs, $execs exec/s, $final, ${#crashes[@]} crashes (build ${build_seconds}s, run ${run_seconds}s)"
if [ "$keep_work" = true ]; then
    for crash in "${crashes[@]}"; do
        echo "fuzz.sh: crash input: $crash (base64: $(base64 -w0 "$crash"))" >&2
        echo "fuzz.sh: reproduce: SWIFT_BACKTRACE=enable=no $fuzzer $crash" >&2
    done
    fail "the fuzzer failed (exit $status); full log: $work/fuzz.log"
fi
