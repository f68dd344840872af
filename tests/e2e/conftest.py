"""Headless Chromium (Debian's, driven by Playwright) on the studio launched in-process."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from support import launched_studio

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-quic", "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """(url, runs_dir) of a studio over an empty runs folder of its own, one a test module."""
    runs_dir = tmp_path_factory.mktemp("e2e") / "runs"
    with launched_studio(runs_dir) as url:
        yield url, runs_dir


@pytest.fixture(scope="module")
def studio_url(studio):
    """The module's studio's address, where `page` opens."""
    return studio[0]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)  # first uses load datasets/transformers on a busy 2-core machine
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, studio_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(studio_url)
    yield page
    context.close()


@pytest.fixture
def screenshot(page):
    ARTIFACTS.mkdir(exist_ok=True)

    def take(name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
