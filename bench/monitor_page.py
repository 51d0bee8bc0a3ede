"""The monitor page's load time, and its request rate while a run is active.

    .venv/bin/python bench/monitor_page.py [--repeat 5] [--watch-s 60] [--items 200]
        [--item-latency-ms 5000] [--echo]

Starts the app under devhost with its model simulator (WEBSITE_AUTH_ENABLED=false: the page signs
in with the function key, kept in the tab's session storage) and headless Chromium
(tests/browser/chromium.py, as the browser tests). Then:

- Load: `--repeat` rounds of a cold load (cache disabled through CDP `Network.setCacheDisabled`)
  and a warm one of `/api/ui/#/runs`, each a full navigation from about:blank: navigation start
  to DOMContentLoaded, to the first view rendered (`agentopsStats.firstViewMs`), and the
  requests and bytes transferred until then (navigation and resource timing entries).
- Watch: a run of `--items` items at `--item-latency-ms` each, two at a time, so it stays
  active; for `--watch-s` seconds on the runs list and on the run's own view, the requests the
  page counted (`agentopsStats.requests`) and those the server served it, counted from the audit
  trail (one entry per API call; the bench's own calls carry a session id and are left out).
  Then the same with the page hidden, by the first of several ways to hide a headless tab that
  the page actually sees as hidden (each is probed first, and the probe is printed).

Prints the load medians with their spread, the watch table and a one-line summary.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from devhost.testing import Devhost, start_devhost  # noqa: E402
from tests.browser.chromium import missing, new_driver  # noqa: E402
from tests.e2e.conftest import TERMINAL, app_env  # noqa: E402

AGENT = "calculator"
# The bench's own API calls carry this session id: the audit count leaves them out.
BENCH_SESSION = "monitor-bench"
KEY_STORE = "agentops.functionKey"  # triggers/ui_static/api.js
WAIT_S = 60

_LOAD_FIGURES = """
const n = performance.getEntriesByType('navigation')[0];
const first = window.agentopsStats.firstViewMs;
const loaded = performance.getEntriesByType('resource').filter((e) => e.startTime <= first);
return {dom: n.domContentLoadedEventEnd, first: first, requests: 1 + loaded.length,
        bytes: n.transferSize + loaded.reduce((sum, e) => sum + e.transferSize, 0),
        cached: loaded.filter((e) => e.transferSize === 0 && e.decodedBodySize > 0).length};
"""
# Visibility and lifecycle changes, with the page's request count at each: a capture listener on
# window runs before the refresher's own (on document), which refreshes at once when shown.
_WATCH_VISIBILITY = """
window.benchVisibility = [[document.visibilityState, window.agentopsStats.requests]];
const note = (state) => window.benchVisibility.push([state, window.agentopsStats.requests]);
window.addEventListener('visibilitychange', () => note(document.visibilityState), true);
document.addEventListener('freeze', () => note('freeze'), true);
document.addEventListener('resume', () => note('resume'), true);
"""


@dataclass(frozen=True, slots=True)
class Load:
    dom_ms: float
    first_ms: float
    requests: int
    bytes: int
    cached: int  # answered from the browser's cache, nothing transferred


@dataclass(frozen=True, slots=True)
class Watch:
    view: str
    hidden_by: str | None
    seconds: float
    page_requests: int
    served: dict[str, int]
    run_active: bool

    @property
    def served_total(self) -> int:
        return sum(self.served.values())


class Page:
    """The monitor page in one headless Chromium tab, signed in with the function key."""

    def __init__(self, driver: Any, host: Devhost) -> None:
        self.driver = driver
        self.url = f"{host.base_url}/api/ui/"
        driver.get(self.url)
        driver.execute_script(
            "sessionStorage.setItem(arguments[0], arguments[1]);", KEY_STORE, host.function_key
        )

    def wait(self, check: Callable[[Any], Any], timeout: float = WAIT_S) -> Any:
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout, 0.05).until(check)

    def open(self, fragment: str, view: str) -> None:
        """A full navigation (not a hash change) to the view, until it has rendered."""
        self.driver.get("about:blank")
        self.driver.get(self.url + fragment)
        self.wait(
            lambda d: d.execute_script(
                "return document.body.dataset.ready === arguments[0]"
                " && window.agentopsStats.firstViewMs !== undefined;",
                view,
            )
        )

    def load(self, *, cold: bool) -> Load:
        self.driver.execute_cdp_cmd("Network.enable", {})
        self.driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": cold})
        self.open("#/runs", "runs")
        figures = self.driver.execute_script(_LOAD_FIGURES)
        return Load(
            dom_ms=float(figures["dom"]),
            first_ms=float(figures["first"]),
            requests=int(figures["requests"]),
            bytes=int(figures["bytes"]),
            cached=int(figures["cached"]),
        )

    def requests(self) -> int:
        return int(self.driver.execute_script("return window.agentopsStats.requests"))

    def visibility(self) -> str:
        return str(self.driver.execute_script("return document.visibilityState"))

    def visibility_log(self) -> list[tuple[str, int]]:
        return [
            (state, int(n))
            for state, n in self.driver.execute_script("return window.benchVisibility || []")
        ]


class Hider:
    """One way to hide the tab from the page; `hide` and `show` may raise when Chromium refuses."""

    def __init__(self, name: str, hide: Callable[[Any], None], show: Callable[[Any], None]):
        self.name = name
        self.hide = hide
        self.show = show


def _background_tab() -> Hider:
    front: dict[str, str] = {}

    def hide(driver: Any) -> None:
        front["page"] = driver.current_window_handle
        driver.switch_to.new_window("tab")

    def show(driver: Any) -> None:
        driver.close()
        driver.switch_to.window(front["page"])

    return Hider("another tab in front", hide, show)


def _then(first: Callable[[Any], None], second: Callable[[Any], None]) -> Callable[[Any], None]:
    def both(driver: Any) -> None:
        first(driver)
        second(driver)

    return both


def _hiders() -> list[Hider]:
    """Ways to hide a headless tab, the least disruptive first (freezing comes last)."""

    def cdp(command: str, params: dict[str, Any]) -> Callable[[Any], None]:
        return lambda driver: driver.execute_cdp_cmd(command, params)

    def restore(driver: Any) -> None:
        driver.set_window_rect(0, 0, 1280, 900)

    return [
        _background_tab(),
        Hider("window minimized", lambda d: d.minimize_window(), restore),
        Hider(
            "Emulation.setFocusEmulationEnabled",
            cdp("Emulation.setFocusEmulationEnabled", {"enabled": True}),
            cdp("Emulation.setFocusEmulationEnabled", {"enabled": False}),
        ),
        Hider(
            "Page.setWebLifecycleState frozen",
            cdp("Page.setWebLifecycleState", {"state": "frozen"}),
            _then(
                cdp("Page.setWebLifecycleState", {"state": "active"}), cdp("Page.bringToFront", {})
            ),
        ),
    ]


class Audit:
    """The server's own count: the audit trail's entries for the page's calls (SQLite store)."""

    def __init__(self, db: Path) -> None:
        self.db = db

    def served(self, start: datetime, end: datetime) -> dict[str, int]:
        time.sleep(1.5)  # the writer appends in the background
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as connection:
            rows = connection.execute("SELECT doc FROM audit").fetchall()
        counts: dict[str, int] = {}
        for (text,) in rows:
            entry = json.loads(text)
            at = datetime.fromisoformat(entry["at"])
            if not start <= at <= end or entry["details"].get("session_id") == BENCH_SESSION:
                continue
            counts[entry["action"]] = counts.get(entry["action"], 0) + 1
        return counts


def _api(host: Devhost) -> httpx.Client:
    headers = {**host.function_headers, "x-session-id": BENCH_SESSION}
    return httpx.Client(base_url=host.base_url, headers=headers, timeout=30)


def _sim(host: Devhost, latency_ms: int) -> None:
    config = {"latency": {"distribution": "fixed", "ms": latency_ms}}
    httpx.patch(f"{host.simulator_url}/sim/config", json=config, timeout=10).raise_for_status()


def _submit(api: httpx.Client, queries: list[str]) -> str:
    response = api.post(f"/api/agents/{AGENT}/runs", json={"queries": queries})
    if response.status_code != 202:
        raise RuntimeError(f"submit answered {response.status_code}: {response.text}")
    return str(response.json()["runId"])


def _status(api: httpx.Client, run_id: str) -> str:
    return str(api.get(f"/api/runs/{run_id}", params={"limit": 1}).json()["status"])


def probe(page: Page, hider: Hider, fragment: str, seconds: float = 3.0) -> str:
    """What a freshly loaded page saw while `hider` was applied for a moment: its visibility
    states and lifecycle events, or the error Chromium gave."""
    page.open(fragment, "runs")
    page.driver.execute_script(_WATCH_VISIBILITY)
    try:
        hider.hide(page.driver)
    except Exception as error:  # a refused method is a finding, not a crash
        return f"refused: {str(error).splitlines()[0][:80]}"
    time.sleep(seconds)
    try:
        hider.show(page.driver)
    except Exception as error:
        return f"could not undo: {str(error).splitlines()[0][:80]}"
    time.sleep(0.5)
    states = [state for state, _ in page.visibility_log()]
    return " -> ".join([*states, f"(now {page.visibility()})"])


def _hid(seen: str) -> bool:
    """Whether the page saw itself hidden, or frozen (no timers run at all then)."""
    return "hidden" in seen.split(" -> ") or "freeze" in seen.split(" -> ")


def watch(
    page: Page,
    audit: Audit,
    api: httpx.Client,
    run_id: str,
    view: str,
    seconds: float,
    hider: Hider | None,
) -> Watch:
    fragment = "#/runs" if view == "runs" else f"#/runs/{run_id}"
    page.open(fragment, "runs")
    time.sleep(2)  # past the view's first refresh
    page.driver.execute_script(_WATCH_VISIBILITY)
    if page.visibility() != "visible":
        raise RuntimeError(f"the page is {page.visibility()} before the watch: not measured")
    before = page.requests()
    start = datetime.now(UTC)
    if hider is not None:
        hider.hide(page.driver)
    time.sleep(seconds)
    end = datetime.now(UTC)
    if hider is not None:
        hider.show(page.driver)
        time.sleep(0.5)
        # The count when the page was shown again, before its refresh on becoming visible.
        log = page.visibility_log()
        after = next((n for state, n in log[1:] if state in {"visible", "resume"}), page.requests())
    else:
        after = page.requests()
    served = audit.served(start, end)
    active = _status(api, run_id) not in TERMINAL
    return Watch(
        view=view,
        hidden_by=hider.name if hider else None,
        seconds=(end - start).total_seconds(),
        page_requests=after - before,
        served=served,
        run_active=active,
    )


def _median_spread(values: list[float], unit: str, digits: int = 0) -> str:
    return (
        f"{statistics.median(values):.{digits}f} {unit} "
        f"({min(values):.{digits}f}-{max(values):.{digits}f})"
    )


def print_loads(loads: dict[str, list[Load]]) -> None:
    header = (
        f"{'load':<6}{'DOMContentLoaded':>22}{'first view':>22}{'requests':>14}{'KB':>20}"
        f"{'from cache':>12}"
    )
    print(header)
    print("-" * len(header))
    for mode, rows in loads.items():
        print(
            f"{mode:<6}"
            f"{_median_spread([r.dom_ms for r in rows], 'ms'):>22}"
            f"{_median_spread([r.first_ms for r in rows], 'ms'):>22}"
            f"{_median_spread([float(r.requests) for r in rows], ''):>14}"
            f"{_median_spread([r.bytes / 1024 for r in rows], '', 1):>20}"
            f"{statistics.median(r.cached for r in rows):>12.0f}"
        )


def print_watches(watches: list[Watch]) -> None:
    header = (
        f"{'view':<6}{'page':<38}{'s':>5}{'page req':>9}{'/min':>7}{'served':>8}{'/min':>7}"
        f"  served by action"
    )
    print(header)
    print("-" * len(header))
    for w in watches:
        per_min = 60 / w.seconds
        actions = ", ".join(f"{a} {n}" for a, n in sorted(w.served.items())) or "-"
        state = f"hidden: {w.hidden_by}" if w.hidden_by else "visible"
        note = "" if w.run_active else "  (the run was no longer active)"
        print(
            f"{w.view:<6}{state:<38}{w.seconds:>5.0f}{w.page_requests:>9}"
            f"{w.page_requests * per_min:>7.1f}{w.served_total:>8}{w.served_total * per_min:>7.1f}"
            f"  {actions}{note}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="cold and warm loads each")
    parser.add_argument("--watch-s", type=float, default=60.0)
    parser.add_argument("--items", type=int, default=200, help="items of the run watched")
    parser.add_argument("--item-latency-ms", type=int, default=5000, help="simulator latency")
    parser.add_argument("--echo", action="store_true", help="copy devhost's output to stderr")
    args = parser.parse_args()
    reason = missing()
    if reason:
        parser.error(reason)

    folder = tempfile.TemporaryDirectory(prefix="bench-monitor-")
    tmp = Path(folder.name)
    env = app_env(
        tmp,
        WEBSITE_AUTH_ENABLED="false",
        MAX_ATTEMPTS="1",
        SIM_LATENCY_MS="20",
        # Two items at a time: the watched run stays active for items x latency / 2.
        MAX_IN_FLIGHT="1",
        ITEM_CONCURRENCY="2",
    )
    audit = Audit(tmp / "agentops.db")
    with (
        folder,
        start_devhost(
            ROOT, env=env, simulator=True, simulator_setting="MODEL_ENDPOINT", echo=args.echo
        ) as host,
        _api(host) as api,
    ):
        # A finished run, so the list the loads render is not empty.
        seeded = _submit(api, [f"what is {n} + 1?" for n in range(5)])
        deadline = time.monotonic() + WAIT_S
        while _status(api, seeded) not in TERMINAL:
            if time.monotonic() > deadline:
                raise RuntimeError("the seed run did not finish")
            time.sleep(0.2)

        driver = new_driver()
        try:
            page = Page(driver, host)
            page.load(cold=False)  # fills the cache the warm loads read
            loads: dict[str, list[Load]] = {"cold": [], "warm": []}
            for _ in range(args.repeat):
                loads["cold"].append(page.load(cold=True))
                loads["warm"].append(page.load(cold=False))

            _sim(host, args.item_latency_ms)
            run_id = _submit(api, [f"what is {n} * 3?" for n in range(args.items)])
            watches = [
                watch(page, audit, api, run_id, view, args.watch_s, None)
                for view in ("runs", "run")
            ]
            # Probed in order until one hides the page, which is measured; the rest after it, as
            # a way may leave the tab hidden for good (freezing does).
            probes: dict[str, str] = {}
            hider: Hider | None = None
            for candidate in _hiders():
                probes[candidate.name] = probe(page, candidate, f"#/runs/{run_id}")
                if hider is None and _hid(probes[candidate.name]):
                    hider = candidate
                    watches += [
                        watch(page, audit, api, run_id, view, args.watch_s, hider)
                        for view in ("runs", "run")
                    ]
            api.post(f"/api/runs/{run_id}/cancel")
        finally:
            driver.quit()

    print()
    print(f"load of /api/ui/#/runs, median (min-max) of {args.repeat}; cold: cache disabled")
    print_loads(loads)
    print()
    print(
        f"a run of {args.items} items at {args.item_latency_ms} ms, 2 at a time; page requests "
        "as the page counted them, served as the audit trail recorded them"
    )
    print_watches(watches)
    print()
    print("hiding the headless tab (visibility states and lifecycle events the page saw):")
    for name, seen in probes.items():
        print(f"  {name:<38}{seen}")
    if hider is None:
        print("  none of these hid the page: no hidden figures")
    visible = {w.view: w.served_total * 60 / w.seconds for w in watches if w.hidden_by is None}
    hidden = {w.view: w.served_total * 60 / w.seconds for w in watches if w.hidden_by}
    cold = statistics.median(r.first_ms for r in loads["cold"])
    warm = statistics.median(r.first_ms for r in loads["warm"])
    hidden_text = (
        f"; hidden {hidden['runs']:.1f} / {hidden['run']:.1f}"
        if hidden
        else "; hidden: not measured"
    )
    print()
    print(
        f"summary: first view {cold:.0f} ms cold, {warm:.0f} ms warm; while a run is active the "
        f"server serves the page {visible['runs']:.1f} requests/min on the runs list, "
        f"{visible['run']:.1f} on the run view{hidden_text}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
