"""Facts of the DLI Flink job API (docs/dli-api.md), in one place for the client and the emulator."""

from __future__ import annotations

from dataclasses import dataclass

API_PREFIX = "/v1.0/{project_id}/streaming"

# The 14 documented job statuses (dli-api.md section 1).
JOB_STATUSES: tuple[str, ...] = (
    "job_init",
    "job_submitting",
    "job_submit_fail",
    "job_running",
    "job_running_exception",
    "job_downloading",
    "job_idle",
    "job_canceling",
    "job_cancel_success",
    "job_cancel_fail",
    "job_savepointing",
    "job_arrearage_stopped",
    "job_arrearage_recovering",
    "job_finish",
)

# Flink's own job states, as execute-graph reports them (`execute_graph.state`, dli-api.md section 6).
FLINK_JOB_STATES: tuple[str, ...] = (
    "INITIALIZING",
    "CREATED",
    "RUNNING",
    "FAILING",
    "FAILED",
    "CANCELLING",
    "CANCELED",
    "FINISHED",
    "RESTARTING",
    "SUSPENDED",
    "RECONCILING",
)

# A job in one of these has not yet settled after a run request: `--wait` polls until it leaves them.
PENDING_RUN_STATUSES: frozenset[str] = frozenset({"job_init", "job_submitting"})

# A job in one of these is busy stopping: `%dli_stop --wait` polls until it leaves them.
PENDING_STOP_STATUSES: frozenset[str] = frozenset({"job_savepointing", "job_canceling"})


# Statuses from which a run request is accepted (a job that is not running or on its way).
RUNNABLE_STATUSES: frozenset[str] = frozenset(
    {
        "job_init",
        "job_submit_fail",
        "job_running_exception",
        "job_cancel_success",
        "job_cancel_fail",
        "job_finish",
        "job_idle",
        "job_arrearage_stopped",
    }
)

# Statuses a stop request is accepted from (a job that is running or on its way there).
STOPPABLE_STATUSES: frozenset[str] = frozenset(
    {
        "job_submitting",
        "job_running",
        "job_running_exception",
        "job_downloading",
        "job_idle",
        "job_arrearage_recovering",
    }
)

# A restart (stop with savepoint, run from it) is for jobs that run, healthy or crash-looping.
RESTARTABLE_STATUSES: frozenset[str] = frozenset({"job_running", "job_running_exception"})

@dataclass(frozen=True)
class Action:
    """A batch operation of the API: its path, its one savepoint option and how its jobs settle."""

    name: str  # "run" / "stop": the path `jobs/{name}` and the verb users see
    option: str  # the body's boolean: resume_savepoint / trigger_savepoint
    option_flag: str  # the magic's flag for it
    option_label: str  # the panel's checkbox
    pending: frozenset[str]  # `--wait` polls while a job is in one of these
    failed: frozenset[str]  # after waiting, a job here did not do what was asked (--strict)
    # The statuses an accepted job passes through, then those it usually ends in: the list API is
    # read filtered by these while waiting (a job found in none of them is read on its own).
    passes_through: tuple[str, ...] = ()
    settles_in: tuple[str, ...] = ()
    # The statuses the request is accepted from: a job still in one right after the request may
    # not have been picked up yet (the service queues requests), so it is read once more.
    accepted_from: frozenset[str] = frozenset()


# The one table of batch actions (client, api, magics and panel read it).
ACTIONS: dict[str, Action] = {
    "run": Action(
        "run", "resume_savepoint", "--resume-savepoint", "Resume from savepoint",
        PENDING_RUN_STATUSES, frozenset({"job_submit_fail", "job_running_exception"}),
        ("job_submitting",),
        ("job_running", "job_submit_fail"),
        RUNNABLE_STATUSES,
    ),
    "stop": Action(
        "stop", "trigger_savepoint", "--trigger-savepoint", "Trigger savepoint",
        # A job still running after a stop was not stopped (e.g. its savepoint failed).
        PENDING_STOP_STATUSES, frozenset({"job_cancel_fail", "job_running", "job_running_exception"}),
        ("job_savepointing", "job_canceling"),
        ("job_cancel_success", "job_running"),  # a failed savepoint leaves a job running
        STOPPABLE_STATUSES,
    ),
}


def action(name: object) -> Action:
    """The ``Action`` called ``name``; ValueError for anything else."""
    try:
        return ACTIONS[name]  # type: ignore[index]
    except (KeyError, TypeError):
        raise ValueError(f"action must be one of {', '.join(map(repr, ACTIONS))}, not {name!r}") from None


JOB_TYPES: tuple[str, ...] = (
    "flink_sql_job",
    "flink_jar_job",
    "flink_opensource_sql_job",
    "flink_edge_sql_job",
    "flink_sql_edge_job",
)

# The API gateway's default throttling threshold per API (APIGW.0308 beyond it).
GATEWAY_CALLS_PER_SECOND = 200

LIST_PAGE_MAX = 100  # `limit` maximum of the list API
LIST_PAGE_DEFAULT = 10
JOB_NAME_MAX = 57
INT64_MAX = 2**63 - 1

# Error codes (dli-api.md section 4): the HTTP status each comes with, what it means, and which
# kind of failure it is for a client: "rejected" (the request was refused as a whole), "auth",
# "not_found", "throttled" or "service" (the service failed).
ERROR_CODES: dict[str, tuple[int, str, str]] = {
    "DLI.0001": (400, "parameter check error", "rejected"),
    "DLI.0002": (400, "object does not exist", "not_found"),
    "DLI.0003": (400, "permission check failed", "auth"),
    "DLI.0007": (400, "operation not supported", "rejected"),
    "DLI.0009": (400, "system restriction", "rejected"),
    "DLI.0012": (400, "resource unavailable", "rejected"),
    "DLI.0013": (401, "user authentication error", "auth"),
    "DLI.0014": (401, "service authentication error", "auth"),
    "DLI.0015": (400, "token parsing error", "auth"),
    "DLI.0023": (404, "no related resources found", "not_found"),
    "DLI.0999": (400, "server-side error", "service"),
    "DLI.1028": (400, "quota insufficient", "rejected"),
    "DLI.16001": (400, "Flink job not found", "not_found"),
    "DLI.13024": (400, "no job-running queue selected", "rejected"),
    "APIGW.0101": (404, "API does not exist", "not_found"),
    "APIGW.0201": (400, "request error", "rejected"),
    "APIGW.0301": (401, "incorrect token or signature", "auth"),
    "APIGW.0302": (403, "not authorised", "auth"),
    "APIGW.0303": (401, "app authentication failed or clock skew", "auth"),
    "APIGW.0308": (429, "throttled", "throttled"),
}
THROTTLED_CODE = "APIGW.0308"
JOB_NOT_FOUND_CODE = "DLI.16001"
API_NOT_FOUND_CODE = "APIGW.0101"
# The gateway's "API does not exist", as both gateway generations spell it.
API_NOT_FOUND_CODES = (API_NOT_FOUND_CODE, "APIG.0101")


def error_kind(status: int, code: str | None) -> str:
    """The kind of a failed answer. Throttling and refused credentials go by the HTTP status; then a
    documented code (the gateway writes ``APIG.`` for ``APIGW.`` in live messages) that names a
    missing object, credentials or throttling; then 404 and 5xx; then the code's own kind (a 400
    ``DLI.0999`` is the service failing)."""
    if status == 429:
        return "throttled"
    if status in (401, 403):
        return "auth"
    normalized = ("APIGW." + code[5:] if code.startswith("APIG.") else code) if code else None
    kind = ERROR_CODES[normalized][2] if normalized in ERROR_CODES else None
    if kind in ("not_found", "auth", "throttled"):
        return kind
    if status == 404:
        return "not_found"
    if status >= 500:
        return "service"
    return kind or "rejected"


# The official SDK's environment variables, honoured as fallbacks.
SDK_ENV_AK = "HUAWEICLOUD_SDK_AK"
SDK_ENV_SK = "HUAWEICLOUD_SDK_SK"
SDK_ENV_PROJECT_ID = "HUAWEICLOUD_SDK_PROJECT_ID"

REQUEST_ID_HEADER = "X-Request-Id"
SIGNATURE_MAX_SKEW_SECONDS = 15 * 60


def parse_is_success(value: object) -> bool | None:
    """``True``/``False`` for a JSON bool or the strings "true"/"false" in any case; None otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    return None
