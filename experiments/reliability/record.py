#!/usr/bin/env python3
"""Writes one section of experiments/reliability/RESULTS.md, replacing that section's last run.

Each reliability script produces its own section (soak, crash, disk-full, ...), so the results
file always holds the latest run of each, with the command that produced it. Outside a
`make record-*` run (LYNX_RECORD=1) the section goes to .records/ instead (see
experiments/records.py), and a record run refuses a tree with uncommitted changes.

Usage: record.py NAME TITLE COMMAND < markdown-body
"""
import datetime
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import records  # noqa: E402

RESULTS = "experiments/reliability/RESULTS.md"
HEADER = """# Reliability and security results

Each section is written by the script named in it, from a real run against the real binary
(and Caddy, and the SQLite file); re-running a script replaces its section.
"""


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: record.py NAME TITLE COMMAND < body")
    name, title, command = sys.argv[1:]
    body = sys.stdin.read().rstrip() + "\n"
    commit = records.stamp()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = (f"<!-- section:{name} -->\n## {title}\n\n"
               f"Run {stamp} at commit `{commit}`: `{command}`\n\n{body}<!-- end:{name} -->\n")
    results = records.path(RESULTS)
    if not results.exists() and not records.recording() and (records.REPO / RESULTS).exists():
        results.write_text((records.REPO / RESULTS).read_text())  # start from the committed sections
    text = results.read_text() if results.exists() else HEADER
    start, end = f"<!-- section:{name} -->", f"<!-- end:{name} -->\n"
    if start in text and end in text:
        before = text[:text.index(start)]
        after = text[text.index(end) + len(end):]
        text = before + section + after
    else:
        text = text.rstrip() + "\n\n" + section
    results.write_text(text)
    print(f"record: section {name} written to {results}")


if __name__ == "__main__":
    main()
