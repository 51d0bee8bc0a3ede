"""An OpenAI-compatible model simulator for local runs, tests and benchmarks. Never deployed.

Run it alone with ``python -m devhost.simulator --port 7072 [--latency-ms 100 ...]`` (``--port 0``
picks a free port; it prints ``model simulator listening on http://127.0.0.1:PORT/v1``), or in a
process of your own with ``create_app(SimulatorConfig.from_env(os.environ))`` under uvicorn, or in
tests with ``async with serve_in_background(config) as sim:`` (``sim.url``, ``sim.azure_endpoint``).

Endpoints
    POST /v1/chat/completions                    OpenAI; the deployment is the ``model`` field
    POST /openai/deployments/{name}/chat/completions?api-version=...   Azure OpenAI
    GET  /v1/models                              the configured deployments
    GET|PUT|PATCH /sim/config                    read, replace, or merge top-level fields
    POST /sim/reset                              counters, quota windows, schedule positions
    GET  /sim/stats                              outcomes by status and deployment, tokens, phase;
                                                 streams the client closed early (streams_cut)
                                                 and the tokens they sent (cut_tokens_sent)
    GET  /sim/served                             answers and tokens by last user message (query)
    GET  /sim/health
    POST /v1/files, /openai/files                multipart upload (purpose, file); GET lists
                                                 (?purpose=&after=&limit=&order=)
    GET|DELETE /v1/files/{id}, GET /v1/files/{id}/content   (and under /openai)
    POST /v1/batches, /openai/batches            create; GET lists (?after=&limit=), newest first
    GET  /v1/batches/{id}, POST /v1/batches/{id}/cancel     (and under /openai)
    POST /sim/batches/advance                    {"seconds": s}: skip time on the batch clock

Batches (``devhost.simulator.batches``)
    Each line is answered as the chat route answers its body. Status follows the batch clock
    (wall time plus skipped seconds, or devhost's durable clock under --time-skipping):
    validating at creation, then in_progress (lines done evenly over ``delay_s``), finalizing
    (``finalize_s``), completed; failed for a bad input file or a limit; expired when
    ``delay_s`` runs past ``expire_after_s``; cancelling (``cancel_s``) then cancelled. Lines not
    run are in the error file as ``batch_expired`` or ``batch_cancelled``; ``request_counts.failed``
    counts every line of the error file. ``/sim/stats`` ``batches`` counts calls per endpoint.

Answers (same request, same answer)
    Text: ``Simulated answer <d>: "<last user message, first 80 chars>".`` where ``<d>`` is the
    first 8 hex digits of SHA-256 of the last user message. After tool results:
    ``Tool results: <tool> returned <result>; ...``. Tool calls follow the convention in
    ``devhost.simulator.tools`` (``add 2 and 3`` calls ``add`` with ``{"a": 2, "b": 3}``).
    Tokens are ``ceil(chars / 4)``; a prompt costs its messages' text plus 3 per message plus 3,
    plus the tool definitions as compact JSON. ``max_tokens``/``max_completion_tokens`` truncate
    with finish_reason ``length``. A prompt containing ``[simulate-content-filter]`` gets Azure's
    ``content_filter`` 400. A user message containing ``[simulate-tool-call {"name": ...,
    "arguments": ..., "rounds": n}]`` gets that tool call, offered or not, in its next n replies
    (see ``devhost.simulator.answers``).

Environment (``SimulatorConfig.from_env``; command-line flags of the same names override them)
    SIM_CONFIG             the whole config as JSON; the variables below override its fields
    SIM_LATENCY_DIST       fixed (default) | uniform | lognormal
    SIM_LATENCY_MS         fixed latency, or the lognormal median (default 0)
    SIM_LATENCY_MIN_MS, SIM_LATENCY_MAX_MS    uniform bounds
    SIM_LATENCY_P99_MS     lognormal 99th percentile
    SIM_TOKEN_LATENCY_MS   delay per completion token (between stream chunks; summed otherwise)
    SIM_SEED               seed of the latency and fault random streams (default 0)
    SIM_DEPLOYMENTS        comma-separated names listed by /v1/models (default gpt-4o-mini)
    SIM_STRICT_DEPLOYMENTS true: unknown deployments get 404 DeploymentNotFound
    SIM_ANSWER_TOKENS      pad text answers to about this many tokens
    SIM_API_KEY            require this key (``api-key`` or ``Authorization: Bearer``), else 401
    SIM_LIMITS             JSON: {"<deployment>|*": {"rpm": 600, "tpm": 60000, "window_s": 60,
                           "default_max_tokens": 0}}
    SIM_FAULTS             JSON: {"rates": {"429": 0.2, "500": 0.1, "503": 0, "timeout": 0.05,
                           "drop": 0}, "schedule": [{"requests": 50}, {"duration_s": 2,
                           "fault": "503"}], "repeat": false, "retry_after_ms": 1000,
                           "timeout_s": 30}
    SIM_DEPLOYMENT_FAULTS  JSON: {"<deployment>": <faults as above>} replacing SIM_FAULTS there
    SIM_BATCH_DELAY_S, SIM_BATCH_FINALIZE_S, SIM_BATCH_CANCEL_S, SIM_BATCH_EXPIRE_AFTER_S
                           batch timings in seconds (defaults 0, 0, 0, 86400)
    SIM_BATCH_FAILED_LINE_RATE   share of lines answered 500 (default 0)
    SIM_BATCH_MAX_FILE_BYTES, SIM_BATCH_MAX_LINES   per input file (200 MiB, 50,000)
    SIM_BATCH_ENQUEUED_TOKENS    JSON: {"<deployment>|*": tokens} of unfinished batches

Quotas
    Azure-style: a request costs 1 request and (prompt estimate + max tokens, or
    ``default_max_tokens`` when unset) tokens; token buckets of ``limit * window_s / 60`` refill at
    ``limit / 60`` per second. Refusals are 429 with ``retry-after`` (whole seconds),
    ``retry-after-ms`` and Azure's message; every response of a limited deployment carries
    ``x-ratelimit-limit-*`` and ``x-ratelimit-remaining-{requests,tokens}``.

Faults
    ``429`` (at once, with ``retry_after_ms``), ``500``, ``503``, ``timeout`` (stall
    ``timeout_s`` then answer, or stop when the client leaves) and ``drop`` (close the connection
    with no response: the OpenAI SDK raises APIConnectionError). Rates are probabilities drawn
    from a stream seeded by SIM_SEED. A schedule is a list of phases, each lasting ``requests`` or
    ``duration_s`` with a ``fault``, ``rates``, or neither (healthy); its clock starts at the first
    request after start-up, a config change or a reset; after it, ``rates`` apply.
"""

from devhost.simulator.app import create_app
from devhost.simulator.config import SimulatorConfig

__all__ = ["SimulatorConfig", "create_app"]
