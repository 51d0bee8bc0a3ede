"""The durable client binding value: the URLs the SDK's DurableOrchestrationClient calls.

Two kinds of URL: management URLs on the public port (the webhooks, which need the system key),
and the SDK's RPC base, where the client in a function calls without a key. As in Azure, the RPC
base is served on a separate loopback port; devhost also puts a per-process secret in its path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

WEBHOOK_PATH = "/runtime/webhooks/durabletask"
RPC_PATH = "/durabletask"
INSTANCE_PLACEHOLDER = "INSTANCEID"


def rpc_base_url(listener_url: str, token: str) -> str:
    """The SDK's RPC base on the loopback listener; the SDK appends `instances/...` to it."""
    return f"{listener_url.rstrip('/')}{RPC_PATH}/{token}/"


@dataclass(frozen=True, slots=True)
class DurableUrls:
    """Where the Durable APIs are reached: fixed at start-up, never taken from a request."""

    public_base_url: str
    system_key: str = field(repr=False)
    rpc_base_url: str = field(repr=False)

    def management(self, task_hub: str, instance_id: str = INSTANCE_PLACEHOLDER) -> dict[str, str]:
        """The management URL set Azure returns, with `instance_id` filled in."""
        base = (
            f"{self.public_base_url.rstrip('/')}{WEBHOOK_PATH}"
            f"/instances/{quote(instance_id, safe='')}"
        )
        query = f"taskHub={quote(task_hub)}&connection=Storage&code={quote(self.system_key)}"
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

    def client_binding(self, task_hub: str) -> dict[str, Any]:
        webhook = f"{self.public_base_url.rstrip('/')}{WEBHOOK_PATH}"
        code = f"code={quote(self.system_key)}"
        return {
            "taskHubName": task_hub,
            "creationUrls": {
                "createNewInstancePostUri": f"{webhook}/orchestrators/{{functionName}}"
                f"[/{{instanceId}}]?{code}",
                "createAndWaitOnNewInstancePostUri": f"{webhook}/orchestrators/{{functionName}}"
                f"[/{{instanceId}}]?timeout={{timeoutInSeconds}}"
                f"&pollingInterval={{intervalInSeconds}}&{code}",
            },
            "managementUrls": self.management(task_hub),
            "baseUrl": webhook,
            "requiredQueryStringParameters": code,
            "rpcBaseUrl": self.rpc_base_url,
            "httpBaseUrl": "",
        }
