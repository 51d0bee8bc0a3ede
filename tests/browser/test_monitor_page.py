"""The run monitor page in a real browser, through devhost: the key prompt, a batch followed to
100%, a failed item opened, a second run canceled, a question answered, each page saved as a
screenshot under .artifacts/screenshots/. Also measures the page's load time and its request
rate while a run is active (printed, for the figures)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devhost.testing import Devhost, start_devhost
from tests.e2e.conftest import PROJECT_ROOT, app_env

pytestmark = pytest.mark.slow

WAIT_S = 60


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devhost]:
    env = app_env(
        tmp_path_factory.mktemp("ui"),
        # The page signs in with the function key, as on one machine without App Service
        # Authentication.
        WEBSITE_AUTH_ENABLED="false",
        MAX_ATTEMPTS="1",
        SIM_SEED="11",
        SIM_LATENCY_MS="20",
    )
    with start_devhost(
        PROJECT_ROOT, env=env, simulator=True, simulator_setting="MODEL_ENDPOINT"
    ) as h:
        yield h


def _sim(host: Devhost, config: dict[str, Any]) -> None:
    response = httpx.patch(f"{host.simulator_url}/sim/config", json=config, timeout=10)
    assert response.status_code == 200, response.text


def _wait(driver: Any, check: Any, timeout: float = WAIT_S) -> Any:
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # A refresh replaces the view's elements: one found a moment ago may be gone.
    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(driver, timeout, 0.1, ignored_exceptions=ignored).until(check)


def _css(driver: Any, selector: str) -> Any:
    from selenium.webdriver.common.by import By

    return _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, selector))


def _ready(driver: Any, view: str) -> None:
    _wait(driver, lambda d: d.execute_script("return document.body.dataset.ready") == view)


def _shot(
    driver: Any, folder: Path, name: str, at_phone_width: Callable[[Any], None] | None = None
) -> None:
    driver.save_screenshot(str(folder / f"{name}.png"))
    driver.set_window_size(390, 844)  # a phone's width: the page must still render
    driver.save_screenshot(str(folder / f"{name}-phone.png"))
    if at_phone_width is not None:
        at_phone_width(driver)
    driver.set_window_size(1280, 900)


def _nothing_scrolls_sideways(driver: Any) -> None:
    """At phone width neither the page nor any of its tables scrolls sideways."""
    widths = driver.execute_script(
        "const d = document.documentElement;"
        "return {page: [d.scrollWidth, d.clientWidth],"
        " wraps: [...document.querySelectorAll('.table-wrap')]"
        "   .map((w) => [w.scrollWidth, w.clientWidth])};"
    )
    assert widths["wraps"], "no table on the page"
    for scroll, client in [widths["page"], *widths["wraps"]]:
        assert scroll <= client, widths


def _runs_fit_a_phone(driver: Any) -> None:
    """At phone width the runs list reads without scrolling sideways: its rows are stacked
    cards, every cell labelled by its column, and the table keeps its semantics."""
    page = driver.execute_script(
        "const d = document.documentElement;"
        "const w = document.querySelector('#runs-body .table-wrap');"
        "return {scroll: d.scrollWidth, client: d.clientWidth, body: document.body.scrollWidth,"
        "        wrapScroll: w.scrollWidth, wrapClient: w.clientWidth};"
    )
    assert page["client"] <= 390 and page["scroll"] <= page["client"], page
    assert page["body"] <= page["client"], page
    # Nor does the table scroll sideways inside its own box (the wrapper would let it).
    assert page["wrapScroll"] <= page["wrapClient"], page
    cells = driver.execute_script(
        "return [...document.querySelectorAll('#runs-table tbody tr:first-child td')].map((td) =>"
        " ({label: td.dataset.label, drawn: getComputedStyle(td, '::before').content,"
        "   shown: td.getBoundingClientRect().width > 0, role: td.getAttribute('role')}));"
    )
    labels = driver.execute_script(
        "return [...document.querySelectorAll('#runs-table thead th')].map((th) => th.textContent);"
    )
    assert [cell["label"] for cell in cells] == labels
    assert all(cell["shown"] and cell["role"] == "cell" for cell in cells), cells
    assert all(cell["label"] in cell["drawn"] for cell in cells), cells
    # The header row stays in the document for screen readers, visually hidden.
    header = driver.execute_script(
        "return document.querySelector('#runs-table thead tr').getBoundingClientRect().width;"
    )
    assert header <= 1
    assert driver.find_element("css selector", "#runs-table").get_attribute("role") == "table"


def _submit(driver: Any, agent: str, queries: list[str]) -> str:
    from selenium.webdriver.support.ui import Select

    driver.get(driver.current_url.split("#")[0] + "#/submit")
    _ready(driver, "submit")
    Select(_css(driver, "#submit-agent")).select_by_value(agent)
    _css(driver, "#submit-queries").send_keys("\n".join(queries))
    _css(driver, "#submit-run").click()
    _wait(driver, lambda d: "#/runs/" in d.current_url)
    _ready(driver, "runs")
    return driver.current_url.rsplit("/", 1)[-1]


def _percent(driver: Any) -> int:
    return int(_css(driver, "#run-progress").get_attribute("data-percent"))


def test_the_monitor_page_end_to_end(browser: Any, host: Devhost, screenshots: Path) -> None:
    driver = browser
    page = f"{host.base_url}/api/ui/"

    # Load time: navigation start to the first view rendered, over a cold cache.
    started = time.perf_counter()
    driver.get(page)
    _css(driver, "#key-input").send_keys(host.function_key)
    _shot(driver, screenshots, "01-key")
    _css(driver, "#key-save").click()
    _ready(driver, "runs")
    assert "code=" not in driver.current_url and host.function_key not in driver.current_url
    driver.refresh()  # the key is kept for the tab: no prompt now
    _ready(driver, "runs")
    timing = driver.execute_script(
        "const n = performance.getEntriesByType('navigation')[0];"
        "return {dom: n.domContentLoadedEventEnd, first: window.agentopsStats.firstViewMs};"
    )
    print(
        f"\nfigure: page load {timing['dom']:.0f} ms to DOMContentLoaded, "
        f"{timing['first']:.0f} ms to the first view rendered "
        f"(first visit with key prompt {1000 * (time.perf_counter() - started):.0f} ms)"
    )
    assert not driver.find_element("css selector", "#key-dialog").is_displayed()

    # 1. A batch with some failures, followed to 100%.
    _sim(host, {"faults": {"rates": {"500": 0.5}}})
    run_id = _submit(driver, "calculator", [f"what is {n} + {n}?" for n in range(24)])
    requests_before = driver.execute_script("return window.agentopsStats.requests")
    watch_started = time.perf_counter()
    _wait(driver, lambda d: _percent(d) == 100)
    watched_s = time.perf_counter() - watch_started
    requests = driver.execute_script("return window.agentopsStats.requests") - requests_before
    _sim(host, {"faults": {"rates": {}}})
    _wait(driver, lambda d: "completed" in d.find_element("css selector", "#run-summary").text)
    # Over the whole run: model-time percentiles, and the deployment's tokens and cost.
    assert "p95" in _css(driver, "#run-latency").text
    assert "gpt" in _css(driver, "#cost-by-model tbody tr").text
    _shot(driver, screenshots, "02-run")

    # 2. A failed item: its reason and attempts.
    failed = _css(driver, "#failed-items tbody tr")
    failed.find_element("css selector", "summary").click()
    detail = failed.find_element("css selector", "pre").text
    assert json.loads(detail)["status"] == "failed"
    assert "attempts" in detail and failed.find_elements("css selector", "td")[2].text
    _shot(driver, screenshots, "03-failed-item", _nothing_scrolls_sideways)

    # 3. The runs list shows the run, finished, with its counts.
    driver.get(page + "#/runs")
    _ready(driver, "runs")
    row = _css(driver, f'tr[data-run="{run_id}"]')
    assert "completed" in row.text and "/ 24" in row.text
    _shot(driver, screenshots, "04-runs", _runs_fit_a_phone)

    # 4. A second, slow run, canceled with confirmation; the request rate while it is active.
    _sim(host, {"latency": {"distribution": "fixed", "ms": 8000}})
    second = _submit(driver, "calculator", [f"what is {n} * 3?" for n in range(200)])
    active_before = driver.execute_script("return window.agentopsStats.requests")
    time.sleep(10)
    active_requests = driver.execute_script("return window.agentopsStats.requests") - active_before
    print(
        f"figure: {6 * active_requests} requests per minute from the run view while a run is "
        f"active ({active_requests} in 10 s); first run watched {watched_s:.1f} s "
        f"with {requests} requests"
    )
    assert active_requests <= 6  # one request per refresh, every 2 s at most
    _shot(driver, screenshots, "05-run-active")
    _css(driver, "#cancel-run").click()
    _shot(driver, screenshots, "05-cancel-confirm")
    _css(driver, "#confirm-yes").click()
    _wait(driver, lambda d: "canceled" in d.find_element("css selector", "#run-summary").text)
    assert not driver.find_element("css selector", "#cancel-run").is_displayed()
    _sim(host, {"latency": {"distribution": "fixed", "ms": 20}})
    with httpx.Client(base_url=host.base_url, headers=host.function_headers) as api:
        assert api.get(f"/api/runs/{second}").json()["status"] == "canceled"

    # 5. A question, its answer arriving in pieces (streamed: 30 tokens 40 ms apart), its thread
    # kept for the next one.
    _sim(
        host,
        {"latency": {"distribution": "fixed", "ms": 20, "per_token_ms": 40}, "answer_tokens": 30},
    )
    driver.get(page + "#/ask")
    _ready(driver, "ask")
    from selenium.webdriver.support.ui import Select

    Select(_css(driver, "#ask-agent")).select_by_value("summarizer")
    _css(driver, "#ask-query").send_keys("what is 2 + 2?")
    _css(driver, "#ask-send").click()
    lengths: list[int] = []
    deadline = time.monotonic() + WAIT_S
    while "Thread" not in driver.find_element("css selector", "#ask-meta").text:
        assert time.monotonic() < deadline, "the answer never finished"
        lengths.append(
            driver.execute_script(
                "const a = document.querySelector('#ask-thread li.assistant');"
                "return a ? a.textContent.length : 0;"
            )
        )
        time.sleep(0.05)
    answers = driver.find_elements("css selector", "#ask-thread li.assistant")
    assert answers and answers[0].text.strip()
    final = len(answers[0].get_attribute("textContent"))
    # Seen part-way: some text on the page before the whole answer was there.
    assert any(0 < length < final for length in lengths), (lengths[-5:], final)
    _sim(host, {"latency": {"distribution": "fixed", "ms": 20}, "answer_tokens": None})
    _css(driver, "#ask-query").send_keys("and times 3?")
    _css(driver, "#ask-send").click()
    _wait(
        driver,
        lambda d: (
            len(d.find_elements("css selector", "#ask-thread li.assistant")) == 2
            and d.find_elements("css selector", "#ask-thread li.assistant")[1].text.strip()
        ),
    )
    _wait(driver, lambda d: d.find_element("css selector", "#ask-send").is_enabled())
    _shot(driver, screenshots, "06-ask")

    # 6. Operations (the local caller is an admin), with a backup taken to list.
    with httpx.Client(base_url=host.base_url, headers=host.function_headers, timeout=30) as api:
        backup_id = api.post("/api/backups").json()["id"]
        deadline = time.monotonic() + WAIT_S
        while not api.get("/api/backups").json()["backups"]:
            assert time.monotonic() < deadline, "the backup did not complete"
            time.sleep(0.2)
    driver.get(page + "#/ops")
    _ready(driver, "ops")
    assert "Readiness" in _css(driver, "#ops-health").text
    assert "closed" in _css(driver, "#ops-health").text  # the one deployment's breaker
    _wait(driver, lambda d: backup_id in d.find_element("css selector", "#ops-backups").text)
    # No budgets are set here: the section says so, with the limiter note, and no problem.
    _wait(driver, lambda d: "TENANT_BUDGETS" in d.find_element("css selector", "#ops-limits").text)
    assert "per instance" in _css(driver, "#ops-limits").text
    assert not driver.find_elements("css selector", "#ops-limits .problem")
    _shot(driver, screenshots, "07-ops", _nothing_scrolls_sideways)

    # The browser saw no policy violation or script error (refused requests, such as the 401
    # that asked for the key, are network entries).
    log = driver.get_log("browser")
    errors = [e for e in log if e["level"] == "SEVERE" and e["source"] != "network"]
    assert errors == [], errors
