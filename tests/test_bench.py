"""The benchmark harness (bench/run.py) runs end to end: its --smoke mode renders, installs and
starts real services, drives them with wrk for a second, and prints the table and writes the JSON.
Only that it runs and produces numbers is asserted: no timing, no threshold on speed."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.repo import TEMPLATE_ROOT

pytestmark = pytest.mark.generated


def test_smoke_run_prints_the_table_and_writes_the_json(redis_url: str, tmp_path: Path) -> None:
    output = tmp_path / "smoke.json"
    result = subprocess.run(
        [sys.executable, str(TEMPLATE_ROOT / "bench/run.py"), "--smoke", "--output", str(output)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "REDIS_URL": redis_url},
        check=False,
    )
    assert 0 == result.returncode, f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"

    results = json.loads(output.read_text())
    assert "smoke" == results["mode"]
    assert [] == results["errors"]
    rows = {row["key"]: row for row in results["http"]}
    assert {"python_bare_fastapi", "python_gen_healthz", "python_gen_predict"} <= rows.keys()
    for row in rows.values():
        for metric in ("rps", "p50_ms", "p99_ms"):
            assert isinstance(row[metric], float) and math.isfinite(row[metric]), row
        assert row["rps"] > 0 and row["requests"] > 0, row
    assert "python_healthz_vs_bare_fastapi" in results["ratios"]
    # Each target's figure carries its verdict, in the JSON and beside it in the table.
    assert isinstance(results["ratios"]["python_healthz_vs_bare_fastapi"]["met"], bool)
    assert isinstance(results["ratios"]["python_db_get_p99_ms"]["met"], bool)
    assert results["copier"] and results["copier"][0]["copy_s"] > 0
    assert results["copier"][0]["update_s"] > 0

    table = result.stdout
    assert "generated python-api GET /healthz" in table
    assert "bare FastAPI" in table
    assert "generated Python /healthz / bare FastAPI (req/s)" in table
    assert ">= 0.85  met" in table or ">= 0.85  MISSED" in table
    assert "copy s" in table
    # hybrid: measured, or skipped with the reason on its own line
    assert "hybrid" in table
