"""``python -m devhost.simulator --port 7072 [--latency-ms 100 ...]``.

Flags override the ``SIM_*`` environment variables of the same meaning.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys

from devhost.simulator.config import SimulatorConfig
from devhost.simulator.server import serve_forever

_FLAGS = {
    "latency_ms": "SIM_LATENCY_MS",
    "latency_dist": "SIM_LATENCY_DIST",
    "latency_min_ms": "SIM_LATENCY_MIN_MS",
    "latency_max_ms": "SIM_LATENCY_MAX_MS",
    "latency_p99_ms": "SIM_LATENCY_P99_MS",
    "token_latency_ms": "SIM_TOKEN_LATENCY_MS",
    "seed": "SIM_SEED",
    "deployments": "SIM_DEPLOYMENTS",
    "limits": "SIM_LIMITS",
    "faults": "SIM_FAULTS",
    "deployment_faults": "SIM_DEPLOYMENT_FAULTS",
    "answer_tokens": "SIM_ANSWER_TOKENS",
    "config": "SIM_CONFIG",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devhost.simulator",
        description="OpenAI-compatible model simulator with latency, quota and fault knobs.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7072, help="0 picks a free port")
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--latency-ms", help="fixed latency, or the lognormal median")
    parser.add_argument("--latency-dist", choices=["fixed", "uniform", "lognormal"])
    parser.add_argument("--latency-min-ms")
    parser.add_argument("--latency-max-ms")
    parser.add_argument("--latency-p99-ms")
    parser.add_argument("--token-latency-ms", help="delay per completion token")
    parser.add_argument("--seed")
    parser.add_argument("--deployments", help="comma-separated deployment names")
    parser.add_argument("--limits", help='JSON, e.g. {"gpt-4o-mini": {"rpm": 600, "tpm": 60000}}')
    parser.add_argument("--faults", help='JSON, e.g. {"rates": {"429": 0.1, "500": 0.05}}')
    parser.add_argument("--deployment-faults", help="JSON: deployment name -> faults")
    parser.add_argument("--answer-tokens", help="pad text answers to about this many tokens")
    parser.add_argument("--config", help="the whole config as JSON (other flags override it)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    environ = dict(os.environ)
    for attribute, variable in _FLAGS.items():
        value = getattr(args, attribute)
        if value is not None:
            environ[variable] = value
    try:
        config = SimulatorConfig.from_env(environ)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(config, args.host, args.port, args.log_level))
    return 0


if __name__ == "__main__":
    sys.exit(main())
