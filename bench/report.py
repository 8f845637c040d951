"""How figures are measured and printed: each beside a baseline from the same run, as a ratio."""

from __future__ import annotations

import os
import platform
import sqlite3
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

# BENCH_SCALE=0.1 shrinks every count for a quick run while developing (RESULTS.md: 1).
SCALE = float(os.environ.get("BENCH_SCALE", "1"))


def scaled(count: int, least: int = 1) -> int:
    return max(least, int(count * SCALE))


@dataclass(frozen=True)
class Row:
    figure: str
    label: str
    value: float
    unit: str
    baseline: float | None  # None: this row is the baseline
    target: str = ""  # e.g. ">= 0.5"; empty: shown for context only

    @property
    def ratio(self) -> float | None:
        return None if self.baseline in (None, 0) else self.value / self.baseline  # type: ignore[operator]

    @property
    def verdict(self) -> str:
        if not self.target or self.ratio is None:
            return ""
        operator, bound = self.target.split()
        met = self.ratio >= float(bound) if operator == ">=" else self.ratio <= float(bound)
        return "met" if met else "MISSED"


ROWS: list[Row] = []


def figure(
    figure_name: str,
    label: str,
    value: float,
    unit: str,
    baseline: float | None = None,
    target: str = "",
) -> Row:
    row = Row(figure_name, label, value, unit, baseline, target)
    ROWS.append(row)
    ratio = "" if row.ratio is None else f"{row.ratio:8.2f}"
    goal = f"target {row.target:<7} {row.verdict}" if row.target else ""
    base = "(baseline)" if baseline is None else ""
    print(f"  {label:<46}{value:>12,.1f} {unit:<8}{ratio:>9}  {base}{goal}", flush=True)
    return row


STARTED = time.perf_counter()


def section(title: str) -> None:
    """A figure's heading, with the time since the run began (the run must stay short)."""
    print(f"\n{title}  [{time.perf_counter() - STARTED:.0f} s into the run]", flush=True)


def summary() -> str:
    lines = [
        "| figure | measure | value | unit | ratio to baseline | target | |",
        "|---|---|---:|---|---:|---|---|",
    ]
    for row in ROWS:
        ratio = "baseline" if row.ratio is None else f"{row.ratio:.2f}"
        lines.append(
            f"| {row.figure} | {row.label} | {row.value:,.1f} | {row.unit} | {ratio} | "
            f"{row.target} | {row.verdict} |"
        )
    return "\n".join(lines)


def rate(work: Callable[[int, int], None], total: int, clients: int) -> float:
    """Calls per second from `clients` threads, each doing total/clients calls:
    work(client, i)."""
    per_client = max(1, total // clients)
    start = threading.Barrier(clients + 1)

    def client(number: int) -> None:
        start.wait()
        for i in range(per_client):
            work(number, i)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return per_client * clients / (time.perf_counter() - started)


def latency_ms(call: Callable[[], object], repeat: int) -> float:
    """Median of `repeat` sequential calls, after a few to warm up."""
    for _ in range(5):
        call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident set size of a process, in MB."""
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def machine() -> str:
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        import psycopg

        from tests.support import PG_ADMIN_URL

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=5) as connection:
            row = connection.execute("show server_version").fetchone()
            postgres = str(row[0]) if row else "unknown"
    except Exception:
        postgres = "unavailable"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"nproc {os.cpu_count()}, CPU {cpu}, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, PostgreSQL {postgres or 'unavailable'}, "
        f"load average at start {load}, BENCH_SCALE {SCALE:g}"
    )
