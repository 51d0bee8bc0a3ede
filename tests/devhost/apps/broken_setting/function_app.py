"""An app whose timer schedule is an app setting that resolves to a bad NCRONTAB expression."""

import azure.functions as func

app = func.FunctionApp()


@app.timer_trigger(schedule="%REPORT_SCHEDULE%", arg_name="timer")
def nightly_report(timer: func.TimerRequest) -> None:
    pass
