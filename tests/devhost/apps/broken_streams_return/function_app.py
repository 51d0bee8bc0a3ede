"""Streams mode with a classic HttpResponse return annotation: refused, as the worker refuses it."""

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="mixed", methods=["GET"])
def mixed(req: Request) -> func.HttpResponse:
    return func.HttpResponse("never served")
