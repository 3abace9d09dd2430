"""The admin console in a real browser: Debian's headless Chromium,
driven by Selenium, against the real daemon. A transfer admin signs in,
creates an account and reads its hand-over page, an uploader encrypts
with age and uploads with curl, and the overview follows it without a
reload; a plaintext file shows up rejected with its reason; the password
is rotated (the old one fails over FTPS); sign-out. A read-only token
gets no buttons, and a forged cross-site POST changes nothing.

Screenshots go to $FTPSGATE_CONSOLE_SHOTS when it is set (docs/console/
is made that way), else to the test's temporary directory."""
import http.server
import io
import json
import os
import shutil
import socketserver
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

from ftps import login
from harness import Gateway, TOKEN

try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # the skip below says what is missing
    webdriver = None

# From npm, installed by scripts/test.sh beside the OpenAPI linter:
# puppeteer-core (Debian has Firefox but no geckodriver for Selenium) and
# axe-core, the accessibility checker run on each page of the console.
TOOLS = os.environ.get("FTPSGATE_TOOLS_DIR") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "build", "tools")
PUPPETEER = os.path.join(TOOLS, "node_modules", "puppeteer-core")
AXE = os.path.join(TOOLS, "node_modules", "axe-core", "axe.min.js")

CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
HAVE_BROWSER = webdriver is not None and os.path.exists(CHROMEDRIVER) and shutil.which("chromium")


def browser(tmp, width=1280, height=800):
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--ignore-certificate-errors", "--window-size=%d,%d" % (width, height),
              "--user-data-dir=" + tempfile.mkdtemp(dir=tmp), "--no-first-run",
              "--disable-extensions", "--disable-background-networking", "--lang=en-US"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    b = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    # the page itself gets width x height (the window is a little larger)
    b.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    return b


def ctx():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def request(url, method="GET", body=None, headers=None):
    """(status, headers, body) of one HTTPS request, any status."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, context=ctx(), timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


@unittest.skipUnless(HAVE_BROWSER and shutil.which("age"),
                     "needs chromium, chromium-driver, python3-selenium and age")
class ConsoleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway().start()
        cls.tmp = tempfile.mkdtemp(prefix="ftpsgate-console-")
        cls.shots = os.environ.get("FTPSGATE_CONSOLE_SHOTS") or cls.tmp
        os.makedirs(cls.shots, exist_ok=True)
        cls.origin = "https://127.0.0.1:%d" % cls.gw.admin_port

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.b = browser(self.tmp)
        self.addCleanup(self.b.quit)

    # ------------------------------------------------------------ helpers

    def wait(self, pred, timeout=20, what="the page"):
        try:
            return WebDriverWait(self.b, timeout, poll_frequency=0.1).until(lambda d: pred())
        except TimeoutException:
            shot = os.path.join(self.shots, "failed-%s.png" % self._testMethodName)
            self.b.save_screenshot(shot)
            self.fail("timed out waiting for %s (the page: %s); browser log: %s"
                      % (what, shot, self.b.get_log("browser")))

    def find(self, css, timeout=20):
        return self.wait(lambda: (self.b.find_elements(By.CSS_SELECTOR, css) or [None])[0], timeout, css)

    def text(self, css):
        """The text of the first match, read at once (lists redraw)."""
        self.find(css)
        return self.b.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : ''", css)

    def sign_in(self, token=TOKEN):
        self.b.get(self.origin + "/")
        self.find("#token")
        self.accessible("sign-in")
        self.find("#token").send_keys(token)
        self.click("#sign-in-button")
        self.find("#counts li")  # the overview

    def go(self, hash_):
        self.b.execute_script("location.hash = arguments[0]", hash_)

    def shot(self, name):
        self.b.save_screenshot(os.path.join(self.shots, name))

    def age(self, recipient, data):
        return subprocess.run(["age", "-r", recipient], input=data, capture_output=True, check=True,
                              timeout=60).stdout

    def curl_upload(self, user, password, name, data, *extra, wait=True):
        src = os.path.join(self.tmp, name)
        with open(src, "wb") as f:
            f.write(data)
        cmd = ["curl", "-sS", "--ssl-reqd", "-k", "--max-time", "120"] + list(extra) + [
            "-T", src, "ftps://%s:%s@127.0.0.1:%d/%s" % (user, password, self.gw.ftps_port, name)]
        if wait:
            return subprocess.run(cmd, capture_output=True, timeout=150)
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def accessible(self, page):
        """axe-core's WCAG 2 A and AA rules on the page as it is: no
        violation (labels, names, contrast, structure). Skipped quietly
        when axe-core is not installed."""
        if not os.path.exists(AXE):
            return
        with open(AXE) as f:
            self.b.execute_script(f.read())  # WebDriver's script: not bound by the page's CSP
        found = self.b.execute_async_script("""
            const done = arguments[arguments.length - 1];
            axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}})
              .then((r) => done(r.violations.map((v) => v.id + ': ' + v.help + ' at ' +
                v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', '))),
                    (e) => done(['axe failed: ' + e]));""")
        self.assertEqual(found, [], page)

    def state_count(self, state):
        return int(self.text("#counts a[data-state=%s] .n" % state) or -1)

    def click(self, css):
        """Click the first match; lists redraw as events come, so a match
        that went stale is looked up again."""
        def attempt():
            try:
                self.find(css).click()
                return True
            except StaleElementReferenceException:
                return False
        self.wait(attempt, what="a fresh " + css)

    # ------------------------------------------------------------ the migration

    def test_migration_in_the_browser(self):
        self.sign_in()
        self.assertEqual(self.b.get_cookie("ftpsgate_session")["httpOnly"], True)
        self.assertEqual(self.b.execute_script("return document.cookie"), "")
        self.assertEqual(self.b.execute_script("return localStorage.length + sessionStorage.length"), 0)

        # a new account, and everything to hand over on one page
        self.go("#/accounts/new")
        self.find("#new-username").send_keys("dora")
        self.find("#new-description").send_keys("Finance, Lotus Notes archive")
        self.click("#create-account")
        password = self.text("[data-fact='Password']")
        recipient = self.text("[data-fact='age recipient']")
        self.assertRegex(recipient, r"^age1[02-9ac-hj-np-z]{58}$")
        self.assertEqual(self.text("[data-fact='User name']"), "dora")
        self.assertEqual(self.text("[data-fact='Port (implicit TLS)']"), str(self.gw.ftps_port))
        self.assertEqual(self.text("[data-fact='Passive ports']"), "%d-%d" % self.gw.passive)
        self.assertEqual(self.text("#age-command"), "age -r %s -o FILE.age FILE" % recipient)
        self.assertIn(password, self.text("#handover-note"))
        self.shot("handover.png")
        self.accessible("handover")

        # the overview follows an upload as it arrives, without a reload
        self.go("#/overview")
        self.find("#counts li")
        self.b.execute_script("window.stillTheSamePage = 1")
        plain = os.urandom(6 * 1024 * 1024)
        enc = self.age(recipient, plain)
        up = self.curl_upload("dora", password, "mailbox.nsf.age", enc, "--limit-rate", "1M", wait=False)
        try:
            self.find("#running tr[data-upload] ", timeout=30)
            self.wait(lambda: "into 1 upload" in self.text("#rate-now"), what="the running upload's rate")
            # what this node received shows on the graph's figure while it runs
            self.wait(lambda: self.text("#last-hour").endswith("iB"), what="the bytes received so far")
            row = self.text("#running tr[data-upload]")
            self.assertIn("dora", row)
            self.assertIn("/mailbox.nsf.age", row)
            self.shot("overview-running.png")
            self.accessible("overview-running")
            self.assertEqual(up.wait(timeout=120), 0)
        finally:
            if up.poll() is None:
                up.kill()
        self.wait(lambda: self.state_count("imported") == 1, 60, "the upload to be imported")
        self.assertEqual(self.b.execute_script("return window.stillTheSamePage"), 1)
        self.assertEqual(self.b.find_elements(By.CSS_SELECTOR, "#running tr[data-upload]"), [])

        # a plaintext file: rejected, with its reason and what to do
        r = self.curl_upload("dora", password, "notes.nsf", b"plain text, not encrypted\n" * 1000)
        self.assertNotEqual(r.returncode, 0)
        self.wait(lambda: "not an age file" in self.text("#attention li.s-rejected"),
                  what="the rejected upload's reason")
        self.assertIn("age -r " + recipient, self.text("#attention li.s-rejected"))
        self.assertEqual(self.state_count("rejected"), 1)
        self.assertEqual(self.b.execute_script("return window.stillTheSamePage"), 1)
        self.b.execute_script("document.getElementById('h-running').scrollIntoView()")
        self.shot("attention.png")
        self.accessible("attention")

        # the account's page: its uploads, its audit trail
        self.click("#attention li.s-rejected a")
        self.wait(lambda: len(self.b.find_elements(By.CSS_SELECTOR, "#account-uploads tr[data-upload]")) == 2,
                  what="the account's two uploads")
        self.assertIn("POST /api/v1/accounts", self.text("#account-audit"))

        # a narrow window: nothing wider than it but the tables' own scrolling
        self.b.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 420, "height": 800, "deviceScaleFactor": 1, "mobile": True})
        self.wait(lambda: self.b.execute_script("return document.documentElement.scrollWidth") <= 420,
                  what="the page to fit a 420 px window")
        self.shot("narrow-account.png")
        self.accessible("narrow-account")
        self.b.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False})

        # a new password: the old one fails over FTPS, the new one works
        self.click("#rotate-password")
        self.click("dialog.confirm button.danger")
        new_password = self.text("[data-fact='Password']")
        self.assertNotEqual(new_password, password)
        with self.assertRaises(Exception) as refused:
            login("127.0.0.1", self.gw.ftps_port, "dora", password).quit()
        self.assertIn("530", str(refused.exception))
        login("127.0.0.1", self.gw.ftps_port, "dora", new_password).quit()

        # every list, as it is after all that
        for page, css in (("#/accounts", "#accounts tr[data-account]"), ("#/uploads", "#uploads tr[data-upload]"),
                          ("#/tokens", "#tokens tr[data-token]"), ("#/bans", "#bans tr"),
                          ("#/audit", "#audit tr")):
            self.go(page)
            self.find(css)
            self.accessible(page)

        # sign out: the cookie no longer opens anything
        cookie = self.b.get_cookie("ftpsgate_session")["value"]
        self.click("#sign-out")
        self.find("#sign-in")
        status, _, _ = request(self.origin + "/api/v1/accounts",
                               headers={"Cookie": "ftpsgate_session=" + cookie})
        self.assertEqual(status, 401)
        self.b.get(self.origin + "/#/accounts")
        self.find("#sign-in")

    def test_account_policy_in_the_browser(self):
        a = self.gw.create_account(username="narrowed")
        self.sign_in()
        self.go("#/accounts/%d" % a["id"])
        self.find("#policy-form")
        self.assertIn("anywhere", self.text("#policy-effective"))
        self.find("#policy-addresses").send_keys("127.0.0.2, 2001:db8::/32")
        self.find("#policy-names").send_keys("*.nsf.age, *.ntf.age")
        self.find("#policy-max-file").send_keys("2")
        self.find("#policy-rate").send_keys("1.5")
        self.find("#policy-sessions").send_keys("3")
        self.click("#policy-form button[type=submit]")
        self.wait(lambda: "127.0.0.2" in self.text("#policy-effective"), what="the policy saved")
        doc = self.gw.api("GET", "/accounts/%d" % a["id"])[1]
        self.assertEqual(doc["allowed_addresses"], ["127.0.0.2", "2001:db8::/32"])
        self.assertEqual(doc["allowed_names"], ["*.nsf.age", "*.ntf.age"])
        self.assertEqual(doc["max_file_bytes"], 2 << 30)
        self.assertEqual(doc["rate_limit_bytes_per_s"], 3 << 19)
        self.assertEqual(doc["max_sessions"], 3)
        self.assertIn("*.nsf.age, *.ntf.age", self.text("#policy-effective"))
        self.assertIn("2.00 GiB", self.text("#policy-effective"))
        self.b.execute_script("document.getElementById('h-policy').scrollIntoView()")
        self.shot("account-policy.png")
        self.accessible("account-policy")
        # what the console set is what FTPS enforces: 127.0.0.1 is refused now
        with self.assertRaises(Exception) as refused:
            login("127.0.0.1", self.gw.ftps_port, "narrowed", a["password"]).quit()
        self.assertIn("530", str(refused.exception))
        login("127.0.0.1", self.gw.ftps_port, "narrowed", a["password"], source="127.0.0.2").quit()
        # emptied fields: back to the server's defaults
        for css in ("#policy-addresses", "#policy-names", "#policy-max-file", "#policy-rate",
                    "#policy-sessions"):
            self.find(css).clear()
        self.click("#policy-form button[type=submit]")
        self.wait(lambda: "anywhere" in self.text("#policy-effective"), what="the defaults back")
        doc = self.gw.api("GET", "/accounts/%d" % a["id"])[1]
        self.assertEqual([doc[k] for k in ("allowed_addresses", "allowed_names", "max_file_bytes",
                                           "rate_limit_bytes_per_s", "max_sessions")], [None] * 5)
        self.assertIn("policy set: allowed_addresses", self.text("#account-audit"))

    def test_read_only_token_has_no_buttons(self):
        status, tok, _ = self.gw.api("POST", "/tokens", {"name": "auditor", "scope": "read"})
        self.assertEqual(status, 201)
        a = self.gw.create_account(username="ro-target")
        self.sign_in(tok["token"])
        self.assertIn("read only", self.text("#who"))
        self.go("#/accounts")
        self.find("#accounts tr[data-account]")
        self.assertEqual(self.b.find_elements(By.CSS_SELECTOR, "#new-account"), [])
        self.go("#/accounts/%d" % a["id"])
        self.find("#keys")
        self.assertIn("anywhere", self.text("#policy-effective"))
        for css in ("#rotate-password", "#disable", "#issue-key", "#delete-account", "main button.danger",
                    "#policy-form"):
            self.assertEqual(self.b.find_elements(By.CSS_SELECTOR, css), [], css)
        # and the API refuses the write even from the console's own page
        status = self.b.execute_async_script("""
            const done = arguments[arguments.length - 1];
            const s = await (await fetch('/api/v1/session')).json();
            const r = await fetch('/api/v1/accounts/%d', {method: 'PATCH',
                headers: {'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf_token},
                body: JSON.stringify({status: 'disabled'})});
            done(r.status);""" % a["id"])
        self.assertEqual(status, 403)
        self.assertEqual(self.gw.api("GET", "/accounts/%d" % a["id"])[1]["status"], "active")
        # a read-only session may still sign out
        self.click("#sign-out")
        self.find("#sign-in")

    def test_forged_cross_site_post_is_refused(self):
        self.sign_in()
        before = self.gw.api("GET", "/accounts?limit=1000")[1]["items"]
        target = self.origin + "/api/v1/accounts"

        class Evil(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                page = ("<!doctype html><form id=f method=POST action='%s' enctype='text/plain'>"
                        "<input name='{\"username\":\"forged\",\"x\":\"' value='\"}'></form>"
                        "<script>fetch('%s', {method:'POST', credentials:'include', mode:'no-cors',"
                        " headers:{'Content-Type':'text/plain'}, body:'{\"username\":\"forged2\"}'})"
                        ".finally(() => document.getElementById('f').submit());</script>"
                        % (target, target)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *a):
                pass

        srv = socketserver.TCPServer(("127.0.0.2", 0), Evil)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.addCleanup(srv.shutdown)
        self.b.get("http://127.0.0.2:%d/" % srv.server_address[1])
        # the form posts to the gateway: its answer (a refusal) loads
        self.wait(lambda: self.b.current_url.startswith(self.origin), what="the forged form's post")
        time.sleep(0.5)
        after = self.gw.api("GET", "/accounts?limit=1000")[1]["items"]
        self.assertEqual([a["username"] for a in after], [a["username"] for a in before])
        self.assertIn("401", self.b.page_source)  # SameSite=Strict: no cookie went along

        # with the cookie itself (as a stolen-cookie script would have it):
        # no CSRF token, or a foreign Origin, is refused
        self.b.get(self.origin + "/")
        self.find("#counts li")
        cookie = "ftpsgate_session=" + self.b.get_cookie("ftpsgate_session")["value"]
        csrf = self.b.execute_async_script("""
            const done = arguments[arguments.length - 1];
            done((await (await fetch('/api/v1/session')).json()).csrf_token);""")
        body = json.dumps({"username": "forged3"}).encode()
        for headers, want in (
                ({"Cookie": cookie}, 403),
                ({"Cookie": cookie, "X-CSRF-Token": "x" * 64}, 403),
                ({"Cookie": cookie, "X-CSRF-Token": csrf, "Origin": "https://evil.example"}, 403),
                ({"Cookie": cookie, "X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"}, 403),
                ({"Cookie": cookie, "X-CSRF-Token": csrf, "Origin": self.origin}, 201)):
            headers["Content-Type"] = "application/json"
            status, _, text = request(target, "POST", body, headers)
            self.assertEqual(status, want, (headers, text))
        names = [a["username"] for a in self.gw.api("GET", "/accounts?limit=1000")[1]["items"]]
        self.assertNotIn("forged", names)
        self.assertNotIn("forged2", names)
        self.assertIn("forged3", names)




@unittest.skipUnless(shutil.which("node") and shutil.which("firefox-esr") and os.path.isdir(PUPPETEER),
                     "needs node, firefox-esr and puppeteer-core in " + TOOLS)
class FirefoxTest(unittest.TestCase):
    """The same console in Firefox: sign in, the overview, a new account's
    hand-over page, sign out."""

    def test_console_in_firefox(self):
        gw = Gateway().start()
        self.addCleanup(gw.cleanup)
        tmp = tempfile.mkdtemp(prefix="ftpsgate-firefox-")
        self.addCleanup(shutil.rmtree, tmp, True)
        env = dict(os.environ, PUPPETEER_DIR=TOOLS, HOME=tmp)
        r = subprocess.run(["node", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                 "console_firefox.mjs"),
                            "https://127.0.0.1:%d" % gw.admin_port, TOKEN, "fox",
                            os.path.join(tmp, "firefox.png")],
                           capture_output=True, text=True, timeout=240, env=env)
        lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
        self.assertTrue(lines, (r.returncode, r.stdout[-2000:], r.stderr[-2000:]))
        doc = json.loads(lines[-1])
        self.assertNotIn("failed", doc, doc)
        self.assertEqual(doc["errors"], [])
        self.assertEqual(doc["username"], "fox")
        self.assertRegex(doc["recipient"], r"^age1[02-9ac-hj-np-z]{58}$")
        # the password the page showed logs in over FTPS
        login("127.0.0.1", gw.ftps_port, "fox", doc["password"]).quit()
        self.assertEqual(r.returncode, 0)


class ConsoleHttpTest(unittest.TestCase):
    """What the console's pages and sessions answer, without a browser."""

    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway().start()
        cls.origin = "https://127.0.0.1:%d" % cls.gw.admin_port

    @classmethod
    def tearDownClass(cls):
        cls.gw.cleanup()

    def test_pages_and_headers(self):
        status, h, body = request(self.origin + "/")
        self.assertEqual(status, 200)
        self.assertTrue(h["Content-Type"].startswith("text/html"))
        self.assertIn(b'<script type="module" src="/console/app.js">', body)
        csp = h["Content-Security-Policy"]
        self.assertIn("script-src 'self'", csp)
        self.assertNotIn("unsafe-inline", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        self.assertEqual(h["X-Frame-Options"], "DENY")
        self.assertEqual(h["Referrer-Policy"], "no-referrer")
        self.assertNotIn(b"<script>", body)  # no inline script
        for name, ctype in (("app.js", "text/javascript"), ("style.css", "text/css"),
                            ("icon.svg", "image/svg+xml")):
            status, h, body = request(self.origin + "/console/" + name)
            self.assertEqual(status, 200, name)
            self.assertTrue(h["Content-Type"].startswith(ctype), name)
            # nothing from another origin
            self.assertNotRegex(body.decode(), r"https?://(?!www\.w3\.org/2000/svg)", name)
        for path in ("/console/nope.js", "/console/../openapi.json", "/etc/passwd", "/index.htm"):
            self.assertEqual(request(self.origin + path)[0], 404, path)
        self.assertEqual(request(self.origin + "/", "POST", b"")[0], 405)
        # the API's answers carry the same headers
        status, h, _ = request(self.gw.admin_url + "/health")
        self.assertEqual(h["X-Frame-Options"], "DENY")

    def test_session_cookie(self):
        url = self.gw.admin_url + "/session"
        status, h, body = request(url, "POST", json.dumps({"token": TOKEN}).encode(),
                                  {"Content-Type": "application/json"})
        self.assertEqual(status, 201, body)
        cookie = h["Set-Cookie"]
        for attr in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/", "Max-Age=43200"):
            self.assertIn(attr, cookie)
        value = cookie.split(";")[0]
        doc = json.loads(body)
        self.assertEqual(doc["scope"], "admin")
        self.assertRegex(doc["csrf_token"], r"^[A-Za-z0-9]{64}$")
        # GET with the cookie works and needs no CSRF token
        status, _, body = request(self.gw.admin_url + "/accounts", headers={"Cookie": value})
        self.assertEqual(status, 200)
        # the session is audited as a sign-in
        audit = self.gw.api("GET", "/audit")[1]["items"]
        self.assertEqual((audit[0]["path"], audit[0]["status"], audit[0]["detail"]),
                         ("/api/v1/session", 201, "console sign-in"))
        # a revoked token ends its sessions
        status, tok, _ = self.gw.api("POST", "/tokens", {"name": "short-lived", "scope": "admin"})
        status, h, _ = request(url, "POST", json.dumps({"token": tok["token"]}).encode(),
                               {"Content-Type": "application/json"})
        short = h["Set-Cookie"].split(";")[0]
        self.assertEqual(request(self.gw.admin_url + "/accounts", headers={"Cookie": short})[0], 200)
        self.gw.api("DELETE", "/tokens/%d" % tok["id"])
        self.assertEqual(request(self.gw.admin_url + "/accounts", headers={"Cookie": short})[0], 401)
        # sign-out with the CSRF token ends the session
        status, h, _ = request(url, "DELETE", None, {"Cookie": value, "X-CSRF-Token": doc["csrf_token"]})
        self.assertEqual(status, 204)
        self.assertIn("Max-Age=0", h["Set-Cookie"])
        self.assertEqual(request(self.gw.admin_url + "/accounts", headers={"Cookie": value})[0], 401)

    def test_account_search_activity_and_audit_trail(self):
        a = self.gw.create_account(username="search-me", description="Legal Dept")
        self.gw.create_account(username="other-one", description="legal archive 100%")
        self.gw.create_account(username="zed")

        def names(q):
            status, doc, _ = self.gw.api("GET", "/accounts?search=" + q)
            self.assertEqual(status, 200, doc)
            return [x["username"] for x in doc["items"]]
        self.assertEqual(names("LEGAL"), ["search-me", "other-one"])
        self.assertEqual(names("ch-M"), ["search-me"])
        self.assertEqual(names("100%25"), ["other-one"])  # '%' is a character, not a wildcard
        self.assertEqual(names("_"), [])
        self.assertEqual(self.gw.api("GET", "/accounts?search=%FF")[0], 400)
        mine = [x for x in self.gw.api("GET", "/accounts?search=search-me")[1]["items"]][0]
        self.assertIsNone(mine["last_activity_at"])
        ftp = login("127.0.0.1", self.gw.ftps_port, "search-me", a["password"])
        ftp.storbinary("STOR f.txt", io.BytesIO(b"x" * 1000))
        ftp.quit()
        up = self.gw.wait_upload(lambda u: u["account_id"] == a["id"] and u["state"] == "imported")
        mine = self.gw.api("GET", "/accounts?search=search-me")[1]["items"][0]
        self.assertEqual(mine["last_activity_at"], up["updated_at"])
        # the account's trail: its creation, its changes, its uploads' purge
        self.gw.api("PATCH", "/accounts/%d" % a["id"], {"description": "Legal"})
        self.assertEqual(self.gw.api("DELETE", "/uploads/%d" % up["id"])[0], 200)
        trail = self.gw.api("GET", "/audit?account_id=%d" % a["id"])[1]["items"]
        self.assertEqual([(e["method"], e["path"], e["account_id"]) for e in trail],
                         [("DELETE", "/api/v1/uploads/%d" % up["id"], a["id"]),
                          ("PATCH", "/api/v1/accounts/%d" % a["id"], a["id"]),
                          ("POST", "/api/v1/accounts", a["id"])])
        self.assertEqual(self.gw.api("GET", "/audit?account_id=0")[0], 400)

    def test_failed_sign_ins_are_slowed_down(self):
        gw = Gateway().start()
        self.addCleanup(gw.cleanup)
        url = gw.admin_url + "/session"
        seen = []
        for i in range(12):
            status, h, _ = request(url, "POST", json.dumps({"token": "wrong%d" % i}).encode(),
                                   {"Content-Type": "application/json"})
            seen.append(status)
        self.assertEqual(seen[:10], [401] * 10)
        self.assertEqual(seen[10:], [429, 429])
        # and bad bearer tokens share the same count
        self.assertEqual(gw.api("GET", "/accounts", token="wrong")[0], 429)
        for bad in (b"{", b"[]", json.dumps({"token": 5}).encode(), json.dumps({"x": 1}).encode()):
            status, _, _ = request(url, "POST", bad, {"Content-Type": "application/json"})
            self.assertIn(status, (400, 429), bad)


if __name__ == "__main__":
    unittest.main()
