"""What every benchmark in bench/ shares: percentiles, the machine's CPU while it
measures, its own database, its environment, and its result table.

A benchmark's result file (JSON) holds `table`: a header row
["what", "ours", "baseline", "ratio", "target", "result"] and one row per figure;
`result` is "met", "MISSED", "INVALID (...)" or "" for a figure without a target.
bench/run.py gathers these tables into one report.
"""

import json
import math
import os
import platform
import socket
import subprocess
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
ZONE = ZoneInfo("Europe/Berlin")
TABLE_HEADER = ["what", "ours", "baseline", "ratio", "target", "result"]


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of `values` (seconds), in milliseconds."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * p / 100)) - 1] * 1000


def summary(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 50), 2),
        "p95_ms": round(percentile(values, 95), 2),
        "p99_ms": round(percentile(values, 99), 2),
        "max_ms": round(max(values) * 1000, 2) if values else None,
    }


def cpu_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    with open("/proc/stat") as stat:
        numbers = [int(n) for n in stat.readline().split()[1:]]
    idle = numbers[3] + numbers[4]  # idle + iowait
    return sum(numbers) - idle, sum(numbers)


def process_ticks(pid: int) -> int:
    """User + system CPU ticks of a process (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return int(fields[11]) + int(fields[12])


def processes_under_test(server_pid: int | None) -> set[int]:
    """This process, the gunicorn master and its workers, and every PostgreSQL process
    except client backends of other databases."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' "
            "AND datname IS DISTINCT FROM current_database()"
        )
        foreign = {row[0] for row in cursor.fetchall()}
    pids = {os.getpid()}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        pid = int(entry.name)
        in_server = server_pid is not None and server_pid in (pid, parent)
        if in_server or (comm == "postgres" and pid not in foreign):
            pids.add(pid)
    return pids


class CpuMeter:
    """The machine's CPU between enter and exit, split into the processes under test
    and everything else (the machine may be shared: other processes slow the
    benchmark down, and `others` says how much they ran)."""

    def __init__(self, server_pid: int | None = None):
        self.server_pid = server_pid
        self.ticks = {"busy": 0, "total": 0, "ours": 0}

    def __enter__(self):
        self.before = {pid: process_ticks(pid) for pid in processes_under_test(self.server_pid)}
        self.machine = cpu_busy()
        return self

    def __exit__(self, *exc):
        busy, total = cpu_busy()
        after = {pid: process_ticks(pid) for pid in processes_under_test(self.server_pid)}
        ours = sum(ticks - self.before.get(pid, 0) for pid, ticks in after.items())
        self.ticks = {
            "busy": busy - self.machine[0],
            "total": total - self.machine[1],
            "ours": max(0, ours),
        }

    def shares(self) -> dict:
        return cpu_shares([self.ticks])


def cpu_shares(ticks: list[dict]) -> dict:
    busy, total, ours = (sum(t[key] for t in ticks) for key in ("busy", "total", "ours"))
    total = max(1, total)
    return {
        "machine_busy": round(busy / total, 3),
        "under_test": round(min(ours, busy) / total, 3),
        "others": round(max(0, busy - ours) / total, 3),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def recreate_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = urlsplit(url).path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"refusing to drop {name!r}: use a database with 'bench' in its name")
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def verdict(met: bool, failures: int = 0) -> str:
    if failures:
        return f"INVALID ({failures} failed)"
    return "met" if met else "MISSED"


def print_table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("  ".join("-" * width for width in widths))


def environment(database_url: str) -> dict:
    """Versions and settings that shape the figures: git commit, machine, PostgreSQL."""
    from django.db import connection

    with connection.cursor() as cursor:
        settings = {}
        for name in ("server_version", "fsync", "synchronous_commit", "shared_buffers"):
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "git_commit": commit,
        **machine(),
        "python": platform.python_version(),
        "postgresql": settings,
        "database": urlsplit(database_url).path.lstrip("/"),
    }


def machine() -> dict:
    """Cores and memory of the machine, for the report's heading."""
    with open("/proc/meminfo") as meminfo:
        total_kb = int(meminfo.readline().split()[1])
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(total_kb / 1024 / 1024, 1),
        "cpu_model": cpu_model(),
    }


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def memory_kb(key: str, pid: int | str = "self") -> int:
    """VmRSS (now) or VmHWM (peak) of a process, in KiB. The peak is the process's own
    since exec, unlike ru_maxrss, which on Linux can carry the RSS of the parent that
    forked it."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(f"{key}:"):
                return int(line.split()[1])
    return 0


def database_url(variable: str, default_name: str) -> str:
    """The benchmark's own database: `variable` from the environment, else
    `default_name` on the machine's PostgreSQL. It is dropped and created anew, so its
    name must contain "bench"."""
    url = os.environ.get(variable, f"postgres://postgres@127.0.0.1:5432/{default_name}")
    if "bench" not in urlsplit(url).path:
        raise SystemExit(f"refusing to drop {url}: the database name must contain 'bench'")
    return url


def write_results(name: str, results: dict, output: Path | None) -> Path:
    """Writes the results to `output` (default bench/results/<name>-<date>.json)."""
    results.setdefault("date", datetime.now(ZONE).isoformat(timespec="seconds"))
    output = output or ROOT / "bench" / "results" / f"{name}-{results['date'][:10]}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")
    return output
