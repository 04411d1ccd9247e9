"""Issue 21 item 4: the resident memory of one serving process under a mixed load, minute by minute. The production
stack (benchmarks/scale_out.py's: the Procfile under honcho, PostgreSQL, Redis, a worker, the scheduler) with one app
process, loaded by benchmarks/locustfile.py at human pace (its think time) for `minutes`; the app process's VmRSS is
read from /proc every 10 s. Prints the figures per minute, the figure after the load, and the growth between minute 2
and the last minute (goal: <= 150 MB after 10 minutes, <= 5 % growth from minute 2 to 10). Not a test.

Run: .venv/bin/python benchmarks/memory_under_load.py [minutes, default 10] [users, default 24]
Needs what scale_out.py needs (PostgreSQL at BENCH_PG_URL, a Redis database it may empty at BENCH_REDIS_URL).
Everything listens on 127.0.0.1 and is stopped at the end.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _serving import free_port, throwaway_database
from scale_out import BIN, HERE, Stack, _processes, empty_redis, process_tree, stack_env


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def serving_process(stack: int) -> int:
    """The app process in honcho's tree: the one running `myhibachi serve` (with one worker, uvicorn serves in it)."""
    processes = _processes()
    named = {pid for pid in process_tree(stack, processes) if " serve " in processes[pid][1] + " "}
    # the innermost: honcho runs it through a shell
    serving = [pid for pid in named if not any(processes[child][0] == pid for child in named)]
    if len(serving) != 1:
        raise RuntimeError(f"expected one serving process, found {serving}")
    return serving[0]


def load_and_sample(url: str, users: int, minutes: int, pid: int) -> list[tuple[float, float]]:
    """(seconds since the load began, MB) every 10 s while locust runs its `minutes`."""
    locust = subprocess.Popen(  # noqa: S603 - our own interpreter's locust, against loopback
        [str(BIN / "locust"), "-f", str(HERE / "locustfile.py"), "--headless", "-u", str(users), "-r", "4",
         "-t", f"{minutes * 60}s", "-H", url, "--only-summary", "--stop-timeout", "10", "--loglevel", "WARNING"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples, started = [(0.0, rss_mb(pid))], time.monotonic()
    try:
        while locust.poll() is None and time.monotonic() - started < minutes * 60 + 60:
            time.sleep(10)
            samples.append((time.monotonic() - started, rss_mb(pid)))
            if len(samples) % 6 == 1:
                print(f"  minute {samples[-1][0] / 60:4.1f}: {samples[-1][1]:6.1f} MB", flush=True)
    finally:
        if locust.poll() is None:
            locust.kill()
        locust.wait(timeout=30)
    return samples


async def main(minutes: int, users: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="memory-under-load-"))
    try:
        async with throwaway_database() as url:
            await empty_redis()
            print("loading the demo data…", flush=True)
            await asyncio.to_thread(subprocess.run, [str(BIN / "myhibachi"), "seed-demo"],
                                    env=stack_env(url, 0, 1, folder), cwd=folder, check=True,
                                    stdout=subprocess.DEVNULL, timeout=900)
            port = free_port()
            stack = Stack(stack_env(url, port, 1, folder), port, folder / "stack.log")
            try:
                await stack.ready()
                pid = serving_process(stack.process.pid)
                print(f"one app process (pid {pid}) at {rss_mb(pid):.1f} MB before the load; {users} users at "
                      f"human pace for {minutes} min (load average {os.getloadavg()[0]:.1f})…", flush=True)
                samples = await asyncio.to_thread(load_and_sample, stack.url, users, minutes, pid)
            finally:
                stack.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report(samples, minutes)


def report(samples: list[tuple[float, float]], minutes: int) -> None:
    def at(minute: float) -> float:
        return min(samples, key=lambda sample: abs(sample[0] - minute * 60))[1]

    end = samples[-1][1]
    print(f"\nresident memory of the app process: start {samples[0][1]:.1f} MB, minute 2 {at(2):.1f} MB, "
          f"minute {minutes} {at(minutes):.1f} MB, peak {max(mb for _, mb in samples):.1f} MB, end {end:.1f} MB")
    print(f"growth from minute 2 to minute {minutes}: {(at(minutes) - at(2)) / at(2) * 100:+.1f} % (goal <= 5 %); "
          f"after the load: {end:.1f} MB (goal <= 150 MB)")


if __name__ == "__main__":
    numbers = [int(arg) for arg in sys.argv[1:3]]
    asyncio.run(main(*(numbers + [10, 24][len(numbers):])))
