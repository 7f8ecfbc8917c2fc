"""A real OTLP/HTTP receiver on loopback for the telemetry tests: it decodes the protobuf payloads
the generated services export (the `opentelemetry-proto` package) and keeps spans and metric points.

OTLP/HTTP: POST /v1/traces, /v1/metrics, /v1/logs with `application/x-protobuf` bodies, optionally
gzip-compressed, answered 200 with the empty Export*ServiceResponse
(https://opentelemetry.io/docs/specs/otlp/#otlphttp).
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanProto

MESSAGES = {
    "/v1/traces": (
        trace_service_pb2.ExportTraceServiceRequest,
        trace_service_pb2.ExportTraceServiceResponse,
    ),
    "/v1/metrics": (
        metrics_service_pb2.ExportMetricsServiceRequest,
        metrics_service_pb2.ExportMetricsServiceResponse,
    ),
    "/v1/logs": (
        logs_service_pb2.ExportLogsServiceRequest,
        logs_service_pb2.ExportLogsServiceResponse,
    ),
}


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    return (
        getattr(value, kind)
        if kind in ("string_value", "bool_value", "int_value", "double_value")
        else str(value)
    )


def _attributes(attributes: Any) -> dict[str, Any]:
    return {item.key: _value(item.value) for item in attributes}


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    kind: str  # SERVER, CLIENT, PRODUCER, CONSUMER, INTERNAL
    trace_id: str  # 32 hex digits
    span_id: str  # 16 hex digits
    parent_span_id: str  # "" for a root span
    attributes: dict[str, Any]

    def __str__(self) -> str:
        parent = self.parent_span_id or "root"
        return f"{self.service}: {self.kind} {self.name!r} {self.span_id} <- {parent}"


@dataclass(frozen=True)
class MetricPoint:
    service: str
    name: str
    attributes: dict[str, Any]


class OtlpReceiver:
    """Collects what is exported to `endpoint` (the OTEL_EXPORTER_OTLP_ENDPOINT to give)."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.metrics: list[MetricPoint] = []
        self.metric_exports: list[str] = []  # the service of each metrics request, in order
        self.log_records = 0
        self.errors: list[str] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self._body()
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                messages = MESSAGES.get(self.path)
                if messages is None or "protobuf" not in self.headers.get("content-type", ""):
                    receiver.errors.append(f"{self.path} {self.headers.get('content-type')}")
                    self.send_response(404 if messages is None else 415)
                    self.end_headers()
                    return
                request = messages[0].FromString(body)
                receiver._store(self.path, request)
                reply = messages[1]().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def _body(self) -> bytes:
                # The Node exporters send chunked bodies (no Content-Length); RFC 9112 section 7.1.
                if "chunked" not in self.headers.get("transfer-encoding", ""):
                    return self.rfile.read(int(self.headers.get("content-length", 0)))
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailer fields
                return b"".join(chunks)

            def log_message(self, *_: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _store(self, path: str, request: Any) -> None:
        with self._lock:
            if path == "/v1/traces":
                self.spans.extend(_spans(request))
            elif path == "/v1/metrics":
                self.metrics.extend(_points(request))
                self.metric_exports.extend(_service(r.resource) for r in request.resource_metrics)
            else:
                self.log_records += sum(
                    len(scope.log_records)
                    for resource in request.resource_logs
                    for scope in resource.scope_logs
                )

    def trace(self, trace_id: str) -> list[Span]:
        with self._lock:
            return [span for span in self.spans if span.trace_id == trace_id]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _service(resource: Any) -> str:
    return str(_attributes(resource.attributes).get("service.name", ""))


def _spans(request: trace_service_pb2.ExportTraceServiceRequest) -> Iterator[Span]:
    for resource in request.resource_spans:
        service = _service(resource.resource)
        for scope in resource.scope_spans:
            for span in scope.spans:
                yield Span(
                    service=service,
                    name=span.name,
                    kind=SpanProto.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_"),
                    trace_id=span.trace_id.hex(),
                    span_id=span.span_id.hex(),
                    parent_span_id=span.parent_span_id.hex(),
                    attributes=_attributes(span.attributes),
                )


def _points(request: metrics_service_pb2.ExportMetricsServiceRequest) -> Iterator[MetricPoint]:
    for resource in request.resource_metrics:
        service = _service(resource.resource)
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                data = getattr(metric, metric.WhichOneof("data") or "gauge")
                for point in data.data_points:
                    yield MetricPoint(service, metric.name, _attributes(point.attributes))
