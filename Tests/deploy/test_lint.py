"""Checks of the deploy files that need no guest: shellcheck, caddy fmt/validate, the offline
hardening score of the service unit."""
import os
import re
import subprocess

from conftest import HERE, REPO, figures

DEPLOY = REPO / "deploy"
MAX_EXPOSURE = 1.0


def exposure(output):
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", output)
    assert match, output[-2000:]
    return float(match.group(1))


def test_every_deploy_script_is_shellcheck_clean():
    scripts = sorted(DEPLOY.glob("*.sh")) + sorted(HERE.glob("*.sh"))
    assert DEPLOY / "install.sh" in scripts and DEPLOY / "lynx-portal-cli.sh" in scripts
    result = subprocess.run(["shellcheck", "--severity=style", *map(str, scripts)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_scripts_use_strict_mode_and_have_a_usage_line():
    for script in sorted(DEPLOY.glob("*.sh")) + sorted(HERE.glob("*.sh")):
        text = script.read_text()
        assert re.search(r"^set -E?euo pipefail$", text, re.M), f"{script.name}: no `set -euo pipefail`"
        assert re.search(r"^# Usage: |usage: ", text, re.M | re.I), f"{script.name}: no usage line"


def test_install_script_refuses_unknown_options_with_its_usage():
    result = subprocess.run([str(DEPLOY / "install.sh"), "--frobnicate"], capture_output=True, text=True)
    assert result.returncode == 2 and "usage: deploy/install.sh" in result.stderr, result.stderr


def test_caddyfile_is_caddy_fmt_clean():
    result = subprocess.run(["caddy", "fmt", str(DEPLOY / "Caddyfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (DEPLOY / "Caddyfile").read_text(), "run: caddy fmt --overwrite deploy/Caddyfile"


def test_caddyfile_validates_with_its_production_defaults(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LYNX_")}
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    result = subprocess.run(["caddy", "validate", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0 and "Valid configuration" in result.stdout + result.stderr, result.stderr


def test_caddyfile_keeps_the_required_directives():
    text = (DEPLOY / "Caddyfile").read_text()
    for needle in ("encode zstd gzip", "request_header -Proxy", "Strict-Transport-Security",
                   "X-Content-Type-Options", "Referrer-Policy", "max_size 64KiB", "transport fastcgi",
                   "dial_timeout", "read_timeout", "write_timeout", "file_server", "buffer_requests", "max_buffer_size 65537",
                   "unix/{$LYNX_SOCKET:/run/lynx-portal/portal.sock}"):
        assert needle in text, needle


def test_service_unit_offline_exposure_is_at_most_one():
    unit = DEPLOY / "systemd" / "lynx-portal.service"
    result = subprocess.run(["systemd-analyze", "security", "--offline=true", str(unit)],
                            capture_output=True, text=True)
    score = exposure(result.stdout + result.stderr)
    figures["systemd-analyze security --offline=true deploy/systemd/lynx-portal.service"] = f"{score:.1f}"
    assert score <= MAX_EXPOSURE, result.stdout


def test_units_keep_the_socket_unix_only_and_caddy_only():
    socket_unit = (DEPLOY / "systemd" / "lynx-portal.socket").read_text()
    listens = re.findall(r"^Listen\w+=(.*)$", socket_unit, re.M)
    assert listens == ["/run/lynx-portal/portal.sock"], listens
    assert re.search(r"^SocketGroup=caddy$", socket_unit, re.M) and re.search(r"^SocketMode=0660$", socket_unit, re.M)
    service = (DEPLOY / "systemd" / "lynx-portal.service").read_text()
    for line in ("StandardInput=socket", "User=portal", "EnvironmentFile=/etc/lynx-portal/portal.env",
                 "Restart=on-failure", "ExecReload=/bin/kill -HUP $MAINPID", "SystemCallFilter=setpriority"):
        assert re.search(rf"^{re.escape(line)}$", service, re.M), line


ALERT_SCRIPTS = [DEPLOY / "backup" / "lynx-portal-watch.sh", DEPLOY / "backup" / "lynx-portal-alert.sh"]
ALERT_UNITS = ["lynx-portal-watch.service", "lynx-portal-watch.timer", "lynx-portal-alert@.service"]


def test_alert_scripts_and_login_message_are_shellcheck_clean():
    scripts = [*ALERT_SCRIPTS, DEPLOY / "profile.d" / "lynx-portal-alert.sh"]
    result = subprocess.run(["shellcheck", "--severity=style", *map(str, scripts)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    for script in ALERT_SCRIPTS:
        text = script.read_text()
        assert re.search(r"^set -euo pipefail$", text, re.M) and re.search(r"^# Usage: ", text, re.M), script.name


def test_alert_units_verify(tmp_path):
    """systemd-analyze verify on copies whose ExecStart= points at the scripts in deploy/backup/."""
    for name in ALERT_UNITS:
        text = (DEPLOY / "systemd" / name).read_text()
        for script in ALERT_SCRIPTS:
            installed = "/usr/local/bin/" + script.stem
            text = text.replace(installed + "\n", f"{script}\n").replace(installed + " ", f"{script} ")
        (tmp_path / name).write_text(text)
    instance = tmp_path / "lynx-portal-alert@lynx-portal-watch.service.service"
    (tmp_path / "lynx-portal-alert@.service").rename(instance)
    units = [tmp_path / "lynx-portal-watch.service", tmp_path / "lynx-portal-watch.timer", instance]
    result = subprocess.run(["systemd-analyze", "verify", *map(str, units)], capture_output=True, text=True,
                            cwd=tmp_path)
    # verify exits 0 on an unknown key (it only warns): any message is a failure here.
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr
    timer = (DEPLOY / "systemd" / "lynx-portal-watch.timer").read_text()
    for line in ("OnCalendar=hourly", "Persistent=true", "OnActiveSec=10min", "WantedBy=timers.target"):
        assert re.search(rf"^{re.escape(line)}$", timer, re.M), line
    watch = (DEPLOY / "systemd" / "lynx-portal-watch.service").read_text()
    assert re.search(r"^OnFailure=lynx-portal-alert@%n\.service$", watch, re.M)


def test_watch_unit_offline_exposure(tmp_path):
    # Root, with the capabilities runuser and chown need: not the portal's 1.0, but confined.
    result = subprocess.run(["systemd-analyze", "security", "--offline=true",
                             str(DEPLOY / "systemd" / "lynx-portal-watch.service")], capture_output=True, text=True)
    score = exposure(result.stdout + result.stderr)
    figures["systemd-analyze security --offline=true deploy/systemd/lynx-portal-watch.service"] = f"{score:.1f}"
    assert score <= 5.0, result.stdout
