"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright (no browser download).

Uploads two images through the page's form and waits, without reloading, for both jobs to reach ``done``
and their thumbnails to load. The screenshot is saved as test-results/dashboard.png.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from receiver import Receiver, receiving

from helpers import wait_for
from imgqueue.webhooks import new_secret
from imgqueue_dev.stack import LocalStack
from imgqueue_dev.waiting import wait_until
from imgqueue_tester.samples import generate

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]
RESULTS = Path(__file__).resolve().parents[1] / "test-results"


def until(page, script: str, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    """Evaluate ``script`` until it is truthy. (Playwright's wait_for_function compiles its predicate with
    eval in the page, which the dashboard's Content-Security-Policy rightly forbids.)"""
    wait_until(lambda: page.evaluate(script), timeout, script, interval=0.1)


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
        page = context.pages[0] if context.pages else context.new_page()
        violations: list[str] = []  # the page's own code must live within its Content-Security-Policy
        page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
        try:
            yield page
            assert violations == [], violations
        finally:
            context.close()


@pytest.mark.timeout(180)
def test_dashboard_upload_goes_live_to_done(stack: LocalStack, browser_page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(stack.url + "/", wait_until="domcontentloaded")
    until(page, "document.getElementById('conn').textContent === 'live'", 60)  # a loaded machine starts Chromium slowly
    until(page, "document.getElementById('c-workers').textContent === '2'", 30)
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    images = generate(tmp_path / "upload", 2, seed=21, max_side=900)
    page.set_input_files("#files", [str(p) for p in images])
    page.fill("#width", "160")
    page.fill("#height", "120")
    page.select_option("#fit", "cover")
    page.click("#upload-button")
    until(page, "document.getElementById('upload-msg').textContent.startsWith('Queued 2')", 20)
    until(page, """() => {
            const imgs = [...document.querySelectorAll('.job[data-status="done"] .thumb img')];
            return imgs.length === 2 && imgs.every((img) => img.complete && img.naturalWidth === 160);
        }""", 60)
    assert page.evaluate("window.__sameDocument") is True, "the page must update without a reload"
    names = page.locator(".job .name").all_inner_texts()
    assert sorted(names) == sorted(p.name for p in images)
    until(page, "document.getElementById('c-done').textContent === '2'", 20)
    stack.client.submit(images[0], fit="inside", format="webp", filename="a-set.jpg",
                        variants=[{"name": f"w{w}", "width": w} for w in (64, 128, 256)])
    until(page, """() => {
            const imgs = [...document.querySelectorAll('.job[data-status="done"] .outputs img')];
            return imgs.length === 3 && imgs.every((img) => img.complete && img.naturalWidth > 0);
        }""", 60)  # a set: a row of thumbnails, one per output
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


@pytest.mark.timeout(180)
def test_dashboard_asks_for_a_token_then_shows_the_callers_jobs_live(local: LocalStack, browser_page,  # type: ignore[no-untyped-def]
                                                                       tmp_path: Path) -> None:
    acme, globex = "acme-browser-token-0123456789", "globex-browser-token-012345"
    local.settings = local.settings.with_overrides(auth_mode="token",
                                                   api_tokens=f"acme:client:{acme},globex:client:{globex}")
    local.start_api()
    local.start_workers(1)
    theirs = local.client_with(globex).submit(generate(tmp_path / "g", 1, seed=3, max_side=400)[0], 100, 100)
    page = browser_page
    page.goto(local.url + "/", wait_until="domcontentloaded")
    page.wait_for_selector("#login:not([hidden])", timeout=20_000)
    assert page.is_hidden("#main")
    page.fill("#token", "not-a-token")
    page.click("#login-form button")
    until(page, "document.getElementById('login-msg').textContent.includes('refused')", 20)
    page.fill("#token", acme)
    page.click("#login-form button")
    until(page, "document.getElementById('conn').textContent === 'live'", 60)  # a loaded machine starts Chromium slowly
    assert page.inner_text("#who") == "acme · client"
    assert page.is_hidden("#workers-panel") and page.is_hidden(".cards"), "queue-wide panels are for admins"
    images = generate(tmp_path / "upload", 2, seed=22, max_side=700)
    page.set_input_files("#files", [str(p) for p in images])
    page.click("#upload-button")
    until(page, """() => {
            const imgs = [...document.querySelectorAll('.job[data-status="done"] .thumb img')];
            return imgs.length === 2 && imgs.every((img) => img.complete && img.naturalWidth === 300);
        }""", 60)
    shown = page.evaluate("[...document.querySelectorAll('.job')].map((card) => card.dataset.id)")
    assert theirs["jobId"] not in shown, "another tenant's job never reaches the page"
    assert page.evaluate("sessionStorage.getItem('imgqueue-token')") == acme
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "dashboard-token.png"), full_page=True)


def test_dashboard_shows_a_jobs_webhook_attempts_and_redelivers_a_dead_one(local: LocalStack,  # type: ignore[no-untyped-def]
                                                                           browser_page) -> None:
    local.settings = local.settings.with_overrides(webhook_secret=new_secret(), webhook_allow_http=True,
                                                   webhook_allow_private=True, webhook_retry_base=0.2,
                                                   webhook_max_age=1.0, webhook_dispatchers=1)
    local.start_api()
    local.start_workers(1)
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(local.url + "/", wait_until="domcontentloaded")
    until(page, "document.getElementById('conn').textContent === 'live'", 60)  # a loaded machine starts Chromium slowly
    with receiving(Receiver(answers=[500] * 50)) as receiver:
        local.client.submit(generate(Path(local.settings.upload_dir).parent / "hook", 1, seed=5)[0], 80, 60,
                            callback_url=receiver.url)
        until(page, "[...document.querySelectorAll('.webhook summary')].some((s) => s.textContent === 'webhook dead')",
              30)
        page.click(".webhook summary")
        until(page, "document.querySelectorAll('.webhook .attempts li').length >= 1", 10)
        assert "500" in page.locator(".webhook .attempts li").first.inner_text()
        before = len(receiver.got)
        page.click(".webhook .redeliver")  # the card then follows the message: pending, then dead again
        wait_for(lambda: len(receiver.got) > before, 20, "the redelivery to reach the receiver")
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "dashboard-webhook.png"), full_page=True)
    assert errors == [], errors


def _operations() -> int:
    from imgqueue_api.docs import document

    doc = document()
    return sum(len(item) for part in ("paths", "webhooks") for item in doc[part].values())  # 3.1's webhooks too


@pytest.mark.timeout(120)
def test_the_api_reference_renders_every_operation_and_tries_one_in_open_mode(api_server: LocalStack,  # type: ignore[no-untyped-def]
                                                                              browser_page) -> None:
    page = browser_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(api_server.url + "/docs", wait_until="domcontentloaded")
    until(page, f"document.querySelectorAll('.opblock').length === {_operations()}", 30)
    page.click("#operations-jobs-upload .opblock-summary")  # samples and examples under the operation
    until(page, "document.querySelector('#operations-jobs-upload').innerText.includes('client.submit(')", 10)
    assert "curl" in page.inner_text("#operations-jobs-upload")
    page.click("#operations-health-me .opblock-summary")
    page.click("#operations-health-me .try-out__btn")
    page.click("#operations-health-me .execute")
    until(page, "document.querySelector('#operations-health-me .live-responses-table') !== null && "
                "document.querySelector('#operations-health-me').innerText.includes('authMode')", 20)
    assert '"authMode": "open"' in page.inner_text("#operations-health-me .live-responses-table")
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "docs-try-it.png"), full_page=False)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(RESULTS / "docs.png"), full_page=False)
    assert errors == [], errors


@pytest.mark.timeout(120)
def test_the_api_reference_takes_a_token_in_its_authorize_box_and_keeps_it_in_the_page(  # type: ignore[no-untyped-def]
        local: LocalStack, browser_page) -> None:
    token = "acme-docs-token-0123456789abc"
    local.settings = local.settings.with_overrides(auth_mode="token", api_tokens=f"acme:client:{token}")
    local.start_api()
    page = browser_page
    page.goto(local.url + "/docs", wait_until="domcontentloaded")
    until(page, "document.querySelector('.btn.authorize') !== null", 30)
    page.click(".btn.authorize")
    page.fill(".auth-container input[type=text], .auth-container input[type=password]", token)
    page.click(".auth-btn-wrapper .authorize")
    page.click(".btn-done")
    page.click("#operations-health-me .opblock-summary")
    page.click("#operations-health-me .try-out__btn")
    page.click("#operations-health-me .execute")
    until(page, "document.querySelector('#operations-health-me .live-responses-table') !== null && "
                "document.querySelector('#operations-health-me').innerText.includes('acme')", 20)
    stored = page.evaluate("JSON.stringify([Object.values(localStorage), Object.values(sessionStorage)])")
    assert token not in stored and token not in page.evaluate("document.cookie"), "the token stays in memory"
    page.screenshot(path=str(RESULTS / "docs-token.png"), full_page=False)


def _sample(t: float, done: int, failed: int, normal: int, fast: int, slow: int) -> dict[str, object]:
    """A history sample as the workers write it: cumulative counts, depth, the upload-to-done histogram."""
    latency = [[1.0, fast], [5.0, fast], [30.0, fast + slow], [float("inf"), fast + slow]]
    return {"t": t, "done": done, "failed": failed, "cancelled": 0, "reasons": {"corrupt_image": failed},
            "depth": {"high": 0, "normal": normal, "low": 0}, "latency": latency}


@pytest.mark.timeout(180)
def test_the_charts_show_the_history_and_an_operator_retries_a_failed_job_and_cancels_one(  # type: ignore[no-untyped-def]
        local: LocalStack, browser_page, tmp_path: Path) -> None:
    from helpers import claim, finish
    from imgqueue.job import JobStatus
    from imgqueue.store import Store

    local.start_api()
    store = Store.from_settings(local.settings)
    now = time.time()
    for sample in (_sample(now - 150, 0, 0, 5, 0, 0), _sample(now - 90, 60, 6, 12, 50, 10),
                   _sample(now - 30, 180, 6, 3, 170, 10)):
        store.history.record(sample, 100)
    image = generate(tmp_path / "in", 1, seed=9, max_side=300)[0]
    failed_id = local.client.submit(image, 80, 60)["jobId"]
    held = claim(store, "operator-test")
    assert held is not None and held.id == failed_id
    finish(store, "operator-test", failed_id, JobStatus.FAILED, {"error_code": "corrupt_image",
                                                                "error": "the image could not be decoded"})
    later_id = local.client.submit(image, 40, 30, delay=300)["jobId"]

    page = browser_page
    page.goto(local.url + "/", wait_until="domcontentloaded")
    until(page, "window.imgqueueCharts?.ended?.data[0].length === 2", 60)  # a loaded machine is slow to draw
    ended = page.evaluate("window.imgqueueCharts.ended.data")
    assert ended[1] == [60, 120] and ended[2] == [6, 0], ended  # done and failed per minute, between samples
    latency = page.evaluate("window.imgqueueCharts.latency.data")
    # p50 and p95 from the histogram's buckets between samples, as Prometheus' histogram_quantile does
    assert latency[1] == pytest.approx([0.6, 0.5]) and latency[2] == pytest.approx([22.5, 0.95]), latency
    assert page.evaluate("window.imgqueueCharts.depth.data[2]") == [12, 3]
    assert page.evaluate("window.imgqueueCharts.reasons.series.map((s) => s.label)")[1:] == ["corrupt_image"]

    until(page, f"document.querySelector('#failed tr[data-id=\"{failed_id}\"] .retry') !== null", 20)
    local.start_workers(1)
    page.click(f"#failed tr[data-id='{failed_id}'] .retry")
    until(page, f"document.querySelector('.job[data-id=\"{failed_id}\"]')?.dataset.status === 'done'", 60)
    until(page, f"document.querySelector('#failed tr[data-id=\"{failed_id}\"]') === null", 10)
    page.click(f".job[data-id='{later_id}'] .cancel")
    until(page, f"document.querySelector('.job[data-id=\"{later_id}\"]')?.dataset.status === 'cancelled'", 20)
    page.fill("#search", failed_id)
    page.click("#search-form button")
    page.fill("#search", "0" * 32)
    page.click("#search-form button")
    until(page, "document.getElementById('search-msg').textContent.startsWith('No job')", 10)
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / "dashboard-operators.png"), full_page=True)
    store.close()
