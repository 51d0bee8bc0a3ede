"""The admin routes over backups: list, read, verify, restore and start one now."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)
