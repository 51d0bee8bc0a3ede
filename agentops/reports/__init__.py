"""Cost and compliance reports: pure computation over plain rows, out as pydantic models.

`build_cost_report` and `build_compliance_report` read iterables of the rows in `inputs`; the
models serialise to JSON, and `agentops.reports.html` renders them as pages with charts (it
imports its template engine and plotting library on first use, so importing this package does
not).
"""

from agentops.reports.anomalies import Anomaly, ComplianceRules
from agentops.reports.compliance import ComplianceReport, build_compliance_report
from agentops.reports.cost import build_cost_report
from agentops.reports.cost_models import CostReport, Recommendation
from agentops.reports.inputs import (
    AccessEvent,
    AgentProfile,
    ChainCheck,
    ComputeActivity,
    ItemUsage,
    Period,
    access_event_from,
    item_usage_from,
)
from agentops.reports.price_book import PriceBook, load_price_book
from agentops.reports.recommendations import CostRules

__all__ = [
    "AccessEvent",
    "AgentProfile",
    "Anomaly",
    "ChainCheck",
    "ComplianceReport",
    "ComplianceRules",
    "ComputeActivity",
    "CostReport",
    "CostRules",
    "ItemUsage",
    "Period",
    "PriceBook",
    "Recommendation",
    "access_event_from",
    "build_compliance_report",
    "build_cost_report",
    "item_usage_from",
    "load_price_book",
]
