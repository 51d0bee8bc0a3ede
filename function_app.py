"""The Functions app: builds the DFApp and registers each area's blueprint. Nothing else."""

import azure.durable_functions as df
import azure.functions as func

from activities.run_agent_batch import bp as batch_activities
from orchestrations.agent_batch import bp as batch_orchestration
from triggers.http_api import bp as http_api

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(http_api)
app.register_functions(batch_orchestration)
app.register_functions(batch_activities)
