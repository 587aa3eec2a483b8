#!/usr/bin/env python3
"""Runs the disaster-recovery drill for real and writes experiments/41-deploy/dr-drill-YYYY-MM-DD.md.

Usage: make record-dr-drill    (or, writing under .records/: LYNX_PORTAL_BIN=.build/debug/lynx-portal python3 experiments/41-deploy/dr-drill.py
                              [--out FILE] [--skip-sizing])

1. The drill, exactly as the integration test runs it (Tests/integration/borg_support.py:
   run_drill): the portal binary behind real Caddy on a temp data dir; through HTTP 3 learners,
   2 journal entries each and 1 quiz attempt each with a wrong answer; lynx-backup into an
   encrypted borg repository over SSH (a loopback sshd, append-only restricted key); every
   portal.db* deleted; lynx-restore --latest; /healthz green; every table compared.
2. Sizing, for the benchmark's realistic class (experiments/seed/seed_class.py --scale 10: 50
   learners with a year of use, ~500 cards, 200 journal entries, 20 quiz attempts each) and one
   ten times larger (--scale 100): backup time,
   time to a verified copy, restore time (database deleted -> /healthz green), and what one
   simulated day of typical use adds to the repository, with 4 KiB fixed chunks (what
   lynx-backup uses) beside borg's default content-defined chunker.

Every figure in the log is measured in this run; nothing is typed in by hand.
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import re
import sqlite3
import statistics
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
os.environ.setdefault("LYNX_PORTAL_BIN", str(REPO / ".build" / "debug" / "lynx-portal"))
sys.path.insert(0, str(REPO / "Tests" / "integration"))
sys.path.insert(0, str(REPO / "experiments"))

from borg_support import BINARY, BackupRig, run, run_drill, wait_green  # noqa: E402
import records  # noqa: E402

SEED = REPO / "experiments" / "seed" / "seed_class.py"
DEFAULT_CHUNKER = "buzhash,19,23,21,4095"  # borg 1.2's default
REPEATS = 3  # timed runs per figure; the log shows the median and the range


def mib(count):
    return f"{count / 1048576:.2f} MiB"


def kib(count):
    return f"{count / 1024:.1f} KiB"


def last(rig, job):
    return next(line for line in reversed(rig.log_lines()) if line["job"] == job)


def seeded(scale):
    def prepare(stack):
        stack.data.mkdir(parents=True, exist_ok=True)
        stack.cli("migrate")
        run([sys.executable, SEED, "--db", stack.data / "portal.db", "--scale", scale])
    return prepare


def changed_pages(before, after, page=4096):
    """Which 4 KiB pages one day changed or added, by table or index (SQLite's dbstat)."""
    old, new = pathlib.Path(before).read_bytes(), pathlib.Path(after).read_bytes()
    db = sqlite3.connect(f"file:{after}?mode=ro", uri=True)
    owner = dict(db.execute("SELECT pageno, name FROM dbstat"))
    db.close()
    total = len(new) // page
    touched = [number for number in range(total)
               if number * page >= len(old) or old[number * page:(number + 1) * page] != new[number * page:(number + 1) * page]]
    by_name = {}
    for number in touched:
        name = owner.get(number + 1, "(header/free)")
        by_name[name] = by_name.get(name, 0) + 1
    sizes = {}
    for number in range(total):
        name = owner.get(number + 1, "(header/free)")
        sizes[name] = sizes.get(name, 0) + 1
    return {"total": total, "touched": len(touched), "new": max(0, total - len(old) // page),
            "by_name": sorted(((name, count, sizes[name]) for name, count in by_name.items()), key=lambda item: -item[1])}


SWEEP = [("fixed,4096", "zstd,3"), ("fixed,4096", "zstd,10"), ("fixed,4096", "lzma,6"), ("fixed,16384", "zstd,3"),
         ("buzhash,10,16,12,4095", "zstd,3"), (DEFAULT_CHUNKER, "zstd,3")]


def chunker_sweep(rig, before, after):
    """The night's increment for each chunker and compression, on the same two snapshots, in
    local repositories (the transport does not change what is stored)."""
    results = []
    for index, (chunker, compression) in enumerate(SWEEP):
        repo = rig.tmp / f"sweep-{index}.borg"
        run(["borg", "init", "--encryption=repokey-blake2", repo], env=rig.borg_environment())
        sizes = []
        for name, source in (("before", before), ("after", after)):
            stage = rig.tmp / f"sweep-{name}" / "snapshot"
            stage.mkdir(parents=True, exist_ok=True)
            (stage / "portal.db").write_bytes(pathlib.Path(source).read_bytes())
            out = run(["borg", "create", "--json", "--chunker-params", chunker, "--compression", compression,
                       f"{repo}::{name}", "snapshot"], cwd=stage.parent, env=rig.borg_environment()).stdout
            sizes.append(json.loads(out)["archive"]["stats"]["deduplicated_size"])
        results.append((chunker, compression, sizes[0], sizes[1]))
    return results


def size_class(scale):
    """Backup, verify, a simulated day, the night's increment, then a timed restore."""
    figures = {"scale": scale}
    with BackupRig(over_ssh=True, prepare_data=seeded(scale)) as rig:
        db = rig.stack.data / "portal.db"
        # A second repository, local, with borg's default chunker, for comparison.
        alternative = rig.tmp / "default-chunker.borg"
        run(["borg", "init", "--encryption=repokey-blake2", alternative], env=rig.borg_environment())
        alternative_env = rig.write_borg_env(rig.tmp / "borg-default-chunker.env", BORG_REPO=alternative,
                                             LYNX_BORG_CHUNKER=DEFAULT_CHUNKER)
        figures["db_bytes"] = db.stat().st_size
        counts = rig.stack.db()
        figures["rows"] = {table: counts.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                           for table in ("learner", "review_card", "review_log", "journal_entry", "attempt")}
        counts.close()

        rig.backup("--no-verify", "--no-prune")
        first = last(rig, "backup")
        rig.backup("--no-verify", "--no-prune", LYNX_BORG_ENV=alternative_env)
        first_default = last(rig, "backup")
        rig.verify(first["archive"])
        verified = last(rig, "verify")

        # One day of typical use, written while the portal is stopped (no second writer).
        rig.service("stop")
        rig.stack.cli("snapshot", "--to", str(rig.tmp / "before-day.db"), "--manifest", str(rig.tmp / "before.json"))
        day = run([sys.executable, SEED, "--db", db, "--simulate-day", "--day-offset", "1",
                   "--audit-dir", rig.stack.data / "audit"]).stdout.strip()
        rig.stack.cli("snapshot", "--to", str(rig.tmp / "after-day.db"), "--manifest", str(rig.tmp / "after.json"))
        figures["pages"] = changed_pages(rig.tmp / "before-day.db", rig.tmp / "after-day.db")
        figures["sweep"] = chunker_sweep(rig, rig.tmp / "before-day.db", rig.tmp / "after-day.db")
        rig.service("start")
        wait_green(rig.stack.base)
        figures["day"] = day
        figures["db_bytes_after_day"] = db.stat().st_size
        time.sleep(1.1)  # archive names have one-second resolution

        nightly = rig.backup("--no-verify", "--no-prune").stdout
        second = last(rig, "backup")
        rig.backup("--no-verify", "--no-prune", LYNX_BORG_ENV=alternative_env)
        second_default = last(rig, "backup")
        # Timings repeat (this machine is shared; one run is noise): more nightly runs of the
        # same data, restore proofs of the night's archive, and full restores.
        backups, copies, manifests = [second["duration_seconds"]], [], []
        for run_number in range(REPEATS):
            if run_number:
                time.sleep(1.1)  # archive names have one-second resolution
                nightly = rig.backup("--no-verify", "--no-prune").stdout
                backups.append(last(rig, "backup")["duration_seconds"])
            copy, manifest = re.search(r"seconds: copy ([\d.]+), manifest ([\d.]+)", nightly).groups()
            copies.append(float(copy))
            manifests.append(float(manifest))
        proofs = []
        for _ in range(REPEATS):
            rig.verify(second["archive"])
            proofs.append(last(rig, "verify")["time_to_verified_copy_seconds"])
        restores, recoveries = [], []
        for _ in range(REPEATS):
            deleted = time.perf_counter()
            for path in rig.stack.data.glob("portal.db*"):
                path.unlink()
            rig.restore("--latest")
            wait_green(rig.stack.base)
            restores.append(time.perf_counter() - deleted)
            recoveries.append(last(rig, "restore")["recovery_seconds"])

        figures.update({
            "snapshot_bytes": second["snapshot_bytes"],
            "copy_seconds": copies,
            "manifest_seconds": manifests,
            "backup_seconds": backups,
            "first_backup_seconds": first["duration_seconds"],
            "full_archive_bytes": first["increment_bytes"],
            "time_to_verified_copy_seconds": proofs,
            "increment_fixed": second["increment_bytes"],
            "repository_growth_fixed": second["repository_bytes"] - first["repository_bytes"],
            "full_default": first_default["increment_bytes"],
            "increment_default": second_default["increment_bytes"],
            "restore_to_green_seconds": restores,
            "restore_recovery_seconds": recoveries,
        })
    return figures


def drill_section(record):
    lines = ["## 1. The drill (3 learners, over SSH, append-only key)", ""]
    lines += ["| phase | seconds |", "| --- | ---: |"]
    for name, seconds in record["phases"]:
        lines.append(f"| {name} | {seconds:.2f} |")
    lines.append(f"| **recovery: `portal.db*` deleted → `/healthz` green** | **{record['recovery_seconds']:.2f}** |")
    backup, verify, restore = record["backup_log"], record["verify_log"], record["restore_log"]
    lines += ["", f"Archive `{record['archive']}`: snapshot {backup['snapshot_bytes']} bytes; archive original "
              f"{backup['original_bytes']} bytes, compressed {backup['compressed_bytes']} bytes, added to the "
              f"repository (deduplicated, compressed) {backup['increment_bytes']} bytes; repository "
              f"{backup['repository_bytes']} bytes. Backup {backup['duration_seconds']} s (snapshot "
              f"{backup['snapshot_seconds']} s, borg create {backup['borg_create_seconds']} s); restore proof "
              f"(lynx-backup-verify) {verify['time_to_verified_copy_seconds']} s to a verified copy.", ""]
    status, body = record["health_after_delete"]
    lines += [f"After the delete, `/healthz` answered {status} (`database`: {body and body.get('database')!r}).",
              f"lynx-restore: {restore['duration_seconds']} s in all (extract {restore['extract_seconds']} s, "
              f"verify {restore['verify_seconds']} s, service stop → green {restore['recovery_seconds']} s).", ""]
    lines += ["| table | rows before | rows after |", "| --- | ---: | ---: |"]
    for table, count in record["rows_before"].items():
        lines.append(f"| {table} | {count} | {record['rows_after'].get(table)} |")
    logins = ", ".join(f"{name} {'yes' if ok else 'NO'}" for name, ok in record["logins"].items())
    lines += ["", f"Full dump of every table after the restore equals the dump before the backup: "
              f"**{'yes' if record['dump_equal'] else 'NO'}**. Learners logged in with their passwords and "
              f"saw their journals: {logins}.",
              f"`/healthz` after the restore: `{record['health_after_restore']}`", ""]
    lines += ["<details><summary>lynx-restore output</summary>", "", "```", record["restore_output"].strip(), "```",
              "", "</details>", ""]
    return lines


def typical(value):
    """The median of repeated runs (a single figure is itself)."""
    return statistics.median(value) if isinstance(value, list) else value


def seconds(value):
    if isinstance(value, list):
        return f"{statistics.median(value):.2f} s ({min(value):.2f}–{max(value):.2f})"
    return f"{value:.2f} s"


def sizing_section(results):
    lines = ["## 2. Sizing: the realistic class and a 10× class", "",
             f"Timings are the median of {REPEATS} runs with the range in brackets (the machine is shared "
             f"with other work; single runs vary by a second or two). ",
             "Seeded by `experiments/seed/seed_class.py --scale N` into a database created by "
             "`lynx-portal migrate`; repository over SSH (the loopback sshd, append-only key); "
             "`--no-prune` so each archive's increment is measured alone. The day of typical use: "
             "each of the 50 learners opens a session, grades 20 cards, writes a journal entry, one "
             "in three takes a 20-question quiz (`--simulate-day`), plus that day's audit lines.", ""]
    header = "| | " + " | ".join(f"scale {r['scale']}" for r in results) + " | larger / smaller |"
    lines += [header, "| --- | " + " | ".join("---:" for _ in results) + " | ---: |"]

    def row(label, key, render, ratio=True):
        values = [r[key] for r in results]
        cells = " | ".join(render(v) for v in values)
        middle = [typical(v) for v in values] if ratio else []
        scale = f"{middle[-1] / middle[0]:.1f}×" if ratio and len(values) > 1 and middle[0] else ""
        lines.append(f"| {label} | {cells} | {scale} |")

    row("rows: review_card", "rows", lambda v: str(v["review_card"]), ratio=False)
    row("rows: review_log / journal_entry / attempt", "rows",
        lambda v: f"{v['review_log']} / {v['journal_entry']} / {v['attempt']}", ratio=False)
    row("database size", "db_bytes", mib)
    row("snapshot (after the day)", "snapshot_bytes", mib)
    row("snapshot copy (backup API, one step, fsync)", "copy_seconds", seconds)
    row("manifest (integrity_check, foreign keys, row hashes, SHA-256)", "manifest_seconds", seconds)
    row("lynx-backup, first (full) run, one run", "first_backup_seconds", seconds)
    row("lynx-backup, nightly run (no verify, no prune)", "backup_seconds", seconds)
    row("time to a verified copy (lynx-backup-verify)", "time_to_verified_copy_seconds", seconds)
    row("first archive in the repository (compressed)", "full_archive_bytes", kib)
    row("**a night's increment, fixed 4 KiB chunks**", "increment_fixed", kib)
    row("… as a share of the database size", "increment_share", lambda v: f"{v:.1%}")
    row("repository growth that night (fixed 4 KiB)", "repository_growth_fixed", kib)
    row("a night's increment, borg's default chunker", "increment_default", kib)
    row("**restore: `portal.db*` deleted → `/healthz` green**", "restore_to_green_seconds", seconds)
    row("… of which service stop → green", "restore_recovery_seconds", seconds)
    lines.append("")
    for r in results:
        lines.append(f"- scale {r['scale']}: simulated day {r['day']}")
    lines += ["", "Pages the simulated day changed or added (4 KiB pages, compared byte for byte between "
              "snapshots taken before and after it; owner from SQLite's `dbstat`):", ""]
    for r in results:
        pages = r["pages"]
        top = ", ".join(f"{name} {count}/{size}" for name, count, size in pages["by_name"][:8])
        lines.append(f"- scale {r['scale']}: {pages['touched']} of {pages['total']} pages "
                     f"({pages['touched'] / pages['total']:.1%}; {pages['new']} of them new). Changed/all, by "
                     f"owner: {top}.")
    lines.append("")
    lines += ["Chunker and compression, on the same before/after-day snapshots (local repositories): the "
              "first archive and what the night adds, as a share of the database.", ""]
    lines += ["| chunker | compression | " + " | ".join(f"scale {r['scale']}: first / night" for r in results) + " |",
              "| --- | --- | " + " | ".join("---:" for _ in results) + " |"]
    for index, (chunker, compression) in enumerate(SWEEP):
        cells = []
        for r in results:
            _, _, first, night = r["sweep"][index]
            cells.append(f"{kib(first)} / {kib(night)} ({night / r['db_bytes_after_day']:.1%})")
        mark = " (lynx-backup)" if (chunker, compression) == ("fixed,4096", "zstd,3") else ""
        lines.append(f"| `{chunker}`{mark} | `{compression}` | " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def verdicts(record, results):
    lines = ["## 3. Against the targets", ""]
    realistic = results[0] if results else None
    if realistic:
        restore = realistic["restore_to_green_seconds"]
        ok = max(restore) < 10
        lines.append(f"- Restore to a green `/healthz` under 10 s for the realistic class: median "
                     f"{statistics.median(restore):.2f} s, slowest {max(restore):.2f} s — **{'met' if ok else 'NOT met'}**.")
        for r in results:
            ok = r["increment_share"] < 0.10
            lines.append(f"- A night's increment under 10 % of the database (scale {r['scale']}): "
                         f"{r['increment_share']:.1%} — **{'met' if ok else 'NOT met'}**.")
            if not ok:
                pages = r["pages"]
                owners = ", ".join(f"{name} ({count} of its {size})" for name, count, size in pages["by_name"][:5])
                chunker, compression, _, night = min(r["sweep"], key=lambda item: item[3])
                lines.append(f"  Why: the simulated day rewrote {pages['touched'] / pages['total']:.0%} of the database's "
                             f"pages ({owners}): grading 20 of each learner's cards updates rows and index entries "
                             f"spread over the whole of those tables, so even page-exact chunks must store those "
                             f"pages again. That floor is set by the schema and the day's work, not by borg: the "
                             f"best chunker and compression measured (`{chunker}`, `{compression}`) still adds "
                             f"{night / r['db_bytes_after_day']:.1%}, and larger or content-defined chunks add "
                             f"two to three times more (section 2).")
    lines.append(f"- Drill: every table identical after the restore — "
                 f"**{'met' if record['dump_equal'] else 'NOT met'}**; recovery {record['recovery_seconds']:.2f} s.")
    lines.append("")
    return lines


def scaling(results):
    if len(results) < 2:
        return []
    small, large = results[0], results[-1]

    def ratio(key):
        return typical(large[key]) / typical(small[key]) if typical(small[key]) else float("nan")

    return ["## 4. How it scales", "",
            f"Ten times the history makes the database {ratio('db_bytes'):.1f}× larger. The snapshot copy grows "
            f"{ratio('copy_seconds'):.1f}×, the manifest {ratio('manifest_seconds'):.1f}× and the nightly backup {ratio('backup_seconds'):.1f}× (borg's "
            f"start-up and the SSH round trips are a fixed cost that dominates small databases); the time to a "
            f"verified copy grows {ratio('time_to_verified_copy_seconds'):.1f}× (the manifest hashes every row); "
            f"the restore to green {ratio('restore_to_green_seconds'):.1f}×. A night's increment depends on the "
            f"pages one day touches, not on the history: {ratio('increment_fixed'):.1f}× for ten times the data, "
            f"so its share of the database falls from {small['increment_share']:.1%} to {large['increment_share']:.1%}. "
            f"borg's default content-defined chunker (2 MiB average chunks) re-stores most of a small database each "
            f"night ({kib(small['increment_default'])} vs {kib(small['increment_fixed'])} with 4 KiB fixed chunks "
            f"at scale {small['scale']}; {kib(large['increment_default'])} vs {kib(large['increment_fixed'])} at scale {large['scale']}): "
            f"fixed chunks that match SQLite's pages are the better choice here.", ""]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="the log to write (default experiments/41-deploy/dr-drill-<UTC date>.md)")
    parser.add_argument("--skip-sizing", action="store_true", help="run the drill only")
    parser.add_argument("--scales", default="10,100",
                        help="seed scales to size (10: the benchmark's realistic class; 100: ten times it)")
    args = parser.parse_args()
    records.check()
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    out = pathlib.Path(args.out) if args.out else records.path(f"experiments/41-deploy/dr-drill-{today}.md")

    started = time.perf_counter()
    load = os.getloadavg()
    with BackupRig(over_ssh=True) as rig:
        record = run_drill(rig)
    print(f"drill: recovery {record['recovery_seconds']:.2f} s, dump equal {record['dump_equal']}")
    results = []
    if not args.skip_sizing:
        for scale in (int(value) for value in args.scales.split(",")):
            figures = size_class(scale)
            figures["increment_share"] = figures["increment_fixed"] / figures["db_bytes_after_day"]
            results.append(figures)
            print(f"scale {scale}: db {mib(figures['db_bytes'])}, backup {seconds(figures['backup_seconds'])}, "
                  f"restore {seconds(figures['restore_to_green_seconds'])}, increment {kib(figures['increment_fixed'])}")

    versions = {
        "borg": run(["borg", "--version"]).stdout.strip(),
        "sqlite": run(["sqlite3", "--version"]).stdout.split()[0],
        "caddy": run(["caddy", "version"]).stdout.split()[0],
        "portal": run([BINARY, "--version"]).stdout.strip(),
    }
    build = "debug" if "/debug/" in str(BINARY) else "release" if "/release/" in str(BINARY) else str(BINARY)
    lines = [f"# Disaster-recovery drill, {today}", "",
             f"Generated at commit `{records.stamp()}` by `make record-dr-drill` "
             "(`python3 experiments/41-deploy/dr-drill.py`), which runs the real "
             "drill: the `lynx-portal` binary behind Caddy, `deploy/backup/borg-backup.sh`, `borg-verify.sh` and "
             "`borg-restore.sh` against an encrypted (repokey-blake2) borg repository reached over a loopback "
             "sshd with an append-only, path-restricted key. Every figure below was measured in that run.", "",
             f"Machine: {platform.node() or 'unknown'}, {os.cpu_count()} cores, {platform.platform()}; "
             f"{versions['borg']}, SQLite {versions['sqlite']}, Caddy {versions['caddy']}, lynx-portal "
             f"{versions['portal']} ({build} build). Load average when it started: "
             f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}. Total run time {time.perf_counter() - started:.0f} s.", ""]
    lines += drill_section(record)
    if results:
        lines += sizing_section(results)
    lines += verdicts(record, results)
    lines += scaling(results)
    out.write_text("\n".join(lines))
    print(f"wrote {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")
    if not record["dump_equal"] or not all(record["logins"].values()):
        sys.exit("dr-drill: the drill FAILED (see the log)")


if __name__ == "__main__":
    main()
