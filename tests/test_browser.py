"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright (no browser download).

Uploads two images through the page's form and waits, without reloading, for both jobs to reach ``done``
and their thumbnails to load. The screenshot is saved as test-results/dashboard.png.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from imgqueue_dev.stack import LocalStack
from imgqueue_tester.samples import generate

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]
RESULTS = Path(__file__).resolve().parents[1] / "test-results"


@pytest.fixture
def browser_page(tmp_path: Path):  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1400, "height": 1000})
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


@pytest.mark.timeout(180)
def test_dashboard_upload_goes_live_to_done(stack: LocalStack, browser_page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(stack.url + "/", wait_until="domcontentloaded")
    page.wait_for_function("document.getElementById('conn').textContent === 'live'", timeout=20_000)
    page.wait_for_function("document.getElementById('c-workers').textContent === '2'", timeout=30_000)
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    images = generate(tmp_path / "upload", 2, seed=21, max_side=900)
    page.set_input_files("#files", [str(p) for p in images])
    page.fill("#width", "160")
    page.fill("#height", "120")
    page.select_option("#fit", "cover")
    page.click("#upload-button")
    page.wait_for_function("document.getElementById('upload-msg').textContent.startsWith('Queued 2')",
                           timeout=20_000)
    page.wait_for_function(
        """() => {
            const imgs = [...document.querySelectorAll('.job[data-status="done"] .thumb img')];
            return imgs.length === 2 && imgs.every((img) => img.complete && img.naturalWidth === 160);
        }""", timeout=60_000)
    assert page.evaluate("window.__sameDocument") is True, "the page must update without a reload"
    names = page.locator(".job .name").all_inner_texts()
    assert sorted(names) == sorted(p.name for p in images)
    page.wait_for_function("document.getElementById('c-done').textContent === '2'", timeout=20_000)
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "dashboard.png"), full_page=True)
    assert (RESULTS / "dashboard.png").stat().st_size > 10_000
    assert errors == [], errors


def test_dashboard_is_served_without_external_resources(stack: LocalStack) -> None:
    import requests

    html = requests.get(stack.url + "/", timeout=10).text
    assert "<title>imgqueue</title>" in html
    assert "http://" not in html and "https://" not in html, "the dashboard must work offline"
    for asset in ("/static/dashboard.js", "/static/dashboard.css"):
        resp = requests.get(stack.url + asset, timeout=10)
        assert resp.status_code == 200 and "https://" not in resp.text
