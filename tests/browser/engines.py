"""Fixtures for the smoke suite in the two other engines: Firefox ESR (Playwright over WebDriver BiDi) and
WebKit (WebKitGTK's MiniBrowser through Selenium's WebKitGTK driver, under Xvfb). DESIGN.md, "Browsers on a
Debian machine", says why these binaries and flags. `python3 build.py test` installs them; on a machine
without them the tests skip and say what is missing.

Each engine's traffic to anywhere but the test server goes to a trap: an HTTP proxy that records and refuses
every request it is sent. The test server (127.0.0.1) is exempt from the proxy, so whatever reaches the trap
is, by construction, a request to another origin, whichever part of the browser (page, worker, the browser
itself) made it.
"""

from __future__ import annotations

import http.server
import os
import shutil
import socketserver
import subprocess
import threading
import time
from pathlib import Path

import pytest

from .conftest import VIEWPORT

FIREFOX = shutil.which("firefox-esr")
WEBKIT_DRIVER = shutil.which("WebKitWebDriver")
XVFB = shutil.which("Xvfb")
# MiniBrowser is not on PATH: libwebkit2gtk-4.1-0 (a dependency of webkit2gtk-driver) keeps it in its
# multiarch library directory.
MINIBROWSER = next(iter(sorted(Path("/usr/lib").glob("*/webkit2gtk-4.1/MiniBrowser"))), None)
# How long Xvfb gets to open its display socket.
XVFB_START_S = 10


class ForeignRequestTrap(socketserver.ThreadingTCPServer):
    """An HTTP proxy on 127.0.0.1 that answers 403 to every request and remembers what was asked for."""

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


@pytest.fixture(scope="module")
def foreign_trap():
    trap = ForeignRequestTrap()
    yield trap
    trap.close()


@pytest.fixture(scope="module")
def firefox(playwright, foreign_trap):
    """Debian's Firefox ESR through Playwright's BiDi channel, every proxied request going to the trap."""
    if FIREFOX is None:
        pytest.skip("Debian's firefox-esr is not installed (python3 build.py test installs it)")
    # Firefox never sends 127.0.0.1 to a proxy, so the test server is reached directly.
    browser = playwright.firefox.launch(channel="moz-firefox", executable_path=FIREFOX,
                                        proxy={"server": foreign_trap.url})
    yield browser
    browser.close()


def _free_display() -> int:
    """A display number with no X server socket yet."""
    for number in range(90, 200):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            return number
    raise RuntimeError("no free X display number from :90 to :199")


@pytest.fixture(scope="module")
def xvfb_display():
    """A private Xvfb server (MiniBrowser is a GTK application and needs a display); yields ':N'."""
    if XVFB is None:
        pytest.skip("Xvfb is not installed (Debian package xvfb; python3 build.py test installs it)")
    number = _free_display()
    server = subprocess.Popen([XVFB, f":{number}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + XVFB_START_S
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            pytest.fail(f"Xvfb :{number} did not start (exit code {server.poll()})")
        time.sleep(0.1)
    yield f":{number}"
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()


@pytest.fixture(scope="module")
def webkit(xvfb_display, foreign_trap, tmp_path_factory):
    """A Selenium session in WebKitGTK's MiniBrowser; its output and the driver's go to webkit.log under
    pytest's temporary directory."""
    if WEBKIT_DRIVER is None or MINIBROWSER is None:
        pytest.skip("WebKitWebDriver or MiniBrowser is missing (Debian package webkit2gtk-driver; "
                    "python3 build.py test installs it)")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.webkitgtk.options import Options
    from selenium.webdriver.webkitgtk.service import Service

    options = Options()
    options.binary_location = str(MINIBROWSER)
    options.add_argument("--automation")
    options.add_argument(f"--proxy={foreign_trap.url}")
    options.add_argument("--ignore-host=127.0.0.1")
    log_path = tmp_path_factory.mktemp("webkit") / "webkit.log"
    with open(log_path, "w") as log:
        service = Service(executable_path=WEBKIT_DRIVER, log_output=log,
                          env={**os.environ, "DISPLAY": xvfb_display})
        driver = webdriver.WebKitGTK(options=options, service=service)
        try:
            driver.set_window_size(VIEWPORT["width"], VIEWPORT["height"])
            yield driver
        finally:
            driver.quit()
