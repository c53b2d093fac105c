"""``make bench``: run every benchmark, print each result, and rewrite ``benchmarks/RESULTS.md``.

``python -m benchmarks --render`` only redoes RESULTS.md from the last run's figures (``results.json``).

Each benchmark measures its floor in the same run on the same machine; the machine's load average is recorded beside
every figure because other work on a shared machine moves them. ``benchmarks/NOTES.md`` (the hand-written analysis
of missed targets, with profiles) is carried into RESULTS.md as it is.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from benchmarks import bench_apply, bench_e2e, bench_fetch, bench_mapping, bench_memory, bench_planner
from benchmarks.harness import RECORDABLE, RUNS, SCALE, load_average
from tests.plugins.postgres import ADMIN_URL
from tests.plugins.temporal import temporal_cli

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
#: The last full run's table rows and machine facts, so ``--render`` can redo RESULTS.md after NOTES.md changed.
RAW = HERE / "results.json"
BENCHMARKS: list[tuple[str, Callable[[], Any]]] = [
    ("mapping", bench_mapping.run),
    ("planner", bench_planner.run),
    ("apply", bench_apply.run),
    ("fetch", bench_fetch.run),
    ("end to end", bench_e2e.run),
    ("memory", bench_memory.run),
]


def _first_line(path: str, prefix: str) -> str:
    for line in Path(path).read_text().splitlines():
        if line.startswith(prefix):
            return line.split(":", 1)[1].strip()
    return "unknown"


def machine() -> dict[str, str]:
    with psycopg.connect(ADMIN_URL) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    temporal = subprocess.run([temporal_cli(), "--version"], capture_output=True, text=True, check=False).stdout
    memory_kb = int(_first_line("/proc/meminfo", "MemTotal").split()[0])
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": str(os.cpu_count()),
        "memory": f"{memory_kb / 1024 / 1024:.1f} GiB",
        "cpu": _first_line("/proc/cpuinfo", "model name"),
        "python": platform.python_version(),
        "postgresql": row[0] if row else "unknown",
        "temporal": temporal.strip().splitlines()[0] if temporal.strip() else "unknown",
    }


def figure(result: dict[str, Any]) -> str:
    """The headline figure of a result, whichever benchmark produced it."""
    parts = []
    if "median_s" in result:
        parts.append(f"{result['median_s']} s")
    if "median_mb" in result:
        parts.append(f"{result['median_mb']} MB (max {result['max_mb']} MB)")
    if "users_per_second" in result:
        parts.append(
            f"{result['users_per_second']:,} users/s (every toggle on: {result['all_toggles_users_per_second']:,})"
        )
    if "write_statements" in result:
        parts.append(
            f"{result['write_statements']} write statements, planning {result['plan_users_per_second']:,} users/s"
        )
    if "rows_written_per_round" in result:
        parts.append(
            f"{result['rows_written_per_round']:g} rows in {result['statements_per_round']:g} statements for "
            f"{result['changed_users']} changed users"
        )
    if "speedup" in result:
        parts.append(f"{result['speedup']}x faster")
    return "; ".join(parts)


def floor(result: dict[str, Any]) -> str:
    if "floor_s" not in result:
        return "—"
    return f"{result['floor_s']} s ({result.get('floor', 'rapidfuzz cdist on the same names')})"


def row(result: dict[str, Any], load: str) -> str:
    ratio = result.get("ratio", "—")
    met = "**met**" if result.get("met") else "**missed**"
    cells = [
        result["id"],
        result.get("what", ""),
        figure(result),
        floor(result),
        str(ratio),
        result.get("target", ""),
        met,
        load,
    ]
    return "| " + " | ".join(str(cell).replace("|", "/") for cell in cells) + " |"


def results(info: dict[str, str], rows: list[str], started: str, finished: str) -> str:
    notes = HERE / "NOTES.md"
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m benchmarks`); every figure is the median of at least 5 runs, and every "
        "floor was measured in the same run on the same machine.",
        "",
        "| machine | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in info.items()),
        f"| load average (1/5/15 min) at start | {started} |",
        f"| load average at end | {finished} |",
        "",
        "| id | workload | figure | floor | ratio | target | result | load average (1/5/15 min) before → after |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    if notes.exists():
        lines += [notes.read_text(encoding="utf-8").rstrip(), ""]
    return "\n".join(lines)


def render() -> int:
    """Rewrite RESULTS.md from the last full run's figures (after NOTES.md was edited), measuring nothing."""
    saved = json.loads(RAW.read_text(encoding="utf-8"))
    RESULTS.write_text(results(saved["machine"], saved["rows"], *saved["load"]), encoding="utf-8")
    return 0


def main() -> int:
    if sys.argv[1:] == ["--render"]:
        return render()
    if not RECORDABLE:
        print(f"scale {SCALE}, {RUNS} rounds: the report is printed, RESULTS.md is left alone", file=sys.stderr)
    info = machine()
    started = load_average()
    rows: list[str] = []
    failed = False
    for name, bench in BENCHMARKS:
        before = load_average()
        print(f"== {name} (load average {before})", flush=True)
        began = time.perf_counter()
        try:
            outcome = bench()
        except Exception:
            traceback.print_exc()
            rows.append(f"| {name} | failed to run: see the output of `make bench` | | | | | **error** | |")
            failed = True
            continue
        load = f"{before} → {load_average()}"
        for result in outcome if isinstance(outcome, list) else [outcome]:
            print(json.dumps(result, indent=2), flush=True)
            rows.append(row(result, load))
        print(f"   ({time.perf_counter() - began:.0f} s)", flush=True)
    overall = (started, load_average())
    report = results(info, rows, *overall)
    if RECORDABLE:
        RESULTS.write_text(report, encoding="utf-8")
        RAW.write_text(json.dumps({"machine": info, "rows": rows, "load": overall}, indent=2), encoding="utf-8")
    else:
        print(report)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
