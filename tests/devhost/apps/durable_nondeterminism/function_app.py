"""An orchestrator whose code path depends on a module-level flag, to provoke non-determinism."""

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

# Flipped by the test between replays, as a code change deployed mid-run would.
CODE_PATH = {"first_activity": "step_a"}


@app.orchestration_trigger(context_name="context")
def drifting(context: df.DurableOrchestrationContext):
    first = yield context.call_activity(CODE_PATH["first_activity"], 1)
    go = yield context.wait_for_external_event("go")
    second = yield context.call_activity("step_a", 2)
    return [first, go, second]


@app.activity_trigger(input_name="value")
def step_a(value: int) -> str:
    return f"a{value}"


@app.activity_trigger(input_name="value")
def step_b(value: int) -> str:
    return f"b{value}"
