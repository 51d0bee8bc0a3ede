"""An app whose function_app.py fails at import: devhost must name this file and line."""

import azure.functions as func

app = func.FunctionApp()

settings = {"region": "local"}
endpoint = settings["endpoint"]  # KeyError at import, line 8
