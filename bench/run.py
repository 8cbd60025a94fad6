"""All benchmarks in one run, one table: what, our figure, the baseline's, the ratio,
the target, and whether it was met.

Each benchmark below builds its own PostgreSQL database with generated data (its
name contains "bench"; dropped and created anew, dropped again at the end), measures
its figures next to its baseline in the same run, and writes its result file. This
script runs them one after the other in fresh processes, gathers their tables and
writes one report:

- bench/results/report-<date>.md: the table in Markdown, with the date, the machine
  (cores, memory, CPU), the PostgreSQL version, the git commit and the command;
- bench/results/report-<date>.json: the same, with every benchmark's full results.

With `--update-readme` the table also replaces the section of README.md between the
markers `<!-- bench-report:start -->` and `<!-- bench-report:end -->`.

A missed target is reported as MISSED and does not make the run fail; a benchmark
that fails (an error, a failed request, wrong results) makes it exit 1 and is
reported as FAILED. Measure on a quiet machine: the report notes the load average
before and after each benchmark, and the Zipper benchmark the CPU other processes
used while it measured.

Run from the project root (about 20 minutes on 2 cores):

    scripts/bench                      # = .venv/bin/python bench/run.py --update-readme
    .venv/bin/python bench/run.py --only pages,invoices
    .venv/bin/python bench/run.py --quick   # small sizes, a few minutes: a smoke run,
                                            # its figures are not the targets' figures
"""

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import TABLE_HEADER, ZONE, machine  # noqa: E402

# (name, what it measures, arguments of a full run, arguments of a quick run)
BENCHMARKS = (
    (
        "zipper",
        "Zipper API: appointment PUTs through gunicorn, patient suggestions",
        [],
        ["--patients", "5000", "--requests", "100", "--seconds", "4", "--rounds", "1"],
    ),
    ("pages", "staff pages: week view, Akten list", [], ["--renders", "20"]),
    (
        "export",
        "handover export against COPY",
        [],
        ["--patients", "5000", "--appointments", "15000", "--rounds", "1"],
    ),
    ("reconcile", "reconciliation (Abgleich)", [], ["--patients", "5000"]),
    # 500 drafts a run: issuing renders and archives each PDF (about 0.2 s), so the
    # default 2,000 would take half an hour and measure WeasyPrint, not the numbering.
    ("invoices", "invoice issuing under concurrency", ["--drafts", "500"], ["--drafts", "200"]),
    (
        "billing_run",
        "billing run of 2,000 patients x 4 appointments: drafts, issuing, PDFs",
        [],
        ["--patients", "200"],
    ),
    ("accounting", "DATEV export of a month with 10,000 bookings", [], ["--rounds", "2"]),
    (
        "search",
        "record search by the 1.1 rules at 100,000 records",
        [],
        ["--patients", "5000", "--rounds", "20"],
    ),
    (
        "scale",
        "Zipper PUT and suggestions at 10k, 100k and 1M patients (COPY-seeded)",
        [],
        ["--sizes", "2000,5000,20000", "--requests", "100", "--rounds", "1"],
    ),
    (
        "reliability",
        "fuzzing, cross-organisation attempts, concurrent pushes",
        ["--examples", "60"],
        ["--examples", "5", "--rounds", "3"],
    ),
)
README = ROOT / "README.md"
START, END = "<!-- bench-report:start -->", "<!-- bench-report:end -->"


def run_one(name: str, arguments: list[str], folder: Path) -> dict:
    output = folder / f"{name}.json"
    log = folder / f"{name}.log"
    command = [sys.executable, f"bench/{name}.py", "--drop-after", "--output", str(output)]
    command += arguments
    started, load_before = time.monotonic(), os.getloadavg()[0]
    print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
    with log.open("w") as sink:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for line in process.stdout:  # shown as it comes, and kept in the log
            sink.write(line)
            print(f"  {line}", end="", flush=True)
        code = process.wait()
    entry = {
        "name": name,
        "exit_code": code,
        "seconds": round(time.monotonic() - started, 1),
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
        "log": str(log.relative_to(ROOT)) if log.is_relative_to(ROOT) else str(log),
    }
    if output.exists():
        entry["results"] = json.loads(output.read_text())
    return entry


def table_of(entries: list[dict]) -> list[list[str]]:
    rows = [TABLE_HEADER]
    for entry in entries:
        results = entry.get("results")
        if entry["exit_code"] != 0 or not results or "table" not in results:
            rows.append([f"{entry['name']}: FAILED (see {entry['log']})", *["-"] * 4, "FAILED"])
        if results and "table" in results:
            rows += [[str(cell) for cell in row] for row in results["table"][1:]]
    return rows


def markdown(rows: list[list[str]], heading: dict) -> str:
    def line(cells):
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    m = heading["machine"]
    text = [
        f"Measured {heading['date']} on {m['cpus']} cores, {m['memory_gib']} GiB "
        f"({m['cpu_model']}), PostgreSQL {heading['postgresql']}, Python "
        f"{heading['python']}, commit `{heading['git_commit']}`; `{heading['command']}` "
        f"took {heading['minutes']} minutes (load average before: {heading['load_before']})."
        + (" A quick run: small sizes, not the targets' figures." if heading["quick"] else ""),
        "",
        line(rows[0]),
        line(["---"] * len(rows[0])),
        *(line(row) for row in rows[1:]),
    ]
    return "\n".join(text) + "\n"


def update_readme(report: str) -> None:
    text = README.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"README.md has no {START} ... {END} section")
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    README.write_text(f"{before}{START}\n{report}{END}{after}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", help="comma-separated names: " + ", ".join(b[0] for b in BENCHMARKS)
    )
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("--update-readme", action="store_true")
    parser.add_argument("--folder", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else [b[0] for b in BENCHMARKS]
    unknown = set(chosen) - {b[0] for b in BENCHMARKS}
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    if args.quick and args.update_readme:
        parser.error("a quick run's figures do not go into the README")

    os.chdir(ROOT)
    started = time.monotonic()
    stamp = datetime.now(ZONE)
    folder = args.folder / f"run-{stamp:%Y-%m-%dT%H%M}"
    folder.mkdir(parents=True, exist_ok=True)
    load_before = round(os.getloadavg()[0], 2)
    entries = []
    for name, _, full, quick in BENCHMARKS:
        if name in chosen:
            entries.append(run_one(name, quick if args.quick else full, folder))

    rows = table_of(entries)
    env = next((e["results"]["environment"] for e in entries if e.get("results")), None) or {}
    heading = {
        "date": stamp.strftime("%Y-%m-%d %H:%M %Z"),
        "machine": machine(),
        "postgresql": env.get("postgresql", {}).get("server_version", "?").split(" ")[0],
        "python": sys.version.split()[0],
        "git_commit": env.get("git_commit") or environment_commit(),
        "command": " ".join(["bench/run.py", *sys.argv[1:]]),
        "minutes": round((time.monotonic() - started) / 60, 1),
        "load_before": load_before,
        "quick": args.quick,
    }
    report = markdown(rows, heading)
    day = stamp.date().isoformat()
    (args.folder / f"report-{day}.md").write_text(report)
    (args.folder / f"report-{day}.json").write_text(
        json.dumps(
            {"heading": heading, "table": rows, "benchmarks": entries},
            indent=2,
            ensure_ascii=False,
            default=str,
        )
        + "\n"
    )
    print()
    print(report)
    for entry in entries:
        print(
            f"{entry['name']}: exit {entry['exit_code']} in {entry['seconds']} s, load average "
            f"{entry['load_average_before']} -> {entry['load_average_after']}"
        )
    print(f"report: {args.folder / f'report-{day}.md'}; logs and results in {folder}")
    if args.update_readme:
        update_readme(report)
        print("README.md updated")
    sys.exit(1 if any(entry["exit_code"] for entry in entries) else 0)


def environment_commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()


if __name__ == "__main__":
    main()
