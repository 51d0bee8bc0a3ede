"""Estimates of Functions Flex Consumption compute and Blob storage for a period.

Flex Consumption bills an always-ready instance's memory for the whole period (the baseline) and
its active time at a lower rate; executions beyond always-ready capacity run on demand. The
estimate lets always-ready instances take active time first, up to the period's length each,
which is how the platform routes work when they are free. Monthly free grants belong to the
subscription, not the app, so they are shown for reference and not deducted.
"""

from __future__ import annotations

from agentops.reports.figures import ReportModel
from agentops.reports.inputs import ComputeActivity, Period
from agentops.reports.price_book import BlobStoragePrices, FlexConsumptionPrices

MB_PER_GB = 1024  # Flex Consumption instance sizes: 2,048 MB is a 2 GB instance
BYTES_PER_GB = 1024**3
HOURS_PER_MONTH = 730  # Azure prices a month as 730 hours


class ComputeEstimate(ReportModel):
    executions: int
    execution_seconds: float
    instance_memory_gb: float
    per_instance_concurrency: int
    always_ready_instances: int
    active_instance_seconds: float
    always_ready_baseline_gb_s: float
    always_ready_active_gb_s: float
    always_ready_executions: int
    always_ready_utilisation: float | None  # active share of always-ready capacity
    on_demand_gb_s: float
    on_demand_executions: int
    always_ready_baseline_cost: float
    always_ready_execution_cost: float
    on_demand_execution_time_cost: float
    executions_cost: float
    cost: float
    free_grant_gb_s_per_month: float
    free_grant_executions_per_month: float


class StorageEstimate(ReportModel):
    stored_bytes: int
    gb_months: float
    cost: float


def estimate_compute(
    activity: ComputeActivity, period: Period, prices: FlexConsumptionPrices
) -> ComputeEstimate:
    memory_gb = activity.instance_memory_mb / MB_PER_GB
    active_s = activity.execution_seconds / activity.per_instance_concurrency
    capacity_s = activity.always_ready_instances * period.seconds
    ready_active_s = min(active_s, capacity_s)
    on_demand_s = active_s - ready_active_s
    if active_s > 0:
        ready_executions = round(activity.executions * ready_active_s / active_s)
    else:
        ready_executions = activity.executions if activity.always_ready_instances else 0
    on_demand_executions = activity.executions - ready_executions

    baseline_gb_s = capacity_s * memory_gb
    ready_active_gb_s = ready_active_s * memory_gb
    on_demand_gb_s = on_demand_s * memory_gb
    baseline_cost = baseline_gb_s * prices.always_ready_baseline_per_gb_s
    ready_cost = ready_active_gb_s * prices.always_ready_execution_per_gb_s
    on_demand_cost = on_demand_gb_s * prices.on_demand_per_gb_s
    executions_cost = (
        ready_executions * prices.always_ready_per_million_executions
        + on_demand_executions * prices.on_demand_per_million_executions
    ) / 1_000_000
    return ComputeEstimate(
        executions=activity.executions,
        execution_seconds=activity.execution_seconds,
        instance_memory_gb=memory_gb,
        per_instance_concurrency=activity.per_instance_concurrency,
        always_ready_instances=activity.always_ready_instances,
        active_instance_seconds=active_s,
        always_ready_baseline_gb_s=baseline_gb_s,
        always_ready_active_gb_s=ready_active_gb_s,
        always_ready_executions=ready_executions,
        always_ready_utilisation=ready_active_s / capacity_s if capacity_s else None,
        on_demand_gb_s=on_demand_gb_s,
        on_demand_executions=on_demand_executions,
        always_ready_baseline_cost=baseline_cost,
        always_ready_execution_cost=ready_cost,
        on_demand_execution_time_cost=on_demand_cost,
        executions_cost=executions_cost,
        cost=baseline_cost + ready_cost + on_demand_cost + executions_cost,
        free_grant_gb_s_per_month=prices.on_demand_free_gb_s_per_month,
        free_grant_executions_per_month=prices.on_demand_free_executions_per_month,
    )


def estimate_storage(
    stored_bytes: int, period: Period, prices: BlobStoragePrices
) -> StorageEstimate:
    gb_months = stored_bytes / BYTES_PER_GB * (period.seconds / 3600 / HOURS_PER_MONTH)
    return StorageEstimate(
        stored_bytes=stored_bytes, gb_months=gb_months, cost=gb_months * prices.per_gb_month
    )
