"""Shared pieces of the benchmark suite: result rows, timing helpers, the emulator subprocess.

The emulator always runs as a separate process (``python -m dli_magic.emulator``), as a real service
would: its CPU work never shares the benchmark process's GIL. Added latency is the emulator's own
``--latency-ms`` option (an ``asyncio.sleep`` after processing, so concurrent calls overlap), switched
off through the admin fault route only for untimed resets between repetitions.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import requests

from dli_magic import signing
from dli_magic.emulator import DEFAULT_PROJECT_ID

from .targets import TARGETS, verdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = sys.executable

# Latency the emulator adds to every DLI call: a near cloud region for one call (issue 9), the
# suite's default otherwise (issue 11).
ONE_CALL_LATENCY_MS = 30
CLOUD_LATENCY_MS = 50

# Benchmark-only credentials (never real ones); the emulator accepts exactly these.
BENCH_AK = "BENCHAKQ2W9E4R7T1Y"
BENCH_SK = "bench-sk-not-a-secret-9d1f"
BENCH_TOKEN = "bench-token-not-a-secret-4c2e"
FIRST_JOB_ID = 1001  # the emulator's first job id in an empty database (docs/emulator.md)


@dataclass
class Row:
    """One line of the results table; ``target`` is a key of ``targets.TARGETS`` (or empty)."""

    section: str
    metric: str
    value: float | str
    unit: str = ""
    target: str = ""

    @property
    def ok(self) -> bool | None:
        """True/False for an enforced target met/missed; None when nothing is enforced."""
        return verdict(self.target, self.value)[0]

    def target_text(self) -> str:
        return TARGETS[self.target].text if self.target else ""

    def shown_value(self) -> str:
        if isinstance(self.value, float):
            return f"{self.value:.3g}" if abs(self.value) < 100 else f"{self.value:,.0f}"
        return str(self.value)

    def verdict(self) -> str:
        return verdict(self.target, self.value)[1]


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(round(pct / 100 * len(ordered) + 0.5))))
    return ordered[rank - 1]


def ms(seconds: float) -> float:
    return seconds * 1000.0


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def rotated(names: list[str] | tuple[str, ...], rep: int) -> list[str]:
    """The contenders in a different order each repetition (interleaving)."""
    k = rep % len(names)
    return list(names[k:]) + list(names[:k])


def peak_per_second(times: list[float]) -> int:
    """Most entries within any 1-second window (times in seconds, any order)."""
    ordered = sorted(times)
    best = start = 0
    for end, t in enumerate(ordered):
        while t - ordered[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def signed_headers(method: str, url: str, body: bytes) -> dict[str, str]:
    """What a hand-written script sends with AK/SK: the same signer, no client library."""
    headers = {"Content-Type": "application/json", "X-Project-Id": DEFAULT_PROJECT_ID}
    headers.update(signing.sign_request(method, url, headers, body, BENCH_AK, BENCH_SK))
    return headers


def run_body(ids: list[int]) -> bytes:
    return json.dumps({"job_ids": ids, "resume_savepoint": False}, separators=(",", ":")).encode()


def bench_env(history_dir: str) -> dict[str, str]:
    """Environment for a fresh process using dli-magic against the emulator (no user profile read)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DLI_", "HUAWEICLOUD_SDK_"))}
    env["DLI_HISTORY_PATH"] = os.path.join(history_dir, "history.sqlite")
    env["XDG_CONFIG_HOME"] = os.path.join(history_dir, "config")  # no profile file
    return env


class EmulatorProcess:
    """``python -m dli_magic.emulator`` on 127.0.0.1 with a port of its own, optionally pre-seeded.

    ``jobs`` is ``--jobs N`` (N runnable ``job_init`` jobs, ids 1001…1000+N in an empty database, the
    newest first in the list); ``latency_ms`` is ``--latency-ms``.
    """

    def __init__(self, *, jobs: int = 0, speed: float = 1000.0, latency_ms: float = 0) -> None:
        self.jobs = jobs
        self.job_ids: list[int] = []
        self.speed = speed
        self.latency_ms = latency_ms
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.project_id = DEFAULT_PROJECT_ID
        self.admin = requests.Session()

    def start(self) -> "EmulatorProcess":
        env = dict(os.environ, DLI_EMULATOR_SK=BENCH_SK, DLI_EMULATOR_TOKEN=BENCH_TOKEN)
        cmd = [PYTHON, "-m", "dli_magic.emulator", "--host", "127.0.0.1", "--port", "0", "--ak", BENCH_AK,
               "--speed", str(self.speed)]
        if self.jobs:
            cmd += ["--jobs", str(self.jobs)]
        if self.latency_ms:
            cmd += ["--latency-ms", str(self.latency_ms)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.proc.kill()
            raise RuntimeError(f"emulator did not start: {line!r} {self.proc.stderr.read()[:500]}")
        self.url = line.strip().rsplit(" ", 1)[-1]
        if self.jobs:
            self.job_ids = list(range(FIRST_JOB_ID, FIRST_JOB_ID + self.jobs))
            for job_id in (self.job_ids[0], self.job_ids[-1]):  # the seeded set is where we expect it
                job = self.admin.get(f"{self.url}/_emulator/jobs/{job_id}").json()
                if job.get("status") != "job_init":
                    self.stop()
                    raise RuntimeError(f"emulator --jobs {self.jobs}: job {job_id} is {job!r}")
        return self

    def stop(self) -> None:
        self.admin.close()
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            for stream in (self.proc.stdout, self.proc.stderr):
                stream.close()
            self.proc = None

    def __enter__(self) -> "EmulatorProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- admin routes (no auth, never faulted, never delayed)

    def set_faults(self, faults: dict[str, Any] | None) -> None:
        self.admin.put(f"{self.url}/_emulator/faults", json=faults or {}).raise_for_status()

    def latency(self, on: bool) -> None:
        """Switch the added latency off (untimed resets) or back to ``latency_ms``."""
        self.set_faults({"latency_ms": self.latency_ms} if on and self.latency_ms else None)

    def advance_clock(self, seconds: float) -> None:
        self.admin.post(f"{self.url}/_emulator/clock", json={"advance": seconds}).raise_for_status()

    def request_log(self) -> list[dict[str, Any]]:
        response = self.admin.get(f"{self.url}/_emulator/requests")
        response.raise_for_status()
        return response.json()

    def clear_request_log(self) -> None:
        self.admin.delete(f"{self.url}/_emulator/requests").raise_for_status()

    def api_url(self, path: str) -> str:
        return f"{self.url}/v1.0/{self.project_id}/streaming/{path}"

    def client_settings(self, **extra: Any) -> dict[str, Any]:
        return dict(endpoint=self.url, project_id=self.project_id, ak=BENCH_AK, sk=BENCH_SK, **extra)

    def client_env(self) -> dict[str, str]:
        return {"DLI_ENDPOINT": self.url, "DLI_PROJECT_ID": self.project_id, "DLI_AK": BENCH_AK, "DLI_SK": BENCH_SK}


def arrival(entry: dict[str, Any]) -> float:
    """When a logged request arrived, on the real clock (``wall_time``; ``time`` in older emulators)."""
    return entry.get("wall_time", entry["time"])


def is_list_call(entry: dict[str, Any]) -> bool:
    """``GET jobs`` (a list page, filtered or not)."""
    return entry["method"] == "GET" and entry["path"].endswith("/streaming/jobs")


def is_detail_call(entry: dict[str, Any]) -> bool:
    """``GET jobs/{id}`` (one job's detail)."""
    head, _, last = entry["path"].rpartition("/")
    return entry["method"] == "GET" and head.endswith("/streaming/jobs") and last.isdigit()


def is_read_call(entry: dict[str, Any]) -> bool:
    return is_list_call(entry) or is_detail_call(entry)


def is_run_call(entry: dict[str, Any]) -> bool:
    return entry["method"] == "POST" and entry["path"].endswith("/streaming/jobs/run")


def chunks(ids: list[int], size: int) -> list[list[int]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]
