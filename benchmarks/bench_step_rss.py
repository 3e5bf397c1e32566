"""Peak memory (RSS) and time of every pipeline step, each run as a child process, at a given scale.

A harness, not a test: it prints figures. It runs the pipeline's own CLI commands in a state directory
of its own (`.local/rss-scale-SCALE`, embedded services on the configured ports), one child process per
step, and reads each child's peak RSS from the kernel when it is reaped (`os.wait4`: the child and the
processes it waited for, e.g. dbt's):

    .venv/bin/python benchmarks/bench_step_rss.py [--scale 100] [--date 2025-12-31]

Steps, as a scheduler runs them for one day: simulate the shop's history up to and including `--date`
(the first run of a fresh shop), extract each source for that day (the shop tables' first extraction
carries the whole history: at scale 100 about a million order lines), gate and load each partition,
then `dbt build`. Target (issue "the quality gate at the speed of the load"): every step under 1 GB.
The services are stopped at the end; the data stays, so `--skip-simulate` re-measures the later steps.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from shopflow.contracts import LOAD_ORDER

ROOT = Path(__file__).resolve().parents[1]
SHOPFLOW = str(ROOT / ".venv" / "bin" / "shopflow")
TARGET_MB = 1024


def run_step(label: str, args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run `shopflow ARGS` as a child; its wall time (s) and peak RSS (MB). Raises if it fails."""
    started = time.perf_counter()
    child = subprocess.Popen([SHOPFLOW, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = child.stderr.read() if child.stderr else b""
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"step {label!r} failed ({child.returncode}): {stderr.decode(errors='replace')[-2000:]}")
    return seconds, usage.ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=100.0)
    parser.add_argument("--date", type=date.fromisoformat, default=date(2025, 12, 31))
    parser.add_argument("--skip-simulate", action="store_true", help="the shop is already simulated up to --date")
    args = parser.parse_args()

    scale_label = f"{args.scale:g}"
    env = {**os.environ, "SHOPFLOW_STATE_DIR": str(ROOT / ".local" / f"rss-scale-{scale_label}")}
    day = args.date.isoformat()
    history_start = (args.date - timedelta(days=364)).isoformat()
    steps: list[tuple[str, list[str]]] = []
    if not args.skip_simulate:
        steps.append(
            (
                f"simulate {history_start}..{day}",
                ["simulate", "--from", history_start, "--to", day, "--scale", scale_label],
            )
        )
    steps += [(f"extract {name}", ["extract", "--date", day, "--entity", name, "--force"]) for name in LOAD_ORDER]
    steps += [(f"gate + load {name}", ["load", "--date", day, "--entity", name]) for name in LOAD_ORDER]
    steps.append(("dbt build", ["transform"]))

    subprocess.run([SHOPFLOW, "services", "up"], env=env, check=True, stdout=subprocess.DEVNULL)
    print(f"scale {scale_label}, day {day}, state {env['SHOPFLOW_STATE_DIR']}, load average {os.getloadavg()[0]:.1f}")
    print(f"{'step':<45}{'seconds':>9}{'peak RSS MB':>13}")
    worst = 0.0
    try:
        for label, step_args in steps:
            seconds, peak = run_step(label, step_args, env)
            worst = max(worst, peak)
            print(f"{label:<45}{seconds:>9.1f}{peak:>13,.0f}", flush=True)
    finally:
        subprocess.run([SHOPFLOW, "services", "down"], env=env, check=False, stdout=subprocess.DEVNULL)
    verdict = "met" if worst < TARGET_MB else "NOT met"
    print(f"largest step: {worst:,.0f} MB; target every step < {TARGET_MB} MB: {verdict}")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    sys.exit(0 if worst < TARGET_MB else 1)


if __name__ == "__main__":
    main()
