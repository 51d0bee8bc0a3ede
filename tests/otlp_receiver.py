"""A local OTLP/HTTP receiver for tests: records each POST (path, content type, body).

It also answers Application Insights' ingestion path (``/v2.1/track``), so one receiver can stand
for both an OpenTelemetry collector and Azure Monitor. Decode OTLP bodies with the
``opentelemetry.proto`` messages (`spans`, `metric_names`, `log_bodies`).
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True, slots=True)
class Post:
    path: str
    content_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class SpanRecord:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str  # "" for a root
    attributes: dict[str, str | int]


@dataclass
class Receiver:
    url: str
    posts: list[Post] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, post: Post) -> None:
        with self._lock:
            self.posts.append(post)

    def bodies(self, path: str) -> list[bytes]:
        with self._lock:
            return [post.body for post in self.posts if post.path == path]

    def wait_for(self, path: str, timeout: float = 10.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while not self.bodies(path):
            if time.monotonic() > deadline:
                seen = sorted({post.path for post in self.posts})
                raise AssertionError(f"nothing POSTed to {path} within {timeout}s (saw {seen})")
            time.sleep(0.05)
        return self.bodies(path)

    def spans(self) -> list[tuple[str, str]]:
        """(span name, service.name) of every span received."""
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        found = []
        for body in self.bodies("/v1/traces"):
            request = ExportTraceServiceRequest.FromString(body)
            for resource_spans in request.resource_spans:
                service = _service_name(resource_spans.resource.attributes)
                for scope in resource_spans.scope_spans:
                    found += [(span.name, service) for span in scope.spans]
        return found

    def span_records(self) -> list[SpanRecord]:
        """Every span received, with its ids (hex) and string and integer attributes."""
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        found = []
        for body in self.bodies("/v1/traces"):
            request = ExportTraceServiceRequest.FromString(body)
            for resource_spans in request.resource_spans:
                for scope in resource_spans.scope_spans:
                    for span in scope.spans:
                        attributes = {
                            a.key: a.value.string_value or a.value.int_value
                            for a in span.attributes
                        }
                        found.append(
                            SpanRecord(
                                span.name,
                                span.trace_id.hex(),
                                span.span_id.hex(),
                                span.parent_span_id.hex(),
                                attributes,
                            )
                        )
        return found

    def metric_names(self) -> set[str]:
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
            ExportMetricsServiceRequest,
        )

        names: set[str] = set()
        for body in self.bodies("/v1/metrics"):
            request = ExportMetricsServiceRequest.FromString(body)
            for resource_metrics in request.resource_metrics:
                for scope in resource_metrics.scope_metrics:
                    names |= {metric.name for metric in scope.metrics}
        return names

    def log_records(self) -> list[tuple[str, dict[str, str]]]:
        """(body, string attributes) of every log record received."""
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
            ExportLogsServiceRequest,
        )

        found = []
        for body in self.bodies("/v1/logs"):
            request = ExportLogsServiceRequest.FromString(body)
            for resource_logs in request.resource_logs:
                for scope in resource_logs.scope_logs:
                    for record in scope.log_records:
                        attributes = {a.key: a.value.string_value for a in record.attributes}
                        found.append((record.body.string_value, attributes))
        return found


def _service_name(attributes: object) -> str:
    for attribute in attributes:  # type: ignore[attr-defined]
        if attribute.key == "service.name":
            return str(attribute.value.string_value)
    return ""


@contextmanager
def otlp_receiver() -> Iterator[Receiver]:
    """A receiver on 127.0.0.1 (a free port) for the duration of the block."""
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            if self.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            receiver.record(Post(self.path, self.headers.get("content-type", ""), body))
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: object) -> None:
            return  # quiet: the test reads the posts

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, name="otlp-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
