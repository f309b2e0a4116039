"""For the browser tests: Debian's Chromium driven by Playwright (the library only, no browser
download), an asyncio loop in a thread for the servers under test (Playwright's sync API wants a
thread without a running loop), and screenshots of each page.

Chromium is launched once per test session. Without /usr/bin/chromium (``apt-get install
chromium``) or the playwright package the browser tests skip and say so.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Where screenshots go besides the test's own directory (for people to look at), if set.
SCREENSHOT_DIR_VARIABLE = "TONGJIAN_SCREENSHOT_DIR"
PHONE = {"width": 390, "height": 844}
T = TypeVar("T")


class LoopThread:
    """An asyncio loop running in a daemon thread; ``run`` waits for a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="servers under test", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    thread = LoopThread()
    try:
        yield thread
    finally:
        thread.close()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One headless Debian Chromium for the whole session."""
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM}: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests need the playwright package (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Screens:
    """Saves a full-page screenshot under the test's directory, and a copy in
    ``$TONGJIAN_SCREENSHOT_DIR`` when that is set."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.saved: list[Path] = []

    def shot(self, page: Any, name: str) -> Path:
        path = self.directory / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.saved.append(path)
        extra = os.environ.get(SCREENSHOT_DIR_VARIABLE)
        if extra:
            Path(extra).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(extra) / path.name)
        return path


@pytest.fixture
def screens(tmp_path: Path) -> Screens:
    directory = tmp_path / "screens"
    directory.mkdir()
    return Screens(directory)
