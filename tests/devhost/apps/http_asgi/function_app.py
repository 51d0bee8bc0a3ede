"""An ASGI app wrapped by AsgiFunctionApp: one catch-all HTTP function that needs `context`."""

import azure.functions as func
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def hello(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse(
        {
            "path": request.url.path,
            "n": request.path_params["n"],
            "query": dict(request.query_params),
            "body": body.decode(),
        },
        status_code=201,
    )


inner = Starlette(routes=[Route("/api/things/{n}", hello, methods=["GET", "POST"])])
app = func.AsgiFunctionApp(app=inner, http_auth_level=func.AuthLevel.ANONYMOUS)
