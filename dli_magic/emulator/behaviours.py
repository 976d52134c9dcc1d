"""Per-job behaviours: how a job acts once the service accepts a request for it.

A behaviour is a kind name, or an object ``{"kind": …, "after": s, "every": s, "reason": "…"}``;
times are in seconds at ``--speed 1`` (divided by the speed like every timing), the reason is the
``status_desc`` the job gets. One behaviour per job; none means ``healthy``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

HEALTHY = "healthy"
SUBMIT_FAIL = "submit_fail"  # a run ends in job_submit_fail
CRASH_LOOP = "crash_loop"  # runs, then after `after` s job_running_exception, one restart every `every` s
FAIL = "fail"  # runs, then after `after` s fails (job_running_exception, Flink state FAILED)
SAVEPOINT_FAIL = "savepoint_fail"  # every savepoint fails; a stop with savepoint fails, the job keeps running
RESUME_FAIL = "resume_fail"  # a run resuming from a savepoint does not come back
KINDS = (HEALTHY, SUBMIT_FAIL, CRASH_LOOP, FAIL, SAVEPOINT_FAIL, RESUME_FAIL)

# How a failed resume ends: the status the job lands in.
RESUME_FAIL_ENDS = ("job_submit_fail", "job_running_exception")

DEFAULT_AFTER_S = 10.0
DEFAULT_EVERY_S = 5.0
# Far enough for any test, small enough that a planned time stays a 64-bit integer at any speed.
MAX_SECONDS = 10_000_000.0
MAX_REASON_CHARS = 1000

DEFAULT_REASONS = {
    SUBMIT_FAIL: "Failed to submit the job: the queue has not enough CUs for the job's cu_number.",
    CRASH_LOOP: "Job is running with exception: TaskManager lost (container released); restarting.",
    FAIL: "Job failed: java.lang.OutOfMemoryError: Java heap space (restart strategy exhausted).",
    SAVEPOINT_FAIL: "Failed to trigger the savepoint: access to the OBS bucket was denied. The job keeps running.",
    RESUME_FAIL: "Failed to restore the job from the savepoint {savepoint_path}: the savepoint is damaged.",
}


class BehaviourError(ValueError):
    """A behaviour document that does not follow the format."""


@dataclass(frozen=True)
class Behaviour:
    kind: str = HEALTHY
    after: float = DEFAULT_AFTER_S
    every: float = DEFAULT_EVERY_S
    reason: str = ""
    ends_in: str = RESUME_FAIL_ENDS[0]  # resume_fail only

    def reason_text(self, savepoint_path: str | None = None) -> str:
        """The status_desc; ``{savepoint_path}`` in it is replaced (a plain replace: a reason may hold braces)."""
        text = self.reason or DEFAULT_REASONS.get(self.kind, "")
        return text.replace("{savepoint_path}", savepoint_path or "(none)")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_behaviour(value: Any) -> Behaviour:
    """A Behaviour from a kind name or an object; BehaviourError (a ValueError) names what is wrong."""
    if value is None:
        return Behaviour()
    if isinstance(value, str):
        value = {"kind": value}
    if not isinstance(value, dict):
        raise BehaviourError(f"a behaviour is a kind name or an object, not {json.dumps(value)[:40]}")
    unknown = set(value) - {"kind", "after", "every", "reason", "ends_in"}
    if unknown:
        raise BehaviourError(f"unknown behaviour field(s): {', '.join(sorted(unknown))}")
    kind = value.get("kind", HEALTHY)
    if kind not in KINDS:
        raise BehaviourError(f"behaviour kind must be one of {', '.join(KINDS)}, not {json.dumps(kind)[:40]}")
    fields: dict[str, Any] = {"kind": kind}
    for key, minimum in (("after", 0.0), ("every", 0.001)):
        if key in value:
            number = value[key]
            if isinstance(number, bool) or not isinstance(number, (int, float)) or number != number:
                raise BehaviourError(f"behaviour {key} must be a number of seconds, not {str(number)[:40]}")
            if not minimum <= number <= MAX_SECONDS:
                raise BehaviourError(f"behaviour {key} must be between {minimum:g} and {MAX_SECONDS:g} s, not {number}")
            fields[key] = float(number)
    if "reason" in value:
        reason = value["reason"]
        if not isinstance(reason, str) or len(reason) > MAX_REASON_CHARS:
            raise BehaviourError(f"behaviour reason must be a string of at most {MAX_REASON_CHARS} characters")
        fields["reason"] = reason
    if "ends_in" in value:
        if value["ends_in"] not in RESUME_FAIL_ENDS:
            raise BehaviourError(f"behaviour ends_in must be one of {', '.join(RESUME_FAIL_ENDS)}")
        fields["ends_in"] = value["ends_in"]
    return Behaviour(**fields)


def stored_behaviour(value: Any) -> Behaviour:
    """The behaviour kept in a job's data (written by parse_behaviour; anything else is healthy)."""
    try:
        return parse_behaviour(value)
    except BehaviourError:
        return Behaviour()
