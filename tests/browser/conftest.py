"""Fixtures of the end-to-end tests of the page, on pytest-playwright.

The plugin owns the browsers: `playwright`, `browser`, `context`, `new_context`, `page`, and the options
`--browser`, `--headed`, `--tracing`, `--screenshot`, `--video`, `--output`, `--base-url`. Here its
`browser_type_launch_args` and `browser_context_args` are overridden for Debian's chromium and firefox-esr
(engines.py), and `base_url` serves the suite's own build unless `--base-url` names a served copy.

What is ours: the build of the site (once per session, into a temporary directory, so a dist/ served
elsewhere is not touched), serving it (plain, cross-origin isolated, and from a plain static host), the log of
each page (console messages, page errors, requests; `page_log`), the proxy trap that catches Firefox's and
WebKit's requests to other origins, WebKit through Selenium (`webkit`), and `tab`, the engine-neutral page of
the tests that also run in WebKit. `--browser webkit` runs only those; the others say why they skip.
"""

from __future__ import annotations

import functools
import http.server
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import build  # noqa: E402

from .engines import (  # noqa: E402,F401 (VIEWPORT: older test files import it from here)
    VIEWPORT,
    ForeignRequestTrap,
    PlaywrightTab,
    SeleniumTab,
    launch_args,
    missing,
    webkit_driver,
)
from .helpers import PageLog  # noqa: E402

# Why the Playwright-only tests skip in WebKit.
NO_PLAYWRIGHT_WEBKIT = ("Playwright's WebKit build cannot be installed here; WebKit (Selenium + WebKitGTK) runs the "
                        "tests written against the engine-neutral `tab` fixture")


# A browser test still running after this long is stuck (the longest take about 5 minutes on a loaded 2-core
# machine): it fails, so that one stuck page cannot hold the rest of the suite until CI's limit. pytest-timeout's
# default method, a signal, also interrupts a driver call that waits for an answer forever.
BROWSER_TEST_LIMIT_S = 900


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(BROWSER_TEST_LIMIT_S))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Skip a test for an engine before its fixtures start anything, saying why.

    The plugin's markers `skip_browser(name)` and `only_browser(name)` take a `reason=` here (the plugin's own
    check, which runs after this one, would skip with a generic message)."""
    callspec = getattr(item, "callspec", None)
    name = callspec.params.get("browser_name") if callspec else None
    if name is None:
        return
    for mark in item.iter_markers("only_browser"):
        if name != mark.args[0]:
            pytest.skip(f"{mark.args[0]} only: {mark.kwargs.get('reason', 'engine-specific')}")
    for mark in item.iter_markers("skip_browser"):
        if name == mark.args[0]:
            pytest.skip(f"not in {name}: {mark.kwargs.get('reason', 'engine-specific')}")
    if name == "webkit" and "tab" not in item.fixturenames:
        pytest.skip(NO_PLAYWRIGHT_WEBKIT)


# ---- the site and its servers -------------------------------------------------------------------------------

def _given_base_url(config) -> str | None:
    url = config.getoption("base_url", default=None)
    return url if not url or url.endswith("/") else url + "/"


@pytest.fixture(scope="session")
def site(pytestconfig, tmp_path_factory) -> Path:
    """The built site (what dist/ would hold), in a temporary directory."""
    if _given_base_url(pytestconfig):
        pytest.skip("needs the suite's own build and servers; this run tests the copy at --base-url")
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
def base_url(pytestconfig, request) -> str:
    """The page's URL, ending in '/': `--base-url` if given (a copy served elsewhere), else the built site served
    by build.serve() on a free port (not cross-origin isolated). The plugin's contexts get it as their base URL."""
    given = _given_base_url(pytestconfig)
    if given:
        yield given
    else:
        yield from _serve(request.getfixturevalue("site"), isolated=False)


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


# ---- browsers: pytest-playwright's, launched as engines.py says ---------------------------------------------

@pytest.fixture(scope="session")
def foreign_trap():
    """The session's ForeignRequestTrap: Firefox and WebKit send every request but those to 127.0.0.1 to it."""
    trap = ForeignRequestTrap()
    yield trap
    trap.close()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args, browser_name, request) -> dict:
    """The plugin's launch options (--headed, --slowmo) plus Debian's executable and flags for the engine."""
    if browser_name == "webkit":
        pytest.skip(NO_PLAYWRIGHT_WEBKIT)
    problem = missing(browser_name)
    if problem:
        pytest.skip(problem)
    proxy = request.getfixturevalue("foreign_trap").url if browser_name == "firefox" else None
    return {**browser_type_launch_args, **launch_args(browser_name, proxy=proxy)}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args) -> dict:
    """The plugin's context options (base URL, video) at the viewport every test was written for."""
    return {**browser_context_args, "viewport": VIEWPORT}


@pytest.fixture
def page_log(context, page, browser_name, request) -> PageLog:
    """The log of the plugin's `page` (console, errors, requests, and in Firefox the trap), from before its
    first navigation."""
    trap = request.getfixturevalue("foreign_trap") if browser_name == "firefox" else None
    return PageLog.attach(context, page, trap)


@pytest.fixture
def open_page(new_context, browser_name, request):
    """open_page(url) -> (page, log): a page in a fresh context of the plugin's (traced, screenshotted on
    failure and closed after the test like `context`), navigated to url. For tests that need several pages."""
    trap = request.getfixturevalue("foreign_trap") if browser_name == "firefox" else None

    def opener(url: str):
        page, log = PageLog.new_page(new_context(), trap)
        page.goto(url)
        return page, log

    return opener


# ---- WebKit and the engine-neutral tab -----------------------------------------------------------------------

@pytest.fixture
def webkit(foreign_trap, tmp_path_factory):
    """A Selenium window in WebKitGTK's MiniBrowser (engines.webkit_driver) for one test, every request but those
    to 127.0.0.1 going to the trap; its output and the driver's go to webkit.log under pytest's temporary directory.

    A window per test (about 1 s to start): WebKit's `worker.terminate()` does not stop a worker that is busy in
    WebAssembly (an injected hang is a Python `while True`), and such a thread outlives the page that started it,
    so one shared window let a fault test starve the tests after it (a clean-clone run hung there until CI's
    limit). Closing the window ends its web process and every thread in it."""
    problem = missing("webkit")
    if problem:
        pytest.skip(problem)
    with open(tmp_path_factory.getbasetemp() / "webkit.log", "a") as log, \
            webkit_driver(proxy=foreign_trap.url, log_output=log) as driver:
        yield driver


class FailureArtifacts:
    """Screenshots and traces of pages the plugin does not own (a module's shared page, WebKit's Selenium
    window), kept as the plugin keeps its own: in the test's folder under --output, per --tracing and
    --screenshot. A Selenium window has no trace."""

    def __init__(self, request, output_path: str):
        self.request = request
        self.folder = Path(output_path)
        self.tracing = request.config.getoption("--tracing")
        self.screenshots = request.config.getoption("--screenshot")
        self.contexts: list = []
        self.tabs: list = []

    def watch_context(self, context) -> None:
        """Record `context` (created outside the plugin) for this test: trace it from now on, screenshot its pages."""
        if self.tracing != "off":
            context.tracing.start(title=self.request.node.nodeid, screenshots=True, snapshots=True, sources=True)
        self.contexts.append(context)

    def watch_tab(self, tab) -> None:
        """Screenshot a Tab at the end of the test (on failure, or always with --screenshot on), then close it."""
        self.tabs.append(tab)

    def finish(self, failed: bool) -> None:
        keep_trace = self.tracing == "on" or (failed and self.tracing == "retain-on-failure")
        keep_shots = self.screenshots == "on" or (failed and self.screenshots == "only-on-failure")
        status = "failed" if failed else "finished"
        # caret="initial": hiding the caret means injecting a style, which the page's policy refuses and reports
        # (Firefox), a problem the shared page's next test would see.
        shots = [functools.partial(page.screenshot, caret="initial") for context in self.contexts for page in context.pages]
        shots += [lambda path, tab=tab: tab.screenshot(Path(path)) for tab in self.tabs]
        if keep_trace or keep_shots:
            self.folder.mkdir(parents=True, exist_ok=True)
        for index, context in enumerate(self.contexts):
            if self.tracing != "off":
                name = "trace.zip" if len(self.contexts) == 1 else f"trace-{index + 1}.zip"
                context.tracing.stop(path=self.folder / name if keep_trace else None)
        if keep_shots:
            for index, shoot in enumerate(shots):
                try:
                    shoot(path=str(self.folder / f"test-{status}-shared-{index + 1}.png"))
                except Exception as error:  # a page that hangs or is gone must not hide the test's own failure
                    print(f"no screenshot of a page of {self.request.node.nodeid}: {error}")
        for tab in self.tabs:
            tab.close()


@pytest.fixture
def failure_artifacts(request, output_path):
    """A FailureArtifacts for this test; it keeps what it watched once the test has run."""
    artifacts = FailureArtifacts(request, output_path)
    yield artifacts
    # The plugin's pytest_runtest_makereport keeps each phase's report on the item.
    call, setup = getattr(request.node, "rep_call", None), getattr(request.node, "rep_setup", None)
    artifacts.finish(failed=call.failed if call else not (setup and setup.skipped))


@pytest.fixture
def tab(browser_name, request):
    """The page under test as an engine-neutral Tab (engines.py), with its PageLog as `tab.log`: the plugin's
    `page` in Chromium and Firefox, a Selenium window of its own in WebKit (whose log holds only what the
    trap saw: Selenium has no console or request events for it)."""
    if browser_name == "webkit":
        tab = SeleniumTab(request.getfixturevalue("webkit"))
        # Asked for after the window, so it screenshots and closes the tab before the window goes.
        failure_artifacts = request.getfixturevalue("failure_artifacts")
        trap = request.getfixturevalue("foreign_trap")
        tab.log = PageLog(trap=trap, trap_start=len(trap.seen))
        failure_artifacts.watch_tab(tab)
        yield tab
    else:
        tab = PlaywrightTab(request.getfixturevalue("page"))
        tab.log = request.getfixturevalue("page_log")
        yield tab
