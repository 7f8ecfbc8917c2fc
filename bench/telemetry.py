"""The cost of OpenTelemetry in the hybrid gateway and ML service, in one run.

    bench/telemetry            # 5 rounds of 10 s per target (about 8 minutes)
    bench/telemetry --smoke    # seconds of load: proves the harness works, numbers meaningless

Three copies of the hybrid's gateway + ML service run side by side from one render: telemetry off
(no OTEL_* variable: the SDK is never loaded), on with every trace sampled
(OTEL_TRACES_SAMPLER=parentbased_always_on) and on with 10 % sampled
(parentbased_traceidratio, 0.1), the last two exporting to a real OTLP/HTTP receiver on loopback
(tests/otlp.py). wrk drives GET /healthz and POST /v1/predictions of each gateway, the rounds
interleaved across all six targets (bench/run.py's `measure`), and the table gives each "on" row as
a ratio of its "off" row: req/s and p50. Results go to bench/results/telemetry.json.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# harness/ (the helpers shared with the tests) and tests/otlp.py, the OTLP receiver.
sys.path[:0] = [str(REPO), str(REPO / "tests")]
from otlp import OtlpReceiver

from bench.common import (
    BENCH,
    PREDICT_BODY,
    Bench,
    Target,
    log,
    measure,
    wait_ready,
)
from bench.run import parse_args
from harness.net import free_port
from harness.toolchain import NODE

CONFIGS: dict[str, dict[str, str]] = {
    "off": {},
    "on100": {"OTEL_TRACES_SAMPLER": "parentbased_always_on"},
    "on10": {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
}


def main(argv: list[str]) -> int:
    settings = parse_args([*argv, "--sections", "hybrid"])
    work = Path(tempfile.mkdtemp(prefix="bench-telemetry-"))
    receiver = OtlpReceiver()
    log(f"work directory {work}; OTLP receiver {receiver.endpoint}")
    bench: Bench | None = None
    try:
        bench = Bench(settings, work)
        project = bench.project("hybrid")
        bench.install_node(project)
        service = project / "services/ml"
        bench.install_python(service)
        ml_var = bench.ml_url_variable(project) or "ML_SERVICE_URL"
        targets: list[Target] = []
        for name, sampler in CONFIGS.items():
            otel = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, **sampler} if sampler else {}
            ml_port, port = free_port(), free_port()
            ml = bench.processes.start(
                f"ml-{name}",
                [str(service / ".venv/bin/python"), "-m", "app", "--port", str(ml_port)],
                service,
                {**bench.python_env(), "HOST": "127.0.0.1", **otel},
            )
            wait_ready(ml, f"http://127.0.0.1:{ml_port}/readyz")
            gateway = bench.processes.start(
                f"gateway-{name}",
                [str(NODE), "--import", "./dist/telemetry.js", "dist/server.js"],
                project / "services/api",
                bench.node_api_env(
                    port,
                    **bench.database(project),
                    **{ml_var: f"http://127.0.0.1:{ml_port}"},
                    **otel,
                ),
            )
            url = f"http://127.0.0.1:{port}"
            wait_ready(gateway, f"{url}/readyz")
            targets += [
                Target(f"healthz_{name}", f"gateway GET /healthz, telemetry {name}", gateway,
                       f"{url}/healthz"),
                Target(f"predictions_{name}", f"gateway POST /v1/predictions, telemetry {name}",
                       gateway, f"{url}/v1/predictions", PREDICT_BODY),
            ]  # fmt: skip
        rows = measure(bench.wrk, bench.cpus, settings, targets)
    finally:
        if bench is not None:
            bench.processes.stop_all()
        receiver.close()
        if not settings.keep:
            shutil.rmtree(work, ignore_errors=True)
    by_key = {row["key"]: row for row in rows}
    ratios: dict[str, Any] = {}
    for route in ("healthz", "predictions"):
        off = by_key[f"{route}_off"]
        for name in ("on100", "on10"):
            on = by_key[f"{route}_{name}"]
            ratios[f"{route}_{name}_vs_off"] = {
                "rps": round(on["rps"] / off["rps"], 3),
                "p50": round(on["p50_ms"] / off["p50_ms"], 3),
            }
    results = {"http": rows, "ratios": ratios, "spans_received": len(receiver.spans)}
    output = BENCH / "results" / "telemetry.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{'target':<55} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for row in rows:
        print(f"{row['label']:<55} {row['rps']:>9.0f} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f}")
    for key, ratio in ratios.items():
        print(f"{key:<55} req/s x{ratio['rps']:.3f}  p50 x{ratio['p50']:.3f}")
    print(f"spans received: {len(receiver.spans)}\nresults: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
