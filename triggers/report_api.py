"""The routes over cost and compliance reports: list them by kind, read one as JSON or HTML."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)
