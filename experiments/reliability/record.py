#!/usr/bin/env python3
"""Writes one section of experiments/reliability/RESULTS.md, replacing that section's last run.

Each reliability script produces its own section (soak, crash, disk-full, ...), so the results
file always holds the latest run of each, with the command that produced it.

Usage: record.py NAME TITLE COMMAND < markdown-body
"""
import datetime
import pathlib
import subprocess
import sys

RESULTS = pathlib.Path(__file__).with_name("RESULTS.md")
HEADER = """# Reliability and security results

Each section is written by the script named in it, from a real run against the real binary
(and Caddy, and the SQLite file); re-running a script replaces its section.
"""


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: record.py NAME TITLE COMMAND < body")
    name, title, command = sys.argv[1:]
    body = sys.stdin.read().rstrip() + "\n"
    repo = pathlib.Path(__file__).resolve().parents[2]
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = (f"<!-- section:{name} -->\n## {title}\n\n"
               f"Run {stamp} at commit `{commit}`: `{command}`\n\n{body}<!-- end:{name} -->\n")
    text = RESULTS.read_text() if RESULTS.exists() else HEADER
    start, end = f"<!-- section:{name} -->", f"<!-- end:{name} -->\n"
    if start in text and end in text:
        before = text[:text.index(start)]
        after = text[text.index(end) + len(end):]
        text = before + section + after
    else:
        text = text.rstrip() + "\n\n" + section
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
