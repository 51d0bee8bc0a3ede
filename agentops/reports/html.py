"""Readable HTML pages for the reports: headings, tables with captions, and charts.

Jinja2 (autoescaping every value) renders the templates beside this module; matplotlib draws the
charts. Both are imported on first use, so importing the reports costs neither.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from agentops.reports.compliance import ComplianceReport
from agentops.reports.cost_models import CostReport

_TEMPLATES = Path(__file__).with_name("templates")


@lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = _money
    env.filters["ratio"] = _ratio
    env.filters["num"] = lambda value: f"{value:,}" if isinstance(value, int) else f"{value:,.4g}"
    return env


def _money(value: float | None, digits: int = 4) -> str:
    return "unpriced" if value is None else f"{value:,.{digits}f}"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def render_cost_html(report: CostReport) -> str:
    from agentops.reports import charts

    totals, before = report.totals, report.previous_totals
    deployments = report.by_deployment
    agents = report.by_agent
    figures = [
        charts.horizontal_bars(
            "Token cost by deployment",
            [line.name for line in deployments],
            [line.cost for line in deployments],
            xlabel=f"cost ({report.prices.currency})",
        ),
        charts.stacked_bars(
            "Tokens by agent",
            [line.name for line in agents],
            [
                ("prompt", [line.prompt_tokens - line.cached_tokens for line in agents]),
                ("cached prompt", [line.cached_tokens for line in agents]),
                ("completion", [line.completion_tokens for line in agents]),
            ],
            xlabel="tokens",
        ),
        charts.grouped_columns(
            "Cost against the period before",
            ["tokens", "compute", "storage"],
            [
                ("period before", _parts(before)),
                ("this period", _parts(totals)),
            ],
            ylabel=f"cost ({report.prices.currency}, priced part)",
        ),
    ]
    return _environment().get_template("cost.html.j2").render(report=report, charts=figures)


def _parts(totals: Any) -> list[float]:
    return [
        totals.tokens.priced_cost,
        totals.compute.cost if totals.compute else 0.0,
        totals.storage.cost if totals.storage else 0.0,
    ]


def render_compliance_html(report: ComplianceReport) -> str:
    from agentops.reports import charts

    rules = report.rules
    hours = [f"{h:02d}" for h in range(24)]
    working = [rules.work_start_hour <= h < rules.work_end_hour for h in range(24)]
    figures = [
        charts.grouped_columns(
            f"Accesses by hour of day ({rules.timezone})",
            hours,
            [("accesses", report.accesses_by_hour)],
            ylabel="accesses",
            highlight=[not w for w in working],
            highlight_label="outside working hours",
        ),
    ]
    if report.refusals_by_kind:
        figures.append(
            charts.horizontal_bars(
                "Refusals by kind",
                list(report.refusals_by_kind),
                list(report.refusals_by_kind.values()),
                xlabel="refusals",
            )
        )
    return _environment().get_template("compliance.html.j2").render(report=report, charts=figures)
