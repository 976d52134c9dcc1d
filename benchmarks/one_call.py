"""Section 2, one call: run 4 jobs with AK/SK signing, six contenders interleaved, at 30 ms per call.

The emulator adds 30 ms to every DLI answer (``--latency-ms 30``, a near cloud region):
- raw: ``requests.Session().post`` of the same body, headers from the same signer (a script's floor);
- client: ``DliClient.run_jobs`` on a warm client from ``dli_magic.connect()`` (what a script uses);
- api: ``dli_magic.run_jobs(..., client=client)`` (the request, then the DataFrame and the history record);
- api_nohistory: the same on a client with the ``history=False`` setting (splits the DataFrame from the
  history record in what api adds; information only);
- magic: ``%dli_run`` in a real InteractiveShell (settings from the environment, its session client);
- sdk: the official SDK's ``batch_run_flink_jobs`` (no DataFrame, no history: reported, no target).

Then the same five again on bare loopback (latency off), as information.

Each contender gets its own 4 job ids, runnable every time: between repetitions (untimed, latency off)
the jobs are stopped and the emulator clock advanced past the cancel (speed 1000: 1 ms). The project
holds 100 jobs (one list page), a realistic small project. The first two repetitions warm connections
and the client's job-names cache and are not timed.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Callable

import requests

from .common import (
    BENCH_AK, BENCH_SK, ONE_CALL_LATENCY_MS, EmulatorProcess, Row, bench_env, chunks, is_read_call, is_run_call,
    median, ms, rotated, run_body, signed_headers, timed,
)

SECTION = "2 one call"
IDS_PER_CALL = 4
WARMUP = 2
CONTENDERS = ("raw", "client", "api", "api_nohistory", "magic", "sdk")
LABELS = {
    "raw": "raw requests.Session().post (signed)",
    "client": "DliClient.run_jobs",
    "api": "dli_magic.run_jobs (DataFrame + history)",
    "api_nohistory": "dli_magic.run_jobs, history=False (DataFrame only)",
    "magic": "%dli_run (DataFrame + history)",
    "sdk": "official SDK batch_run_flink_jobs",
}


def _sdk_client(emu: EmulatorProcess):
    from huaweicloudsdkcore.auth.credentials import BasicCredentials
    from huaweicloudsdkcore.http.http_config import HttpConfig
    from huaweicloudsdkdli.v1 import DliClient as SdkClient

    config = HttpConfig.get_default_config()
    config.ignore_ssl_verification = True  # plain http on loopback: nothing to verify
    config.retry_times = 0
    return (
        SdkClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(BENCH_AK, BENCH_SK, emu.project_id))
        .with_endpoint(emu.url)
        .build()
    )


# What each surface answers, read after the clock stopped: were all 4 jobs accepted?
ACCEPTED: dict[str, Callable[[Any], list[bool]]] = {
    "raw": lambda items: [item["is_success"] == "true" for item in items],
    "client": lambda result: [o.is_success for o in result.outcomes],
    "api": lambda frame: list(frame["is_success"]),
    "api_nohistory": lambda frame: list(frame["is_success"]),
    "magic": lambda frame: list(frame["is_success"]),
    "sdk": lambda response: [item.is_success == "true" for item in response.body],
}


def _contenders(emu: EmulatorProcess, shell: Any, client: Any, quiet_client: Any
                ) -> dict[str, Callable[[list[int]], Any]]:
    import dli_magic
    from huaweicloudsdkdli.v1 import BatchRunFlinkJobsRequest, BatchRunFlinkJobsRequestBody

    session = requests.Session()
    url = emu.api_url("jobs/run")
    sdk = _sdk_client(emu)

    def raw(ids: list[int]) -> list[dict]:
        body = run_body(ids)
        response = session.post(url, data=body, headers=signed_headers("POST", url, body))
        response.raise_for_status()
        return response.json()

    def via_client(ids: list[int]):
        return client.run_jobs(ids)

    def via_api(ids: list[int]):
        return dli_magic.run_jobs(ids, client=client)

    def via_api_nohistory(ids: list[int]):
        return dli_magic.run_jobs(ids, client=quiet_client)

    def via_magic(ids: list[int]):
        return shell.run_line_magic("dli_run", " ".join(map(str, ids)))

    def via_sdk(ids: list[int]):
        body = BatchRunFlinkJobsRequestBody(job_ids=ids, resume_savepoint=False)
        return sdk.batch_run_flink_jobs(BatchRunFlinkJobsRequest(body=body))

    return {"raw": raw, "client": via_client, "api": via_api, "api_nohistory": via_api_nohistory,
            "magic": via_magic, "sdk": via_sdk}


def _measure(emu: EmulatorProcess, calls, groups, reset_client, reps: int, latency: bool) -> dict[str, Any]:
    """Median seconds per contender, the calls' request counts, and any call that was not all accepted."""
    every_id = [i for ids in groups.values() for i in ids]
    times: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    bad: list[str] = []
    runs = reads = 0
    emu.latency(latency)
    for rep in range(reps + WARMUP):
        emu.clear_request_log()
        for name in rotated(CONTENDERS, rep):
            elapsed, answer = timed(lambda: calls[name](groups[name]))
            accepted = ACCEPTED[name](answer)
            if accepted != [True] * IDS_PER_CALL:
                bad.append(f"{name}: {accepted}")
            if rep >= WARMUP:
                times[name].append(elapsed)
        if rep >= WARMUP:
            log = emu.request_log()
            runs += sum(map(is_run_call, log))
            reads += sum(map(is_read_call, log))
        # Untimed: every job runnable again, with the latency off for the reset calls.
        emu.latency(False)
        reset_client.stop_jobs(every_id)
        emu.advance_clock(0.05)
        emu.latency(latency)
    emu.latency(False)
    calls_made = reps * len(CONTENDERS)
    return {"median": {n: median(v) for n, v in times.items()}, "bad": bad,
            "runs_per_call": runs / calls_made, "reads_per_call": reads / calls_made}


def run(quick: bool) -> list[Row]:
    reps = 8 if quick else 200
    bare_reps = 8 if quick else 300
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="dli-bench-call-") as tmp, \
            EmulatorProcess(jobs=100, latency_ms=ONE_CALL_LATENCY_MS) as emu:
        from IPython.core.interactiveshell import InteractiveShell

        import dli_magic

        # The magic reads its settings from the environment, as a user's notebook would; the
        # history goes to a temporary file.
        os.environ.clear()
        os.environ.update(bench_env(tmp))
        os.environ.update(emu.client_env())
        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "dli_magic")
        client = dli_magic.connect(**emu.client_settings())
        quiet_client = dli_magic.connect(**emu.client_settings(history=False))
        reset_client = dli_magic.connect(**emu.client_settings())
        try:
            groups = dict(zip(CONTENDERS, chunks(emu.job_ids[: IDS_PER_CALL * len(CONTENDERS)], IDS_PER_CALL)))
            calls = _contenders(emu, shell, client, quiet_client)
            slow = _measure(emu, calls, groups, reset_client, reps, latency=True)
            bare = _measure(emu, calls, groups, reset_client, bare_reps, latency=False)
        finally:
            client.close()
            quiet_client.close()
            reset_client.close()
            shell.run_line_magic("unload_ext", "dli_magic")
            os.environ.clear()
            os.environ.update(saved)

    at = f"{ONE_CALL_LATENCY_MS} ms/call"
    med = slow["median"]
    ratio = lambda a: med[a] / med["raw"]  # noqa: E731
    rows = [Row(SECTION, f"{at}: {LABELS[name]}, median of {reps}", ms(med[name]), "ms") for name in CONTENDERS]
    rows += [
        Row(SECTION, f"{at}: DliClient.run_jobs / raw post", ratio("client"), "x", "client_vs_raw"),
        Row(SECTION, f"{at}: dli_magic.run_jobs / raw post", ratio("api"), "x", "api_vs_raw"),
        Row(SECTION, f"{at}: %dli_run / raw post", ratio("magic"), "x", "magic_vs_raw"),
        Row(SECTION, f"{at}: official SDK / raw post (no DataFrame, no history)", ratio("sdk"), "x"),
        Row(SECTION, f"{at}: DliClient.run_jobs minus raw post (client library)",
            ms(med["client"] - med["raw"]), "ms"),
        Row(SECTION, f"{at}: dli_magic.run_jobs minus DliClient.run_jobs (DataFrame + history record)",
            ms(med["api"] - med["client"]), "ms"),
        Row(SECTION, f"{at}:   of which the history record (run_jobs minus run_jobs with history=False)",
            ms(med["api"] - med["api_nohistory"]), "ms"),
        Row(SECTION, f"{at}:   of which the DataFrame (run_jobs with history=False minus DliClient.run_jobs)",
            ms(med["api_nohistory"] - med["client"]), "ms"),
        Row(SECTION, f"{at}: %dli_run minus dli_magic.run_jobs (magic layer)", ms(med["magic"] - med["api"]), "ms"),
        Row(SECTION, f"{at}: run requests per timed call", slow["runs_per_call"], ""),
        Row(SECTION, f"{at}: read requests (list, detail) per timed call (names already known)",
            slow["reads_per_call"], ""),
    ]
    bmed = bare["median"]
    rows += [Row(SECTION, f"bare loopback: {LABELS[name]}, median of {bare_reps}", ms(bmed[name]), "ms")
             for name in CONTENDERS]
    rows += [Row(SECTION, f"bare loopback: {LABELS[name]} / raw post", bmed[name] / bmed["raw"], "x")
             for name in CONTENDERS if name != "raw"]
    bad = slow["bad"] + bare["bad"]
    rows.append(Row(SECTION, "every call accepted all 4 jobs", "yes" if not bad else f"no: {bad[:3]}", "",
                    "all_accepted"))
    return rows
