"""Job statuses from the list API: one listing pass for names/statuses, and `--wait` polling.

Never one detail call per job: every round pages through the list API (limit = LIST_PAGE_MAX)
and stops paging as soon as every wanted id was seen, so N jobs cost about ceil(N/100) requests
per round when the project holds only those jobs. Ctrl-C only stops *waiting*; jobs keep going.
Plain Python: the caller passes ``on_update`` to draw progress (the magic, the panel, a terminal).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Iterable

from .contract import LIST_PAGE_MAX

UNKNOWN = "unknown"  # no listing yet (or it failed): nothing is known about the job's status
NOT_LISTED = "not listed"  # a listing round happened and the job was not in it


@dataclass
class WaitState:
    """What is known about the jobs of one call while (and after) waiting."""

    job_ids: list[int]
    statuses: dict[int, str | None] = field(default_factory=dict)
    names: dict[int, str | None] = field(default_factory=dict)
    pending: set[int] = field(default_factory=set)  # still in a pending status, being waited on
    missing: set[int] = field(default_factory=set)  # not found in the last listing
    elapsed: float = 0.0
    rounds: int = 0  # listing passes, the first (name/status fill) included
    timeout: float | None = None
    timed_out: bool = False
    interrupted: bool = False

    @property
    def done(self) -> bool:
        return not self.pending

    def label(self, job_id: int) -> str:
        """What to show for a job: its status; "not listed" when a listing round happened and did not
        have it (an unknown id the service refused, a deleted job); "unknown" before any listing, or
        when the listing showed the job without a status."""
        status = self.statuses.get(job_id)
        if status:
            return status
        if self.rounds and (job_id not in self.statuses or job_id in self.missing):
            return NOT_LISTED
        return UNKNOWN

    def counts(self) -> dict[str, int]:
        result: dict[str, int] = {}
        for job_id in self.job_ids:
            label = self.label(job_id)
            result[label] = result.get(label, 0) + 1
        return result


def list_statuses(client: Any, job_ids: Iterable[int]) -> tuple[dict[int, str | None], dict[int, str | None]]:
    """One pass over the project's jobs: (statuses, names) of the wanted ids that exist."""
    wanted = set(job_ids)
    statuses: dict[int, str | None] = {}
    names: dict[int, str | None] = {}
    if not wanted:
        return statuses, names
    for job in client.iter_jobs(page_size=LIST_PAGE_MAX):
        if job.job_id in wanted and job.job_id not in statuses:
            statuses[job.job_id] = job.status
            names[job.job_id] = job.name
            if len(statuses) == len(wanted):
                break  # every id seen: no further page requests
    return statuses, names


def wait_for_jobs(
    client: Any,
    state: WaitState,
    pending_statuses: Collection[str],
    *,
    timeout: float,
    poll_interval: float,
    on_update: Callable[[WaitState], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WaitState:
    """Poll until no job in ``state.pending`` is in ``pending_statuses``, the timeout, or Ctrl-C.

    ``state`` comes from the first listing pass (statuses filled, ``pending`` = the ids to watch);
    it is updated in place and returned. A job that disappears from the list stops being waited on
    and its status becomes unknown (None).
    """
    start = clock()
    state.timeout = timeout
    try:
        if on_update:
            on_update(state)
        while state.pending:
            remaining = timeout - (clock() - start)
            if remaining <= 0:
                state.timed_out = True
                break
            sleep(min(poll_interval, remaining))
            statuses, names = list_statuses(client, state.pending)
            state.rounds += 1
            for job_id in list(state.pending):
                if job_id not in statuses:
                    state.statuses[job_id] = None
                    state.missing.add(job_id)
                    state.pending.discard(job_id)
                    continue
                state.statuses[job_id] = statuses[job_id]
                state.names[job_id] = names[job_id] or state.names.get(job_id)
                if statuses[job_id] not in pending_statuses:
                    state.pending.discard(job_id)
            state.elapsed = clock() - start
            if on_update:
                on_update(state)
    except KeyboardInterrupt:
        # Ctrl-C means "stop waiting": return what is known, never cancel the jobs.
        state.interrupted = True
    state.elapsed = clock() - start
    if on_update and (state.timed_out or state.interrupted):
        try:  # the live line must end saying why waiting stopped
            on_update(state)
        except KeyboardInterrupt:
            state.interrupted = True
    return state
