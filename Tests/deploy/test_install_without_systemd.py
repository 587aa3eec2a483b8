"""install.sh on a root where systemd is not running (an image being prepared, a chroot): it
does everything but the start steps, says so, and passes its own doctor. Also the production
rendering: TLS on, the default admin endpoint, no --email."""
import re
import subprocess

import pytest

from conftest import BUNDLE, REPO, Guest, figures, require_root


@pytest.fixture(scope="module")
def unbooted_root():
    require_root()
    assert (BUNDLE / "bin" / "lynx-portal").exists(), f"no release bundle at {BUNDLE}: run `make release`"
    guest = Guest("without-systemd")
    try:
        guest.copy_pristine()
        yield guest
    finally:
        guest.remove()


def install_without_boot(guest, options):
    """Runs install.sh in the root with systemd-nspawn but without booting it: no systemd runs."""
    command = ["systemd-nspawn", "-D", str(guest.root), "--register=no", "--keep-unit", "--as-pid2", "--pipe",
               f"--bind-ro={REPO}:/srv/src", *guest.apt_cache_binds(), "/srv/src/deploy/install.sh", *options]
    return subprocess.run(command, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL,
                          env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY": "1"})


def test_install_without_systemd_skips_only_the_start_steps(unbooted_root):
    first = install_without_boot(unbooted_root, ["--domain", "portal.example.org"])
    output = first.stdout + first.stderr
    assert first.returncode == 0, output[-4000:]
    assert "systemd is not running here: skipped" in output
    assert re.search(r"^install: health: doctor: all checks passed; services not started \(no systemd\)$",
                     output, re.M), output[-2000:]
    root = unbooted_root.root
    assert (root / "etc/systemd/system/sockets.target.wants/lynx-portal.socket").is_symlink()
    assert (root / "etc/systemd/system/multi-user.target.wants/caddy.service").is_symlink()
    caddyfile = (root / "etc/caddy/Caddyfile").read_text()
    assert re.search(r"^portal\.example\.org \{$", caddyfile, re.M), caddyfile
    assert "admin localhost:2019" in caddyfile and "{$LYNX_" not in caddyfile
    assert not re.search(r"^\s*email ", caddyfile, re.M), caddyfile
    assert not (root / "etc/systemd/system/lynx-portal.service.d/no-tls.conf").exists()
    assert (root / "var/lib/lynx-portal/portal.db").exists()

    second = install_without_boot(unbooted_root, [])
    assert second.returncode == 0, (second.stdout + second.stderr)[-4000:]
    changes = [line for line in second.stdout.splitlines()
               if line.startswith("install: ") and not line.startswith(("install: health:", "install: systemd is not"))]
    assert changes == ["install: nothing to change"], changes
    figures["install.sh without systemd (image/chroot), first run"] = "passes, start steps skipped"
