"""The report and the comparison page in headless Chromium, driven over the DevTools protocol.

Each test starts Debian's ``chromium`` with a fresh profile and ``--remote-debugging-port=0``,
reads the port from ``DevToolsActivePort``, and talks to the page target over a websocket
(aiohttp). With the Network, Runtime and Log domains enabled it loads the exported file
from ``file://`` and records every request other than the file itself or a ``data:`` URL,
every console error and every uncaught exception. Screenshots go to the test's tmp_path.

Without Chromium these tests fail, saying how to install it; set ``PARLEY_SKIP_BROWSER=1``
to skip them on purpose.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.review.compare import render_comparison
from bot.review.report import render_report

from .conftest import Played

INSTALL = "apt-get update && apt-get install -y chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
)
TIMEOUT = 30.0


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium binary; fails with the install command if missing (unless skipped)."""
    if os.environ.get("PARLEY_SKIP_BROWSER") == "1":
        pytest.skip("PARLEY_SKIP_BROWSER=1: browser tests skipped on purpose")
    found = os.environ.get("PARLEY_CHROMIUM") or shutil.which("chromium")
    if not found and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    if not found:
        pytest.fail(
            f"Chromium is not installed; install it with `{INSTALL}` "
            "(or set PARLEY_SKIP_BROWSER=1 to skip the browser tests)",
            pytrace=False,
        )
    return found


@dataclass
class Loaded:
    """What happened while a page loaded."""

    url: str
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class DevTools:
    """A minimal DevTools protocol client for one page target."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self.changed = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            if "id" in data and data["id"] in self.pending:
                self.pending.pop(data["id"]).set_result(data)
            elif "method" in data:
                self.events.append(data)
                self.changed.set()

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Call a protocol method and return its result (an error raises)."""
        message_id = next(self.ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[message_id] = future
        await self.ws.send_json({"id": message_id, "method": method, "params": params})
        reply = await asyncio.wait_for(future, TIMEOUT)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    async def wait_for(self, method: str) -> dict[str, Any]:
        """Wait for the next event ``method`` (counting from the start of the session)."""
        async with asyncio.timeout(TIMEOUT):
            while True:
                for event in self.events:
                    if event["method"] == method:
                        return event
                self.changed.clear()
                await self.changed.wait()

    async def evaluate(self, expression: str) -> Any:
        """Evaluate JavaScript in the page and return its value."""
        result = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluate failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def load(self, url: str) -> Loaded:
        """Load ``url`` (a file:// URL) and record the requests and errors it causes."""
        for domain in ("Network", "Runtime", "Log", "Page"):
            await self.send(f"{domain}.enable")
        await self.send("Page.navigate", url=url)
        await self.wait_for("Page.loadEventFired")
        await asyncio.sleep(0.5)  # late requests or errors would show up here
        loaded = Loaded(url)
        for event in self.events:
            method, params = event["method"], event["params"]
            if method == "Network.requestWillBeSent":
                request_url = params["request"]["url"]
                if request_url != url and not request_url.startswith("data:"):
                    loaded.requests.append(request_url)
            elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                loaded.errors.append(
                    "console: " + " ".join(str(a.get("value", a)) for a in params["args"])
                )
            elif method == "Runtime.exceptionThrown":
                loaded.errors.append(f"exception: {params['exceptionDetails']}")
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                loaded.errors.append(f"log: {params['entry']['text']}")
        return loaded

    async def screenshot(self, full_page: bool = True) -> bytes:
        """A PNG screenshot (of the whole page by default)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            metrics = await self.send("Page.getLayoutMetrics")
            size = metrics["cssContentSize"]
            params.update(
                captureBeyondViewport=True,
                clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
            )
        shot = await self.send("Page.captureScreenshot", **params)
        return base64.b64decode(shot["data"])


@contextlib.asynccontextmanager
async def browser(binary: str, tmp_path: Path) -> AsyncIterator[DevTools]:
    """Start Chromium with a fresh profile and yield a DevTools client for its page."""
    profile = tmp_path / "profile"
    profile.mkdir()
    log = (tmp_path / "chromium.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        binary,
        *FLAGS,
        f"--user-data-dir={profile}",
        "about:blank",
        stdout=log,
        stderr=log,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        async with asyncio.timeout(TIMEOUT):
            while not (port_file.exists() and port_file.read_text().strip()):
                if process.returncode is not None:
                    raise RuntimeError(f"chromium exited; see {tmp_path / 'chromium.log'}")
                await asyncio.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        async with aiohttp.ClientSession() as session:
            async with asyncio.timeout(TIMEOUT):
                while True:
                    async with session.get(f"http://127.0.0.1:{port}/json/list") as reply:
                        targets = await reply.json()
                    pages = [t for t in targets if t["type"] == "page"]
                    if pages:
                        break
                    await asyncio.sleep(0.05)
            async with session.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                devtools = DevTools(ws)
                try:
                    yield devtools
                finally:
                    devtools.reader.cancel()
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()


CHART_BOXES = """
[...document.querySelectorAll('svg.chart')].map(svg => {
  svg.scrollIntoView({block: 'center'});
  const r = svg.getBoundingClientRect();
  const style = getComputedStyle(svg);
  const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
  return {name: svg.dataset.chart, width: r.width, height: r.height,
          shown: style.display !== 'none' && style.visibility === 'visible'
                 && Number(style.opacity) > 0,
          onTop: svg.contains(hit)};
})
"""


async def load_offline(
    devtools: DevTools, page: Path, width: int = 1280, height: int = 900, phone: bool = False
) -> None:
    """Load a page at a screen size and check it made no request and logged no error."""
    await devtools.send(
        "Emulation.setDeviceMetricsOverride",
        width=width,
        height=height,
        deviceScaleFactor=2 if phone else 1,
        mobile=phone,
    )
    loaded = await devtools.load(page.as_uri())
    assert loaded.requests == [], loaded.requests
    assert loaded.errors == [], loaded.errors


def assert_charts_visible(boxes: list[dict[str, Any]], names: set[str]) -> None:
    assert {b["name"] for b in boxes} == names
    for box in boxes:
        assert box["width"] > 100 and box["height"] > 50, box
        assert box["shown"] and box["onTop"], box


def save(target: Path, data: bytes) -> None:
    """Keep a screenshot or a PDF under the test's tmp_path."""
    target.write_bytes(data)


def save_png(target: Path, png: bytes) -> None:
    """Check that ``png`` is a real screenshot and keep it under the test's tmp_path."""
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    save(target, png)


async def test_report_loads_offline_with_charts_and_every_row(
    chromium: str, tables: dict[str, Played], debrief: str, tmp_path: Path
) -> None:
    """The demo report loads with no request and no error; charts show; a row per event."""
    export = tables["demo"].export
    page = tmp_path / "report.html"
    page.write_text(render_report(export, debrief), encoding="utf-8")
    async with browser(chromium, tmp_path) as devtools:
        await load_offline(devtools, page)
        rows = await devtools.evaluate("document.querySelectorAll('#transcript tbody tr').length")
        assert rows == len(export["events"])
        assert_charts_visible(
            await devtools.evaluate(CHART_BOXES), {"timeline", "participation", "value"}
        )
        await devtools.evaluate("window.scrollTo(0, 0)")
        save_png(tmp_path / "report.png", await devtools.screenshot())


async def test_report_fits_a_phone(
    chromium: str, tables: dict[str, Played], debrief: str, tmp_path: Path
) -> None:
    """On a 390-pixel phone screen the page does not scroll sideways and the timeline shows."""
    page = tmp_path / "report.html"
    page.write_text(render_report(tables["demo"].export, debrief), encoding="utf-8")
    async with browser(chromium, tmp_path) as devtools:
        await load_offline(devtools, page, 390, 844, phone=True)
        overflow = await devtools.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        assert_charts_visible(
            await devtools.evaluate(CHART_BOXES), {"timeline", "participation", "value"}
        )
        await devtools.evaluate("window.scrollTo(0, 0)")
        save_png(tmp_path / "report-phone.png", await devtools.screenshot(full_page=False))


async def test_report_prints(
    chromium: str, tables: dict[str, Played], debrief: str, tmp_path: Path
) -> None:
    """Under print media the section links are hidden, and the page prints to a PDF."""
    page = tmp_path / "report.html"
    page.write_text(render_report(tables["demo"].export, debrief), encoding="utf-8")
    async with browser(chromium, tmp_path) as devtools:
        loaded = await devtools.load(page.as_uri())
        assert loaded.requests == [] and loaded.errors == []
        await devtools.send("Emulation.setEmulatedMedia", media="print")
        assert (
            await devtools.evaluate("getComputedStyle(document.querySelector('nav')).display")
            == "none"
        )
        pdf = base64.b64decode((await devtools.send("Page.printToPDF"))["data"])
        assert pdf.startswith(b"%PDF") and len(pdf) > 20_000
        save(tmp_path / "report.pdf", pdf)


async def test_comparison_loads_offline_with_its_charts(
    chromium: str, tables: dict[str, Played], tmp_path: Path
) -> None:
    """The comparison page loads with no request and no console error, every chart visible."""
    page = tmp_path / "compare.html"
    exports = [tables[n].export for n in ("demo", "package", "hostile")]
    page.write_text(render_comparison(exports), encoding="utf-8")
    async with browser(chromium, tmp_path) as devtools:
        await load_offline(devtools, page)
        columns = await devtools.evaluate(
            "document.querySelectorAll('#side-by-side table.compare thead th').length"
        )
        assert columns == 1 + len(exports)
        assert_charts_visible(
            await devtools.evaluate(CHART_BOXES),
            {"class", "cmp-rounds", "cmp-baskets", "cmp-scores", "cmp-gain", "cmp-refusals"},
        )
        await devtools.evaluate("window.scrollTo(0, 0)")
        save_png(tmp_path / "compare.png", await devtools.screenshot())


async def test_an_anonymized_class_page_shows_no_name_and_titles_every_table(
    chromium: str, tables: dict[str, Played], tmp_path: Path
) -> None:
    """Anonymized, the class page's text names no player or table title, and the class
    plane has a hover title for every table."""
    page = tmp_path / "class.html"
    exports = [tables[n].export for n in ("demo", "package", "hostile")]
    page.write_text(render_comparison(exports, anonymized=True), encoding="utf-8")
    async with browser(chromium, tmp_path) as devtools:
        await load_offline(devtools, page)
        text = await devtools.evaluate("document.body.innerText")
        for name in ("alice", "bob", "carol", "dave", "instructor", "Seminar B", "Bold"):
            assert name not in text, name
        assert "Table A" in text and "Table C" in text
        titles = await devtools.evaluate(
            "[...document.querySelectorAll('svg[data-chart=class] a title')]"
            ".map(t => t.textContent)"
        )
        assert len(titles) == len(exports)
        assert all("Table" in t for t in titles), titles


async def test_the_harness_sees_requests_and_errors(chromium: str, tmp_path: Path) -> None:
    """A page that fetches an image and logs an error is caught: the checks above can fail."""
    page = tmp_path / "leaky.html"
    page.write_text(
        '<!doctype html><img src="http://127.0.0.1:9/pixel.png">'
        '<script>console.error("boom")</script>',
        encoding="utf-8",
    )
    async with browser(chromium, tmp_path) as devtools:
        loaded = await devtools.load(page.as_uri())
    assert "http://127.0.0.1:9/pixel.png" in loaded.requests
    assert any("boom" in error for error in loaded.errors)
