"""The Functions app: checks its configuration, builds the DFApp, registers the blueprints."""

import azure.durable_functions as df
import azure.functions as func

from activities.batch_mode import bp as batch_mode_activities
from activities.maintenance import bp as maintenance_activities
from activities.reports import bp as report_activities
from activities.restore import bp as restore_activities
from activities.run_agent_batch import bp as batch_activities
from agentops.bootstrap import check_configuration
from orchestrations.agent_batch import bp as batch_orchestration
from orchestrations.maintenance import bp as maintenance_orchestration
from orchestrations.reports import bp as report_orchestration
from orchestrations.restore import bp as restore_orchestration
from triggers.backup_api import bp as backup_api
from triggers.health_api import bp as health_api
from triggers.http_api import bp as http_api
from triggers.ops_api import bp as ops_api
from triggers.report_api import bp as report_api
from triggers.schedules import bp as schedules
from triggers.ui_api import bp as ui_api

# An invalid agents.yaml or app setting fails indexing, so a broken deployment does not start.
check_configuration()

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(http_api)
app.register_functions(backup_api)
app.register_functions(report_api)
app.register_functions(health_api)
app.register_functions(ops_api)
app.register_functions(ui_api)
app.register_functions(batch_orchestration)
app.register_functions(batch_activities)
app.register_functions(batch_mode_activities)
app.register_functions(schedules)
app.register_functions(maintenance_orchestration)
app.register_functions(maintenance_activities)
app.register_functions(report_orchestration)
app.register_functions(report_activities)
app.register_functions(restore_orchestration)
app.register_functions(restore_activities)
