"""The runbooks' command blocks, run as a new operator would, in a booted Debian 12 guest.

deploy/README.md and quizzes/README.md mark every fenced command block with the line before its
fence: `<!-- runbook: NAME -->` (run here, in the documents' order, as root from /root, with the
PLACEHOLDERS below replaced) or `<!-- runbook: manual -->` (build machine, backup host, DNS: not
run). A new unmarked command block fails `test_every_command_block_is_marked`; a new marked one is
run too. Every `lynx-portal ...` command the documents name is checked against the binary's own
--help, so a subcommand or option renamed in the code and not in the docs fails here.

The guest stands in for the operator's VPS: the bundle is where the runbook's rsync puts it,
install.conf carries the test's ports (and plain HTTP, so Caddy asks no CA for
portal.example.org), and the backup host's steps (manual) are replaced by a local repository.
Also here: the lynx-portal wrapper reads the operator's files as root, relative to the working
directory.
"""
import http.server
import pathlib
import re
import shutil
import subprocess
import threading
import time

import pytest

from conftest import BUNDLE, REPO, free_port

DOCS = [REPO / "deploy" / "README.md", REPO / "quizzes" / "README.md"]
MARKER = re.compile(r"^\s*<!-- runbook: ([a-z0-9]+(?:-[a-z0-9]+)*) -->\s*$")
FENCE = re.compile(r"^(\s*)```([\w-]*)\s*$")
COMMAND_LANGUAGES = {"", "sh", "bash", "shell", "console"}

HTTP_PORT = free_port()
ADMIN_PORT = free_port()
ALERT_PORT = free_port()
# Placeholder in the docs -> the value this test uses (longest first when applied).
PLACEHOLDERS = {
    "https://ntfy.sh/YOUR-TOPIC": f"http://127.0.0.1:{ALERT_PORT}/runbook-topic",
    "YOUR-TOPIC": "runbook-topic",
    "Area/City": "Europe/Madrid",
    "NAME": "learner1",
    # Kept as they are, listed so that the vocabulary is in one place:
    "portal.example.org": "portal.example.org",  # the site (install.conf: plain HTTP on a test port)
    "you@example.org": "you@example.org",
    "alice": "alice",
    "my-quiz.txt": "my-quiz.txt",  # written into /root before the block that names it
}


def parse_blocks(path):
    """[(marker or None, language, text, line number)] for every fenced block of `path`."""
    lines = path.read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        if not fence:
            i += 1
            continue
        indent, language, start = len(fence.group(1)), fence.group(2), i
        previous = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        marker = MARKER.match(previous)
        body = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        assert i < len(lines), f"{path.name}:{start + 1}: fence never closed"
        blocks.append((marker.group(1) if marker else None, language, "\n".join(body) + "\n", start + 1))
        i += 1
    return blocks


# Blocks another test runs, where what they need exists (two releases, two servers).
RUN_ELSEWHERE = {
    "rollback": "test_upgrade.py (after a real upgrade that migrated the database)",
    "write-freeze": "test_new_server.py (the old server of a planned move)",
}
# Blocks that need a later section's set-up run after the block named here (the upgrade takes a
# backup first, so it runs once backups are set up), the rest in the documents' order.
RUN_AFTER = {"upgrade": "first-backup"}


def runnable_blocks():
    found = []
    for path in DOCS:
        for marker, language, text, line in parse_blocks(path):
            if marker and marker != "manual" and marker not in RUN_ELSEWHERE:
                found.append((f"{path.parent.name}/{path.name}:{marker}", marker, text))
    for name, after in RUN_AFTER.items():
        moved = [block for block in found if block[1] == name]
        found = [block for block in found if block[1] != name]
        index = next(i for i, block in enumerate(found) if block[1] == after)
        found[index + 1:index + 1] = moved
    return found


def test_blocks_run_elsewhere_are_in_the_docs():
    names = {marker for path in DOCS for marker, _, _, _ in parse_blocks(path)}
    assert set(RUN_ELSEWHERE) <= names, f"RUN_ELSEWHERE names blocks the docs no longer have: {set(RUN_ELSEWHERE) - names}"


def release_version():
    return (BUNDLE / "VERSION").read_text().strip()


def substitute(text):
    # `lynx-portal-VERSION`: the release's file and folder names.
    text = re.sub(r"(?<=lynx-portal-)VERSION\b", release_version(), text)
    # `lynx-portal-PREVIOUS`: the release kept for a rollback; this guest has only the one.
    text = re.sub(r"(?<=lynx-portal-)PREVIOUS\b", release_version(), text)
    for placeholder in sorted(PLACEHOLDERS, key=len, reverse=True):
        text = re.sub(rf"(?<![\w/.-]){re.escape(placeholder)}(?![\w-])", PLACEHOLDERS[placeholder], text)
    return text


# --- the documents themselves (no guest) ----------------------------------------------------


def test_every_command_block_is_marked():
    for path in DOCS:
        text = path.read_text()
        for number, line in enumerate(text.splitlines(), 1):
            if "<!-- runbook:" in line and "`<!-- runbook:" not in line:
                assert MARKER.match(line), f"{path.name}:{number}: malformed marker {line!r}"
        markers_seen = 0
        for marker, language, body, line in parse_blocks(path):
            if language in COMMAND_LANGUAGES:
                assert marker, (f"{path.name}:{line}: a command block without a `<!-- runbook: NAME -->` or "
                                f"`<!-- runbook: manual -->` line before its fence (output and file contents: ```text)")
                assert language == "sh", f"{path.name}:{line}: marked command blocks are fenced ```sh"
            else:
                assert not marker, f"{path.name}:{line}: a ```{language} block is never run; drop its marker"
            markers_seen += bool(marker)
        stray = len([line for line in text.splitlines() if MARKER.match(line)])
        assert stray == markers_seen, f"{path.name}: a runbook marker that is not right before a fence"
    names = [name for _, name, _ in runnable_blocks()]
    assert len(names) == len(set(names)), f"runbook block names repeat: {names}"
    assert {"install", "first-learner", "borg-init", "first-backup", "quiz-import"} <= set(names), names


def help_text(words):
    result = subprocess.run([str(BUNDLE / "bin" / "lynx-portal"), *words, "--help"], capture_output=True, text=True)
    assert result.returncode == 0, (words, result.stderr)
    return result.stdout


def subcommands(help_output):
    section = help_output.split("SUBCOMMANDS:", 1)[1] if "SUBCOMMANDS:" in help_output else ""
    return {match.group(1) for match in re.finditer(r"^  ([a-z][a-z-]*)", section, re.M)}


def named_commands():
    """Every `lynx-portal WORDS...` in the documents' code (spans and blocks), as token lists."""
    found = []
    for path in DOCS + [REPO / "README.md"]:
        text = path.read_text()
        snippets = re.findall(r"`([^`\n]+)`", text)
        snippets += [line for _, language, body, _ in parse_blocks(path) if language in COMMAND_LANGUAGES
                     for line in body.splitlines()]
        for snippet in snippets:
            for match in re.finditer(r"(?<![\w/.-])lynx-portal[ \t]+([^|;&#>\n]*)", snippet):
                found.append((path.name, snippet, match.group(1).split()))
    return found


def test_every_lynx_portal_command_in_the_docs_exists_with_its_options():
    commands = named_commands()
    assert len(commands) >= 10, commands
    top = subcommands(help_text([]))
    checked = set()
    for source, snippet, tokens in commands:
        words, rest = [], list(tokens)
        available = top
        while rest and re.fullmatch(r"[a-z][a-z/-]*", rest[0]) and available:
            candidates = rest[0].split("/")  # `user add/reset/list/disable`
            unknown = [word for word in candidates if word not in available]
            assert not unknown, f"{source}: `{snippet}`: no subcommand {unknown} of `lynx-portal {' '.join(words)}`"
            words.append(candidates[0])
            rest.pop(0)
            available = subcommands(help_text(words))
        options = set(re.findall(r"--[a-z][a-z-]*", help_text(words)))
        for token in rest:
            option = token.split("=", 1)[0]
            if option.startswith("--"):
                assert option in options, f"{source}: `{snippet}`: `lynx-portal {' '.join(words)}` has no {option}"
        checked.add(" ".join(words))
    assert {"user add", "user reset", "quiz import", "doctor"} <= checked, checked


# --- the guest ------------------------------------------------------------------------------


class AlertReceiver(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode(errors="replace")
        AlertReceiver.received.append((self.path, dict(self.headers), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def receiver():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", ALERT_PORT), AlertReceiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield AlertReceiver.received
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def vps(booted_guest, receiver):
    """What the operator has before the first block: a VPS with sudo and SSH, the release tarball
    and its checksum file in /root (the manual scp), and this test's ports in install.conf."""
    guest = booted_guest
    apt_install(guest, "sudo openssh-client")
    tarball = BUNDLE.parent / f"lynx-portal-{release_version()}-linux-amd64.tar.gz"
    assert tarball.exists(), f"no release tarball next to the bundle ({tarball}): run `make release`"
    for path in (tarball, pathlib.Path(f"{tarball}.sha256")):
        shutil.copy2(path, guest.root / "root" / path.name)
    guest.run("install -d -m 0700 /root/.ssh")
    guest.run("install -d -m 0750 /etc/lynx-portal && printf '%s\\n' tls=no http_port=" + str(HTTP_PORT)
              + f" caddy_admin=localhost:{ADMIN_PORT} >/etc/lynx-portal/install.conf")
    return guest


def apt_install(guest, packages):
    """apt-get install in the guest; the .deb cache is shared with other guests, so its lock may be
    held for a while by another test's install."""
    command = f"DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends {packages}"
    for attempt in range(60):
        result = guest.run(f"{command} >/dev/null || {{ apt-get update -qq && {command} >/dev/null; }}",
                           check=False, timeout=600)
        if result.returncode == 0:
            return
        assert "lock" in result.stderr, result.stderr
        time.sleep(5)
    pytest.fail(f"apt-get install {packages}: the apt cache stayed locked")


APT_LOCKED = "Could not get lock /var/cache/apt/archives/lock"


def run_retrying_apt_lock(guest, command, timeout=900):
    """Runs `command`; again (install.sh is idempotent) while it failed only because another
    test's guest held the shared .deb cache's lock."""
    for attempt in range(60):
        result = guest.run(command, check=False, timeout=timeout)
        if result.returncode == 0 or APT_LOCKED not in result.stdout + result.stderr:
            return result
        time.sleep(5)
    return result


def before(guest, name):
    if name == "borg-init":
        # Steps 1-5 of the backup setup happen on the backup host (manual): a local repository
        # stands in for it.
        guest.run("install -d -m 0700 /srv/borg && umask 077 && printf '%s\\n' "
                  "BORG_REPO=/srv/borg/lynx-portal 'BORG_PASSPHRASE=runbook test passphrase' "
                  # No scheduled frequent snapshots: the blocks' archives are the runbook's own.
                  "LYNX_SNAPSHOT_INTERVAL_MINUTES=0 "
                  ">/etc/lynx-portal/borg.env")
    if name == "quiz-import":
        guest.run("printf '%s\\n' 'Which command prints the working directory?' 'A. pwd' 'B. cd' 'ANSWER: A' "
                  ">/root/my-quiz.txt && chmod 0600 /root/my-quiz.txt")


def check(guest, name, output, received):
    """The effect of the blocks whose purpose is checkable."""
    cli = "/usr/local/bin/lynx-portal"
    if name == "install":
        assert re.search(r"^install: health: doctor: all checks passed;", output, re.M), output[-3000:]
    elif name == "first-learner":
        assert re.search(r"^alice\b", guest.run(f"{cli} user list").stdout, re.M)
    elif name == "alert-url":
        assert any(path == "/runbook-topic" and "test alert" in body for path, _, body in received), received
    elif name == "reset-failed":
        assert guest.run("systemctl is-active lynx-portal.socket").stdout.strip() == "active"
    elif name == "backup-ssh-key":
        guest.run("test -s /root/.ssh/lynx-portal-backup && test -s /root/.ssh/lynx-portal-backup.pub")
    elif name == "borg-init":
        guest.run("lynx-borg info >/dev/null")
    elif name == "borg-key-export":
        guest.run("grep -q 'BORG_KEY' /root/lynx-portal-borg.key")
    elif name == "first-backup":
        assert re.search(r"ok    backup: last good backup", output), output[-3000:]
        assert guest.run("lynx-borg list --short").stdout.strip(), "no archive after the first backup"
    elif name == "restore":
        assert "ended" in output and "alice" in guest.run(f"{cli} user list").stdout, output[-3000:]
    elif name in ("upgrade", "rollback-same-schema"):
        assert re.search(r"^install: health: doctor: all checks passed;", output, re.M), output[-3000:]
        assert re.search(rf"version: lynx-portal {re.escape(release_version())} \(commit", output) or name != "upgrade", \
            output[-3000:]
    elif name == "pre-upgrade-cleanup":
        guest.run("test -d /var/lib/lynx-portal/pre-upgrade")
    elif name == "quiz-import":
        slugs = guest.run("runuser -u portal -- sqlite3 -readonly /var/lib/lynx-portal/portal.db "
                          "'SELECT slug FROM quiz ORDER BY slug'").stdout.split()
        assert "phase-0" in slugs and "week-2" in slugs, slugs


BLOCKS = runnable_blocks()


@pytest.mark.parametrize("label, name, text", BLOCKS, ids=[label for label, _, _ in BLOCKS])
def test_runbook_block_runs(vps, receiver, label, name, text):
    before(vps, name)
    script = substitute(text)
    result = run_retrying_apt_lock(vps, f"cd /root && bash -eo pipefail -c {shell_quote(script)}")
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{label} exited {result.returncode}:\n{script}\n---\n{output[-4000:]}"
    check(vps, name, output, receiver)


def shell_quote(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


# --- the wrapper reads the operator's files -------------------------------------------------

GIFT = "::q1:: Which command lists files? {=ls ~cd ~pwd}\n"


def test_quiz_import_of_a_private_file_in_a_private_directory(vps):
    vps.run("install -d -m 0700 /root/work && printf '%s' " + shell_quote(GIFT)
            + " >/root/work/my-quiz.gift && chmod 0600 /root/work/my-quiz.gift")
    result = vps.run("cd /root/work && lynx-portal quiz import my-quiz.gift")
    assert "my-quiz" in result.stdout, result.stdout
    slugs = vps.run("runuser -u portal -- sqlite3 -readonly /var/lib/lynx-portal/portal.db "
                    "\"SELECT slug FROM quiz WHERE slug = 'my-quiz'\"").stdout.split()
    assert slugs == ["my-quiz"], slugs
    # Nothing staged is left behind, and the original is untouched.
    assert vps.run("ls -d /run/lynx-portal-cli.* /tmp/lynx-portal-cli.* 2>/dev/null | wc -l").stdout.strip() == "0"
    assert vps.run("stat -c '%U %a' /root/work/my-quiz.gift").stdout.strip() == "root 600"


def test_check_templates_on_a_copy_of_the_templates(vps):
    vps.run("rm -rf /root/work/tpl && cp -a /opt/lynx-portal/templates /root/work/tpl && chmod -R go-rwx /root/work/tpl")
    vps.run("cd /root/work && lynx-portal check-templates --dir tpl && lynx-portal check-templates --dir=tpl")
    # A broken template is reported from the copy, with its file name: the copy is what was checked.
    vps.run("printf '{{#broken}}\\n' >>/root/work/tpl/layout.mustache")
    result = vps.run("cd /root/work && lynx-portal check-templates --dir tpl", check=False)
    assert result.returncode != 0 and "layout" in result.stdout + result.stderr, result.stdout + result.stderr


def test_a_missing_file_is_named_as_typed(vps):
    result = vps.run("cd /root/work && lynx-portal quiz import no-such-quiz.gift", check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip() == ("lynx-portal: no-such-quiz.gift: no such file "
                                     "(looked for /root/work/no-such-quiz.gift)"), result.stderr
    result = vps.run("cd /root/work && lynx-portal check-templates --dir nowhere", check=False)
    assert result.returncode == 1 and "lynx-portal: nowhere: no such directory" in result.stderr, result.stderr
