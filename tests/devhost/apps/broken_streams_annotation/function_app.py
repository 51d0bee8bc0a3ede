"""Imports the HTTP streams extension but keeps a classic HttpRequest annotation: refused."""

import azure.functions as func
import azurefunctions.extensions.http.fastapi  # noqa: F401 - importing it turns streams mode on

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="old", methods=["GET"])
def old_style(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("never served")
