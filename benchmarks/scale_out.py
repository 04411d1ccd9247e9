"""Scale-out: the production stack (the Procfile under honcho: app processes, a taskiq worker, the scheduler) on
PostgreSQL and Redis, saturated by benchmarks/locustfile.py with 1 app process, then with 2, side by side.

Run: .venv/bin/python benchmarks/scale_out.py [seconds per run, default 60] [users, default 48]
Needs PostgreSQL at postgresql+asyncpg://postgres@127.0.0.1:5432/ (or BENCH_PG_URL) and a Redis database it may empty
(BENCH_REDIS_URL, default redis://127.0.0.1:6379/15). Creates a throwaway database with the demo data (history and
all; dropped at the end), serves on a free 127.0.0.1 port, runs locust headless (no think time, so that the users
saturate the server; stats reset once all users have started), then stops everything. Prints, per run, req/s, errors
and the p95 of each request type; then the ratio 2 ÷ 1. Locust, PostgreSQL and the worker share the machine's cores
with the app processes: the ratio is the figure, not the absolute rates. Not a test.
"""

from __future__ import annotations

import asyncio
import csv
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _serving import SECRET, free_port, local_url, throwaway_database, wait_ready
from redis.asyncio import Redis
from sqlalchemy.engine import make_url

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BIN = Path(sys.executable).parent
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")


def stack_env(database_url: str, port: int, processes: int, folder: Path) -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}", "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL, "SECRET_KEY": SECRET, "ENVIRONMENT": "production", "LOG_LEVEL": "WARNING",
            "BASE_URL": local_url(port), "APP_PROCESSES": str(processes), "PERIODIC_IN_SCHEDULER": "true",
            "MAIL_DIR": str(folder / "mail"), "OUTBOX_DIR": str(folder / "outbox"),
            # every load request comes from 127.0.0.1: the per-address limits would stop the load, not the server
            "BOOKING_HOLDS_PER_IP": "1000000", "PUBLIC_FORM_POSTS_PER_IP": "1000000"}


class Stack:
    """`honcho start` of the repository's Procfile in a process group of its own; stopped with SIGTERM (honcho stops
    what it started), killed if it lingers."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        with log.open("wb") as out:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter's honcho
                [str(BIN / "honcho"), "--procfile", str(REPO / "Procfile"), "--app-root", str(log.parent),
                 "start", "--port", str(port)], env=env, cwd=log.parent, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        self.url, self.log = local_url(port), log

    async def ready(self, seconds: float = 120) -> None:
        async with httpx.AsyncClient(base_url=self.url) as http:
            try:
                await wait_ready(http, self.process, seconds)
            except RuntimeError as failed:
                raise RuntimeError(f"{failed}:\n{self.log.read_text()[-3000:]}") from None

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (0 if it is gone), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _processes() -> dict[int, tuple[int, str]]:
    """Every process: pid -> (parent pid, command line)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                found[int(entry.name)] = (parent, (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except (OSError, ValueError, IndexError):
                continue
    return found


def process_tree(root: int, processes: dict[int, tuple[int, str]]) -> set[int]:
    """`root` and every process below it."""
    tree, grew = {root}, True
    while grew:
        children = {pid for pid, (parent, _) in processes.items() if parent in tree} - tree
        tree |= children
        grew = bool(children)
    return tree


def cpu_by_part(stack: int, locust: int, database: str) -> dict[str, float]:
    """CPU seconds so far of the stack's processes (honcho's tree), locust's, and PostgreSQL's backends of our
    database (other work on the machine is in none of them)."""
    processes = _processes()
    tree = process_tree(stack, processes)
    backends = {pid for pid, (_, command) in processes.items() if command.startswith("postgres:") and
                f" {database} " in command}
    return {"app, worker, scheduler": sum(map(_cpu_seconds, tree)), "locust": _cpu_seconds(locust),
            "PostgreSQL (our database)": sum(map(_cpu_seconds, backends))}


def run_locust(url: str, users: int, seconds: int, prefix: Path, stack: int, database: str) -> list[dict[str, str]]:
    env = {**os.environ, "LOAD_THINK": "0"}
    locust = subprocess.Popen(  # noqa: S603 - our own interpreter's locust, against loopback
        [str(BIN / "locust"), "-f", str(HERE / "locustfile.py"), "--headless", "-u", str(users), "-r", str(users),
         "-t", f"{seconds}s", "-H", url, "--csv", str(prefix), "--only-summary", "--reset-stats",
         "--stop-timeout", "10", "--loglevel", "WARNING"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        time.sleep(min(10, seconds / 4))  # the users have started; stats were reset
        before, started = cpu_by_part(stack, locust.pid, database), time.monotonic()
        time.sleep(max(1, seconds - min(10, seconds / 4) - 2))
        after, elapsed = cpu_by_part(stack, locust.pid, database), time.monotonic() - started
        locust.wait(timeout=120)
    finally:
        if locust.poll() is None:
            locust.kill()
            locust.wait(timeout=10)
    print("  cores busy while loaded: " + ", ".join(
        f"{part} {(after[part] - before[part]) / elapsed:.2f}" for part in after), flush=True)
    with Path(f"{prefix}_failures.csv").open() as failures:
        for row in csv.DictReader(failures):
            print(f"  error x{row['Occurrences']}: {row['Method']} {row['Name']}: {row['Error'][:160]}")
    with Path(f"{prefix}_stats.csv").open() as stats:
        return list(csv.DictReader(stats))


async def empty_redis() -> None:
    redis = Redis.from_url(REDIS_URL)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()


async def main(seconds: int, users: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="scale-out-"))
    runs: dict[int, list[dict[str, str]]] = {}
    try:
        await measure(folder, runs, seconds, users)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report(runs, seconds, users)


async def measure(folder: Path, runs: dict[int, list[dict[str, str]]], seconds: int, users: int) -> None:
    async with throwaway_database() as url:
        await empty_redis()
        print("loading the demo data…", flush=True)
        seed_env = stack_env(url, 0, 1, folder)
        await asyncio.to_thread(subprocess.run, [str(BIN / "myhibachi"), "seed-demo"], env=seed_env, cwd=folder,
                                check=True, stdout=subprocess.DEVNULL, timeout=900)
        for processes in (1, 2):
            await empty_redis()  # each run starts with a cold cache and no throttle counts
            port = free_port()
            stack = Stack(stack_env(url, port, processes, folder), port, folder / f"stack-{processes}.log")
            try:
                await stack.ready()
                print(f"{processes} app process(es): {users} users for {seconds} s (load average before: "
                      f"{os.getloadavg()[0]:.1f})…", flush=True)
                runs[processes] = await asyncio.to_thread(run_locust, stack.url, users, seconds,
                                                          folder / f"locust-{processes}", stack.process.pid,
                                                          make_url(url).database)
            finally:
                stack.stop()


def report(runs: dict[int, list[dict[str, str]]], seconds: int, users: int) -> None:
    totals = {n: next(row for row in rows if row["Name"] == "Aggregated") for n, rows in runs.items()}
    names = sorted({row["Name"] for rows in runs.values() for row in rows if row["Name"] != "Aggregated"})
    print(f"\n{users} users, no think time, {seconds} s a run (stats from when all users had started)")
    print(f"{'request':34} " + " ".join(f"{f'{n} proc: count  p95 ms':>24}" for n in runs))
    for name in names:
        cells = []
        for rows in runs.values():
            row = next((r for r in rows if r["Name"] == name), None)
            cells.append(f"{row['Request Count']:>13} {row['95%']:>8}" if row else f"{'-':>24}")
        print(f"{name[:34]:34} " + " ".join(f"{c:>24}" for c in cells))
    for n, total in totals.items():
        print(f"{n} app process(es): {float(total['Requests/s']):.1f} req/s, {total['Request Count']} requests, "
              f"{total['Failure Count']} errors, p95 {total['95%']} ms")
    if 1 in totals and 2 in totals:
        ratio = float(totals[2]["Requests/s"]) / float(totals[1]["Requests/s"])
        print(f"ratio 2 ÷ 1 app processes: {ratio:.2f}x (goal >= 1.6x, 0 errors)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 60, int(sys.argv[2]) if len(sys.argv) > 2 else 48))
