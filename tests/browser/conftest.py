"""Fixtures for the end-to-end tests of the page in headless Chromium (Playwright's sync API, no plugin).

One build of the site per test session (into a temporary directory, so a dist/ being served elsewhere is not
touched), served by build.serve() on a free port in a thread. Chromium is Debian's package, never a
Playwright download. Every page a test opens records its console messages, page errors and requests, so a
test can assert that nothing went wrong and nothing left the origin.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import build  # noqa: E402

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 720}


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The built site (what dist/ would hold), in a temporary directory."""
    target = tmp_path_factory.mktemp("site") / "dist"
    build.build(target)
    return target


def _serve(site: Path, isolated: bool):
    server = build.serve(site, "127.0.0.1", 0, isolated=isolated)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def base_url(site) -> str:
    """http://127.0.0.1:PORT/ serving the built site (not cross-origin isolated)."""
    yield from _serve(site, isolated=False)


@pytest.fixture(scope="session")
def isolated_base_url(site) -> str:
    """The same site served with COOP/COEP/CORP, so the page is cross-origin isolated."""
    yield from _serve(site, isolated=True)


@pytest.fixture(scope="session")
def plain_base_url(site) -> str:
    """The same site from Python's plain static file server: no Content-Security-Policy header, no other
    headers of ours (what a static host that is told nothing sends)."""
    handler = functools.partial(_QuietFiles, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def playwright():
    """The one Playwright of the session: its sync API allows one at a time, and Chromium and Firefox share it."""
    with playwright_api.sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (python3 build.py test installs it)")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class PageLog:
    """What one page did: console messages (page and workers), uncaught errors, requested URLs."""

    console: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    @classmethod
    def new_page(cls, context):
        """A new page of a Playwright ``context`` and the PageLog recording it (and the context's requests)."""
        log = cls()
        context.on("request", lambda request: log.requests.append(request.url))
        page = context.new_page()
        page.on("console", lambda message: log.console.append((message.type, message.text)))
        page.on("pageerror", lambda error: log.errors.append(str(error)))
        page.on("worker", lambda worker: worker.on("console", lambda m: log.console.append((m.type, m.text))))
        return page, log

    def problems(self) -> list[str]:
        """Console errors and warnings, and uncaught page errors."""
        # Chromium (CDP) calls a warning "warning", Firefox (WebDriver BiDi) "warn".
        bad = [f"console {kind}: {text}" for kind, text in self.console if kind in ("error", "warning", "warn")]
        return bad + [f"page error: {text}" for text in self.errors]

    def foreign_requests(self, origin: str) -> list[str]:
        """Requests that went anywhere but `origin` (data: and blob: URLs are local)."""
        out = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob"):
                continue
            if f"{parts.scheme}://{parts.netloc}" != origin:
                out.append(url)
        return out


@pytest.fixture
def open_page(browser):
    """open_page(url) -> (page, log): a fresh 1280x720 context per call, closed after the test."""
    contexts = []

    def opener(url: str):
        context = browser.new_context(viewport=VIEWPORT)
        contexts.append(context)
        page, log = PageLog.new_page(context)
        page.goto(url)
        return page, log

    yield opener
    for context in contexts:
        context.close()
