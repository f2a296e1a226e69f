"""The one browser-engine harness of the browser tests and the page benchmark (tests/bench/page_bench.py).

Three engines, each the Debian package, never a Playwright download (DESIGN.md, "Browsers on a Debian
machine", says why these binaries and flags):
- Chromium (`chromium`) and Firefox ESR (`firefox-esr`, WebDriver BiDi) through Playwright: `launch_args(name)`
  is what `browser_type.launch()` needs for each; the tests hand it to pytest-playwright's
  `browser_type_launch_args` fixture, the benchmark to its own launch.
- WebKit (WebKitGTK's MiniBrowser) through Selenium's WebKitGTK driver under a private Xvfb: `webkit_driver()`.
  Playwright's own WebKit build cannot be installed here.

`Tab` is the small interface the engine-neutral tests and the benchmark drive a page through: a Playwright
page (`PlaywrightTab`) or a Selenium session (`SeleniumTab`). Nothing here imports pytest.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import shutil
import socketserver
import subprocess
import threading
import time
from pathlib import Path

# The three engines, by pytest-playwright's names (`--browser NAME`).
ENGINES = ("chromium", "firefox", "webkit")
CHROMIUM = shutil.which("chromium")
# Without the networking flags Chromium keeps dialling out (and being refused); no sandbox as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FIREFOX = shutil.which("firefox-esr")
WEBKIT_DRIVER = shutil.which("WebKitWebDriver")
XVFB = shutil.which("Xvfb")
# MiniBrowser is not on PATH: libwebkit2gtk-4.1-0 (a dependency of webkit2gtk-driver) keeps it in its
# multiarch library directory.
MINIBROWSER = next(iter(sorted(Path("/usr/lib").glob("*/webkit2gtk-4.1/MiniBrowser"))), None)
# Every page and the benchmark's tabs: 1280x720 CSS pixels (also Playwright's default).
VIEWPORT = {"width": 1280, "height": 720}
# How long Xvfb gets to open its display socket, s.
XVFB_START_S = 10


def missing(name: str) -> str | None:
    """What the machine lacks to run engine `name`, as a sentence naming the Debian package; None if nothing."""
    if name == "chromium" and CHROMIUM is None:
        return "Debian's chromium is not installed (python3 build.py test installs it)"
    if name == "firefox" and FIREFOX is None:
        return "Debian's firefox-esr is not installed (python3 build.py test installs it)"
    if name == "webkit" and None in (WEBKIT_DRIVER, MINIBROWSER, XVFB):
        return ("WebKitWebDriver, MiniBrowser or Xvfb is missing (Debian packages webkit2gtk-driver and xvfb; "
                "python3 build.py test installs them)")
    if name not in ENGINES:
        return f"unknown engine {name!r}: use one of {', '.join(ENGINES)}"
    return None


def launch_args(name: str, proxy: str | None = None) -> dict:
    """Keyword arguments of Playwright's `browser_type.launch()` for Debian's chromium or firefox-esr.

    proxy: an HTTP proxy URL for every request but those to 127.0.0.1 (Firefox only: Playwright makes
    Chromium send loopback requests to a proxy too).
    """
    problem = missing(name)
    if problem:
        raise RuntimeError(problem)
    if name == "chromium":
        return {"executable_path": CHROMIUM, "args": list(CHROMIUM_ARGS)}
    if name == "firefox":
        # Firefox never sends 127.0.0.1 to a proxy, so a test server there is reached directly.
        return {"channel": "moz-firefox", "executable_path": FIREFOX, **({"proxy": {"server": proxy}} if proxy else {})}
    raise RuntimeError(f"Playwright cannot drive {name} here: WebKit runs through Selenium (webkit_driver())")


class ForeignRequestTrap(socketserver.ThreadingTCPServer):
    """An HTTP proxy on 127.0.0.1 that answers 403 to every request and remembers what was asked for.

    A browser whose traffic to anywhere but the test server goes here (Firefox, WebKit) shows, by
    construction, every request to another origin, whichever part of it (page, worker, the browser itself)
    made it."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        self.seen: list[str] = []
        trap = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def refuse(self):
                trap.seen.append(f"{self.command} {self.path}")
                self.send_error(403, "robotrain tests: no requests to other origins")

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = do_CONNECT = refuse

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def close(self):
        self.shutdown()
        self.server_close()


def _free_display() -> int:
    """A display number with no X server socket yet."""
    for number in range(90, 200):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            return number
    raise RuntimeError("no free X display number from :90 to :199")


@contextlib.contextmanager
def xvfb_display():
    """A private Xvfb server (MiniBrowser is a GTK application and needs a display); yields ':N'."""
    number = _free_display()
    server = subprocess.Popen([XVFB, f":{number}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + XVFB_START_S
        while not Path(f"/tmp/.X11-unix/X{number}").exists():
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Xvfb :{number} did not start (exit code {server.poll()})")
            time.sleep(0.1)
        yield f":{number}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


@contextlib.contextmanager
def webkit_driver(proxy: str | None = None, log_output=subprocess.DEVNULL):
    """A Selenium session in WebKitGTK's MiniBrowser under a private Xvfb, window at VIEWPORT; yields the driver.

    proxy: an HTTP proxy URL for every request but those to 127.0.0.1. log_output: where MiniBrowser's and
    WebKitWebDriver's output goes (a file object or subprocess.DEVNULL).
    """
    problem = missing("webkit")
    if problem:
        raise RuntimeError(problem)
    from selenium import webdriver
    from selenium.webdriver.webkitgtk.options import Options
    from selenium.webdriver.webkitgtk.service import Service

    options = Options()
    options.binary_location = str(MINIBROWSER)
    options.add_argument("--automation")
    if proxy:
        options.add_argument(f"--proxy={proxy}")
        options.add_argument("--ignore-host=127.0.0.1")
    with xvfb_display() as display:
        service = Service(executable_path=WEBKIT_DRIVER, log_output=log_output, env={**os.environ, "DISPLAY": display})
        driver = webdriver.WebKitGTK(options=options, service=service)
        try:
            driver.set_window_size(VIEWPORT["width"], VIEWPORT["height"])
            yield driver
        finally:
            driver.quit()


def _async_function(body: str) -> str:
    return f"async () => {{ {body} }}"


class PlaywrightTab:
    """A Tab over a Playwright page (Chromium or Firefox)."""

    engine_api = "playwright"

    def __init__(self, page, owns_context: bool = False):
        self.page = page
        self.owns_context = owns_context
        self.console: list[str] = []
        page.on("pageerror", lambda error: self.console.append(f"page error: {error}"))

    @classmethod
    def in_new_context(cls, browser) -> "PlaywrightTab":
        """A tab in a fresh context of `browser`; close() closes the context."""
        return cls(browser.new_context(viewport=VIEWPORT).new_page(), owns_context=True)

    def goto(self, url: str) -> None:
        self.page.goto(url)

    def evaluate(self, expression: str):
        """The (JSON-safe) value of a JS expression in the page."""
        return self.page.evaluate(expression)

    def run(self, body: str):
        """Run the body of an async JS function in the page; return its (JSON-safe) value."""
        return self.page.evaluate(_async_function(body))

    def click(self, selector: str) -> None:
        self.page.click(selector)

    def upload(self, selector: str, path: Path) -> None:
        """Choose the file at `path` in the file input `selector`."""
        self.page.set_input_files(selector, str(path))

    def screenshot(self, path: Path) -> None:
        self.page.screenshot(path=str(path))

    def close(self) -> None:
        if self.owns_context:
            self.page.context.close()


class SeleniumTab:
    """A Tab over a Selenium session (WebKitGTK), which it shares with every other tab of that driver."""

    engine_api = "selenium"

    def __init__(self, driver):
        self.driver = driver
        self.console: list[str] = []

    def goto(self, url: str) -> None:
        self.driver.get(url)

    def evaluate(self, expression: str):
        return self.driver.execute_script(f"return ({expression});")

    def run(self, body: str):
        script = (
            "const done = arguments[arguments.length - 1];"
            f"({_async_function(body)})().then((v) => done({{ok: v === undefined ? null : v}}),"
            " (e) => done({error: String(e && e.stack || e)}));"
        )
        out = self.driver.execute_async_script(script)
        if "error" in out:
            raise RuntimeError(out["error"])
        return out["ok"]

    def click(self, selector: str) -> None:
        from selenium.webdriver.common.by import By

        self.driver.find_element(By.CSS_SELECTOR, selector).click()

    def upload(self, selector: str, path: Path) -> None:
        from selenium.webdriver.common.by import By

        self.driver.find_element(By.CSS_SELECTOR, selector).send_keys(str(path))

    def screenshot(self, path: Path) -> None:
        self.driver.save_screenshot(str(path))

    def close(self) -> None:
        self.driver.get("about:blank")


@contextlib.contextmanager
def open_engine(name: str):
    """One browser of engine `name`, launched as the tests launch it; yields (new_tab, version), where
    new_tab() opens a Tab (a fresh context in Chromium and Firefox; the one window in WebKit)."""
    if name == "webkit":
        with webkit_driver() as driver:
            driver.set_script_timeout(600)
            yield (lambda: SeleniumTab(driver)), driver.capabilities.get("browserVersion", "?")
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = getattr(p, name).launch(**launch_args(name))
        try:
            yield (lambda: PlaywrightTab.in_new_context(browser)), browser.version
        finally:
            browser.close()
