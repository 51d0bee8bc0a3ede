"""The request and response types of every HTTP route: FastAPI's, through the Functions HTTP
streams extension.

Importing the extension switches every HTTP trigger of the app to it (the app setting
`PYTHON_ENABLE_INIT_INDEXING=1` must be on): the Functions host forwards the request to the
worker's own HTTP server, the function receives the FastAPI request with the route's values in
`path_params`, and what it returns goes back as it is, so a `StreamingResponse` reaches the
caller chunk by chunk. The worker checks each HTTP function's annotations against these types.
"""

from azurefunctions.extensions.http.fastapi import Request, StreamingResponse
from azurefunctions.extensions.http.fastapi import Response as HttpResponse

__all__ = ["HttpResponse", "Request", "StreamingResponse"]
