"""The durable client binding value: the URLs the SDK's DurableOrchestrationClient calls."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

WEBHOOK_PATH = "/runtime/webhooks/durabletask"
RPC_PATH = "/durabletask/"
INSTANCE_PLACEHOLDER = "INSTANCEID"


def management_urls(
    public_base_url: str,
    system_key: str | None,
    task_hub: str,
    instance_id: str = INSTANCE_PLACEHOLDER,
) -> dict[str, str]:
    """The management URL set Azure returns, with `instance_id` filled in."""
    base = f"{public_base_url.rstrip('/')}{WEBHOOK_PATH}/instances/{quote(instance_id, safe='')}"
    query = f"taskHub={quote(task_hub)}&connection=Storage"
    if system_key:
        query += f"&code={quote(system_key)}"
    return {
        "id": instance_id,
        "statusQueryGetUri": f"{base}?{query}",
        "sendEventPostUri": f"{base}/raiseEvent/{{eventName}}?{query}",
        "terminatePostUri": f"{base}/terminate?reason={{text}}&{query}",
        "rewindPostUri": f"{base}/rewind?reason={{text}}&{query}",
        "purgeHistoryDeleteUri": f"{base}?{query}",
        "restartPostUri": f"{base}/restart?{query}",
        "suspendPostUri": f"{base}/suspend?reason={{text}}&{query}",
        "resumePostUri": f"{base}/resume?reason={{text}}&{query}",
    }


def client_binding(public_base_url: str, system_key: str, task_hub: str) -> dict[str, Any]:
    base = public_base_url.rstrip("/")
    webhook = f"{base}{WEBHOOK_PATH}"
    code = f"code={quote(system_key)}"
    return {
        "taskHubName": task_hub,
        "creationUrls": {
            "createNewInstancePostUri": f"{webhook}/orchestrators/{{functionName}}"
            f"[/{{instanceId}}]?{code}",
            "createAndWaitOnNewInstancePostUri": f"{webhook}/orchestrators/{{functionName}}"
            f"[/{{instanceId}}]?timeout={{timeoutInSeconds}}"
            f"&pollingInterval={{intervalInSeconds}}&{code}",
        },
        "managementUrls": management_urls(base, system_key, task_hub),
        "baseUrl": webhook,
        "requiredQueryStringParameters": code,
        "rpcBaseUrl": f"{base}{RPC_PATH}",
        "httpBaseUrl": "",
    }
