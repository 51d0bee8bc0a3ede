"""An Agent Framework `AgentFunctionApp` as its documentation writes one, on the model simulator."""

import os

from agent_framework import Agent
from agent_framework.openai import OpenAIChatCompletionClient
from agent_framework_azurefunctions import AgentFunctionApp
from openai import AsyncOpenAI

client = OpenAIChatCompletionClient(
    model="gpt-4o-mini",
    async_client=AsyncOpenAI(base_url=os.environ["MODEL_ENDPOINT"], api_key="simulator"),
)
agent = Agent(client, "You are a helpful assistant.", name="Joker")
app = AgentFunctionApp(agents=[agent], poll_interval_seconds=0.2, max_poll_retries=100)
