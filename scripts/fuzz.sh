#!/usr/bin/env bash
# Builds the libFuzzer targets (Fuzz/) with AddressSanitizer and runs each for a bounded share of
# SECONDS: RequestParsingFuzzer (the FastCGI request parser) from Fuzz/corpus, and PortalFuzzer
# (Portal.handle: the router and every handler, signed in, on a temporary database) from seeds
# it writes from the routing table plus Fuzz/corpus-portal. Records each target's figures in
# experiments/reliability/RESULTS.md (sections "fuzz" and "fuzz-portal"; under .records/ unless
# LYNX_RECORD=1, see experiments/records.py). Exits non-zero on any
# crash, leak or broken invariant, and prints the path of the input that did it.
#
# New corpus entries go to a temporary folder; --update-corpus merges the ones that add coverage
# into the committed corpus (commit those). Extra libFuzzer flags can be passed in LYNX_FUZZ_FLAGS.
set -Eeuo pipefail

usage() { echo "usage: scripts/fuzz.sh [--update-corpus] [SECONDS]   (default 120 seconds, half for each target)" >&2; exit 2; }

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
max_len=4096
work=$(mktemp -d "${TMPDIR:-/tmp}/lynx-fuzz.XXXXXX")
keep_work=false
cleanup() { if [ "$keep_work" = false ]; then rm -rf "$work"; fi; }
trap cleanup EXIT
trap 'echo "fuzz.sh: unexpected failure at line $LINENO: $BASH_COMMAND" >&2' ERR

fail() { echo "fuzz.sh: $*" >&2; exit 1; }

# Optimised (-O, with -g for the stacks): about three times the executions per second of -Onone,
# and Swift keeps its bounds and overflow checks at -O.
echo "fuzz.sh: building Fuzz/ with -sanitize=fuzzer,address into $scratch"
build_started=$SECONDS
if ! "$swift" build --package-path Fuzz -c release --scratch-path "$scratch" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -g >"$work/build.log" 2>&1; then
    grep -v "Cannot export local symbol" "$work/build.log" | tail -40 >&2
    fail "building the fuzzers failed (step: swift build --package-path Fuzz)"
fi
build_seconds=$((SECONDS - build_started))

toolchain_bin=$(dirname "$(readlink -f "$(command -v "$swift")")")
# The Swift runtime's own crash backtracer runs inside the ASan process and trips ASan itself;
# turn it off so libFuzzer's handler prints the sanitizer's stack and saves the input.
export SWIFT_BACKTRACE=enable=no
export ASAN_SYMBOLIZER_PATH="$toolchain_bin/llvm-symbolizer"
read -r -a extra_flags <<<"${LYNX_FUZZ_FLAGS:-}"
failed=()

# fuzz TARGET SECONDS CORPUS DICT SECTION TITLE DESCRIPTION [EXTRA-SEED-DIR]
fuzz() {
    local target=$1 target_seconds=$2 corpus=$3 dict=$4 section=$5 title=$6 description=$7 seeds=${8:-}
    local fuzzer="$scratch/release/$target" dir="$work/$target"
    [ -x "$fuzzer" ] || fail "building the fuzzers produced no $fuzzer"
    mkdir -p "$dir/new-corpus" "$dir/artifacts" "$corpus"
    local inputs=("$dir/new-corpus" "$corpus")
    [ -n "$seeds" ] && inputs+=("$seeds")
    local corpus_files corpus_bytes
    corpus_files=$(find "${inputs[@]:1}" -type f | wc -l)
    corpus_bytes=$(find "${inputs[@]:1}" -type f -printf '%s\n' | awk '{ total += $1 } END { print total + 0 }')
    echo "fuzz.sh: running $target for ${target_seconds}s from ${inputs[*]:1} ($corpus_files inputs)"
    local run_started=$SECONDS status=0
    # The new-corpus folder comes first: libFuzzer writes new inputs only to the first folder.
    "$fuzzer" "${inputs[@]}" \
        -max_total_time="$target_seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
        -dict="$dict" -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
        "${extra_flags[@]}" >"$dir/fuzz.log" 2>&1 || status=$?
    local run_seconds=$((SECONDS - run_started))

    figure() { sed -n "s/^stat::$1: *//p" "$dir/fuzz.log" | tail -1; }
    local runs execs new_units peak_rss inited final verdict
    runs=$(figure number_of_executed_units)
    execs=$(figure average_exec_per_sec)
    new_units=$(figure new_units_added)
    peak_rss=$(figure peak_rss_mb)
    inited=$(grep -m1 -E '^#[0-9]+[[:space:]]+INITED' "$dir/fuzz.log" | sed -E 's/.*(cov: [0-9]+ ft: [0-9]+).*/\1/' || true)
    final=$(grep -E '^#[0-9]+[[:space:]]+(DONE|NEW|REDUCE|pulse|INITED)' "$dir/fuzz.log" | tail -1 |
        sed -E 's/.*(cov: [0-9]+ ft: [0-9]+ corp: [^ ]+).*/\1/' || true)
    local crashes
    mapfile -t crashes < <(find "$dir/artifacts" -type f | sort)

    if [ "$status" -ne 0 ] || [ "${#crashes[@]}" -gt 0 ]; then
        keep_work=true
        failed+=("$target")
        grep -v "Cannot export local symbol" "$dir/fuzz.log" | grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)' | tail -80 >&2
        verdict="**FAILED**: libFuzzer exited $status with ${#crashes[@]} saved input(s)"
    else
        verdict="passed: no crash, leak, timeout or broken invariant"
    fi

    if [ "$update_corpus" = true ] && [ "$status" -eq 0 ]; then
        local before after
        before=$(find "$corpus" -type f | wc -l)
        "$fuzzer" -merge=1 -max_len="$max_len" "$corpus" "${inputs[@]:2}" "$dir/new-corpus" >"$dir/merge.log" 2>&1 ||
            fail "merging new inputs into $corpus failed: $(tail -5 "$dir/merge.log")"
        after=$(find "$corpus" -type f | wc -l)
        echo "fuzz.sh: merged $((after - before)) coverage-adding inputs into $corpus ($(du -sh "$corpus" | cut -f1))"
    fi

    {
        echo "$description"
        echo
        echo "| figure | value |"
        echo "| --- | --- |"
        echo "| result | $verdict |"
        echo "| fuzzing time | ${run_seconds} s (asked: ${target_seconds} s of ${seconds} s), \`-max_len=$max_len\` |"
        echo "| inputs run | ${runs:-unknown} |"
        echo "| executions per second | ${execs:-unknown} |"
        echo "| seed corpus | $corpus_files inputs, $corpus_bytes bytes |"
        echo "| coverage from the seeds | ${inited:-unknown} |"
        echo "| coverage at the end | ${final:-unknown} |"
        echo "| new inputs found | ${new_units:-unknown} |"
        echo "| crashes | ${#crashes[@]} |"
        echo "| peak RSS | ${peak_rss:-unknown} MB |"
        echo "| build time (both targets) | ${build_seconds} s |"
        for crash in "${crashes[@]}"; do echo "| crash input | \`$crash\` |"; done
    } | python3 experiments/reliability/record.py "$section" "$title" "$command"

    echo "fuzz.sh: $target: $runs runs, $execs exec/s, $final, ${#crashes[@]} crashes (run ${run_seconds}s)"
    for crash in "${crashes[@]}"; do
        echo "fuzz.sh: crash input: $crash (base64: $(base64 -w0 "$crash"))" >&2
        echo "fuzz.sh: reproduce: SWIFT_BACKTRACE=enable=no $fuzzer $crash" >&2
    done
}

parser_seconds=$((seconds / 2))
[ "$parser_seconds" -gt 0 ] || parser_seconds=1
portal_seconds=$((seconds - parser_seconds))
[ "$portal_seconds" -gt 0 ] || portal_seconds=1

fuzz RequestParsingFuzzer "$parser_seconds" Fuzz/corpus Fuzz/fuzz.dict fuzz "Fuzzing the request parser" \
"Target: \`Fuzz/Sources/RequestParsingFuzzer\` (libFuzzer + AddressSanitizer, \`-O -g\`) over
\`URLEncoding.percentDecode\`/\`encode\`, \`FormFields(urlencoded:)\`/\`parseFields\`, \`Cookies.parse\`,
\`Request\` (path, query, form, cookies, header) from fuzzed FastCGI params and body, and \`Response.head\`;
each checked against a reference decoder and round-trip invariants."

# Seeds from the routing table, written by the fuzzer itself, so a new route is fuzzed at once.
LYNX_FUZZ_WRITE_SEEDS="$work/portal-seeds" "$scratch/release/PortalFuzzer" >"$work/seeds.log" 2>&1 ||
    fail "writing the route-table seeds failed (step: PortalFuzzer with LYNX_FUZZ_WRITE_SEEDS): $(tail -5 "$work/seeds.log")"
fuzz PortalFuzzer "$portal_seconds" Fuzz/corpus-portal Fuzz/portal.dict fuzz-portal "Fuzzing the whole request handler" \
"Target: \`Fuzz/Sources/PortalFuzzer\` (libFuzzer + AddressSanitizer, \`-O -g\`) over \`Portal.handle\`:
the router and every handler, with a fuzzed method, path, query, form body and cookie (the signed-in
learner's session and CSRF token three times in four) on a temporary database holding the phase-0
quiz, an attempt, a review card and a journal entry; any trap or 500 fails. Seeds: one per route and
method of \`Portal.routeTable\`." "$work/portal-seeds"

echo "fuzz.sh: build ${build_seconds}s; fuzzed ${parser_seconds}s + ${portal_seconds}s"
[ "${#failed[@]}" -eq 0 ] || fail "the fuzzer failed: ${failed[*]}; logs under $work"
