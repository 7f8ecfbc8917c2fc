"""Copier itself: how long a copy and a no-change update of each architecture take."""

from __future__ import annotations

import statistics

from bench.common import (
    ARCHITECTURES,
    Bench,
    log,
    render,
    update,
)
from harness.repo import commit_all, git


def section_copier(bench: Bench) -> None:
    architectures = ["python-api"] if bench.settings.smoke else list(ARCHITECTURES)
    for architecture in architectures:
        copies = []
        for n in range(bench.settings.copier_rounds):
            copies.append(
                render(
                    bench.template,
                    bench.work / "copier" / f"{architecture}-{n}",
                    ARCHITECTURES[architecture],
                )
            )
        project = bench.work / "copier" / f"{architecture}-0"
        git("init", "-q", "-b", "main", cwd=project)
        commit_all(project, "generated")
        updates = []
        for _ in range(bench.settings.copier_rounds):
            updates.append(update(project))
            changed = git("status", "--porcelain", cwd=project).strip()
            if changed:
                raise RuntimeError(f"copier update changed {architecture}:\n{changed}")
        bench.results["copier"].append(
            {
                "architecture": architecture,
                "copy_s": statistics.median(copies),
                "update_s": statistics.median(updates),
                "copy_rounds": [round(s, 2) for s in copies],
                "update_rounds": [round(s, 2) for s in updates],
            }
        )
        log(
            f"copier {architecture}: copy {statistics.median(copies):.2f}s, "
            f"update {statistics.median(updates):.2f}s"
        )
