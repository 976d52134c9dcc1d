"""Section 2, one call: run 4 jobs, five contenders interleaved, AK/SK signing for all.

- raw: ``requests.Session().post`` of the same body with headers from the same signer (a script's floor);
- client: ``DliClient.run_jobs`` with a warm client (what a script uses);
- api: ``dli_magic.run_jobs(..., client=client)`` (the same one request, then the DataFrame and a history record);
- magic: ``%dli_run`` in a real InteractiveShell (settings from the environment, session client);
- sdk: the official SDK's ``batch_run_flink_jobs``.

Each contender gets its own 4 job ids, runnable every time: between repetitions (untimed) the jobs
are stopped and the emulator clock advanced past the cancel (speed 1000: 1 ms).
The project holds 100 jobs (one list page), a realistic small project.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Callable

import requests

from .common import BENCH_AK, BENCH_SK, EmulatorProcess, Row, chunks, median, ms, signed_headers, timed

SECTION = "2 one call"
IDS_PER_CALL = 4
CONTENDERS = ("raw", "client", "api", "magic", "sdk")


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


ACCEPTED: dict[str, Callable[[Any], list[bool]]] = {
    "raw": lambda items: [item["is_success"] == "true" for item in items],
    "client": lambda result: [o.is_success for o in result.outcomes],
    "api": lambda frame: list(frame["is_success"]),
    "magic": lambda frame: list(frame["is_success"]),
    "sdk": lambda response: [item.is_success == "true" for item in response.body],
}


def _contenders(emu: EmulatorProcess, shell: Any, client: Any) -> dict[str, Callable[[list[int]], Any]]:
    import dli_magic
    from huaweicloudsdkdli.v1 import BatchRunFlinkJobsRequest, BatchRunFlinkJobsRequestBody

    session = requests.Session()
    url = emu.api_url("jobs/run")
    sdk = _sdk_client(emu)

    # Each contender returns what its surface gives a user; the check that all 4 jobs were accepted
    # reads that answer after the clock stopped (ACCEPTED), so no contender is charged for it.
    def raw(ids: list[int]) -> list[dict]:
        body = json.dumps({"job_ids": ids, "resume_savepoint": False}, separators=(",", ":")).encode()
        response = session.post(url, data=body, headers=signed_headers("POST", url, body))
        response.raise_for_status()
        return response.json()

    def via_client(ids: list[int]):
        return client.run_jobs(ids)

    def via_api(ids: list[int]):
        return dli_magic.run_jobs(ids, client=client)

    def via_magic(ids: list[int]):
        return shell.run_line_magic("dli_run", " ".join(map(str, ids)))

    def via_sdk(ids: list[int]):
        body = BatchRunFlinkJobsRequestBody(job_ids=ids, resume_savepoint=False)
        return sdk.batch_run_flink_jobs(BatchRunFlinkJobsRequest(body=body))

    return {"raw": raw, "client": via_client, "api": via_api, "magic": via_magic, "sdk": via_sdk}


def run(quick: bool) -> list[Row]:
    reps = 8 if quick else 300
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="dli-bench-call-") as tmp, EmulatorProcess(jobs=100) as emu:
        from IPython.core.interactiveshell import InteractiveShell

        import dli_magic
        from dli_magic import history
        from .common import bench_env

        # The magic reads its settings from the environment, as a user's notebook would.
        os.environ.clear()
        os.environ.update(bench_env(tmp))
        os.environ.update(emu.client_env())
        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "dli_magic")
        client = dli_magic.DliClient(**emu.client_settings())
        reset_client = dli_magic.DliClient(**emu.client_settings())
        try:
            groups = dict(zip(CONTENDERS, chunks(emu.job_ids[: IDS_PER_CALL * len(CONTENDERS)], IDS_PER_CALL)))
            calls = _contenders(emu, shell, client)
            every_id = [i for ids in groups.values() for i in ids]
            times: dict[str, list[float]] = {name: [] for name in CONTENDERS}
            bad: list[str] = []
            for rep in range(reps + 2):  # the first two warm connections and caches, untimed
                order = CONTENDERS[rep % len(CONTENDERS) :] + CONTENDERS[: rep % len(CONTENDERS)]
                for name in order:
                    elapsed, answer = timed(lambda: calls[name](groups[name]))
                    accepted = ACCEPTED[name](answer)
                    # The api and magic contenders record history on a writer thread after they
                    # return; wait for it (untimed) so it never lands in the next contender's time.
                    history.flush()
                    if accepted != [True] * IDS_PER_CALL:
                        bad.append(f"{name}: {accepted}")
                    if rep >= 2:
                        times[name].append(elapsed)
                reset_client.stop_jobs(every_id)
                emu.advance_clock(0.05)  # past job_canceling: every job runnable again
            stages = _api_stages(client, groups["api"], reset_client, emu, max(3, reps // 3))
        finally:
            client.close()
            reset_client.close()
            shell.run_line_magic("unload_ext", "dli_magic")
            os.environ.clear()
            os.environ.update(saved)

    med = {name: median(values) for name, values in times.items()}
    rows = [Row(SECTION, f"{name}: median of {reps}", ms(med[name]), "ms") for name in CONTENDERS]
    r = lambda a, b: med[a] / med[b]  # noqa: E731
    rows += [
        Row(SECTION, "DliClient.run_jobs / raw post", r("client", "raw"), "x", "<= 1.3x", r("client", "raw") <= 1.3),
        Row(SECTION, "%dli_run (DataFrame) / raw post", r("magic", "raw"), "x", "<= 2x", r("magic", "raw") <= 2.0),
        Row(SECTION, "dli_magic.run_jobs (DataFrame) / raw post", r("api", "raw"), "x", "<= 1.3x", r("api", "raw") <= 1.3),
        Row(SECTION, "official SDK / DliClient.run_jobs", r("sdk", "client"), "x", "> 1x", r("sdk", "client") > 1),
        Row(SECTION, "official SDK / dli_magic.run_jobs", r("sdk", "api"), "x", "> 1x", r("sdk", "api") > 1),
        Row(SECTION, "official SDK / %dli_run", r("sdk", "magic"), "x", "> 1x", r("sdk", "magic") > 1),
        Row(SECTION, "every call accepted all 4 jobs", "yes" if not bad else f"no: {bad[:3]}", "", "yes", not bad),
    ]
    rows += [Row(SECTION, f"where dli_magic.run_jobs spends it: {name}", ms(value), "ms") for name, value in stages.items()]
    return rows


def _api_stages(client: Any, ids: list[int], reset_client: Any, emu: EmulatorProcess, reps: int) -> dict[str, float]:
    """The steps of one ``dli_magic.run_jobs`` timed one by one (what a miss above is made of)."""
    from dli_magic import history
    from dli_magic.results import outcomes_frame
    from dli_magic.waiting import list_statuses

    times: dict[str, list[float]] = {"run call": [], "listing pass (only when a name is unknown)": [],
                                     "DataFrame": [], "history record (the call's share)": [],
                                     "history write (writer thread, after the call returned)": []}
    for _ in range(reps):
        reset_client.stop_jobs(ids)
        emu.advance_clock(0.05)
        elapsed, result = timed(lambda: client.run_jobs(ids))
        times["run call"].append(elapsed)
        times["listing pass (only when a name is unknown)"].append(timed(lambda: list_statuses(client, ids))[0])
        elapsed, frame = timed(lambda: outcomes_frame(result.outcomes, attrs=result.attrs()))
        times["DataFrame"].append(elapsed)
        record = lambda: history.record_outcomes(result.outcomes, frame.attrs, settings=client.settings)  # noqa: E731
        times["history record (the call's share)"].append(timed(record)[0])
        history.flush()
        times["history write (writer thread, after the call returned)"].append(timed(lambda: (record(), history.flush()))[0])
    return {name: median(values) for name, values in times.items()}
