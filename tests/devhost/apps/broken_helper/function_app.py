"""An app that fails in a module it imports: the error must point into that module."""

import azure.functions as func
from helpers import config

app = func.FunctionApp()
limit = config.LIMIT
