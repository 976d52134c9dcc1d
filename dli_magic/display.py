"""Text and HTML views of a wait in progress, and the terminal's single `\\r` status line.

Plain Python (no IPython, no pandas): the magic puts ``StatusView`` into a notebook display that it
updates in place; a terminal or a plain script gets ``TerminalStatus``.
"""

from __future__ import annotations

import html
import sys
from typing import IO, Any

from .waiting import WaitState

_MAX_ROWS_SHOWN = 20  # the live table stays small; the result frame has every row


def status_line(action: str, state: WaitState) -> str:
    """One line: "run: waiting for 2 of 3 jobs (job_running 1, job_submitting 2) 4.1 s — Ctrl-C stops waiting"."""
    counts = ", ".join(f"{status} {count}" for status, count in sorted(state.counts().items()))
    total = len(state.job_ids)
    if state.phase == "stability" and state.watched:
        head = (f"{action}: watching {len(state.watched)} running job{'s' if len(state.watched) != 1 else ''} "
                f"for the {state.stable_seconds:g} s stability window, {state.stable_left or 0:.0f} s left")
        tail = " — Ctrl-C stops watching (jobs keep running)"
    elif state.phase == "final check" and state.watched:
        head = f"{action}: reading Flink's state of {len(state.watched)} job{'s' if len(state.watched) != 1 else ''}"
        tail = ""
    elif state.pending:
        head = f"{action}: waiting for {len(state.pending)} of {total} job{'s' if total != 1 else ''}"
        tail = " — Ctrl-C stops waiting (jobs keep running)"
    else:
        head = f"{action}: {total} job{'s' if total != 1 else ''} settled"
        tail = ""
    if state.healthy and state.phase == "done":
        verdicts = list(state.healthy.values())
        tail = (f" — healthy {verdicts.count(True)}, unhealthy {verdicts.count(False)}"
                + (f", unknown {verdicts.count(None)}" if None in verdicts else ""))
    if state.interrupted:
        tail = " — interrupted: stopped waiting, jobs were not cancelled"
    elif state.timed_out:
        tail = f" — wait timeout ({state.timeout:g} s) reached"
    return f"{head} ({counts}) {state.elapsed:.1f} s{tail}"


class StatusView:
    """A live status object for ``display(..., display_id=True)``: HTML table + text/plain line."""

    def __init__(self, action: str, state: WaitState) -> None:
        self.action = action
        self.state = state

    def __repr__(self) -> str:
        return status_line(self.action, self.state)

    def _repr_html_(self) -> str:
        state = self.state
        rows = []
        for job_id in state.job_ids[:_MAX_ROWS_SHOWN]:
            status = state.label(job_id)
            verdict = state.healthy.get(job_id, "")
            marker = ("⏳ " if job_id in state.pending or job_id in state.watched
                      else {True: "✓ ", False: "✗ ", None: "? "}.get(verdict, ""))
            name = state.names.get(job_id) or ""
            rows.append(
                f"<tr><td>{job_id}</td><td>{html.escape(str(name))}</td>"
                f"<td>{marker}{html.escape(status)}</td></tr>"
            )
        more = len(state.job_ids) - _MAX_ROWS_SHOWN
        if more > 0:
            rows.append(f"<tr><td colspan='3'>… {more} more</td></tr>")
        return (
            f"<div><b>{html.escape(status_line(self.action, state))}</b>"
            "<table><thead><tr><th>job_id</th><th>name</th><th>status</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>"
        )


class TerminalStatus:
    """One status line rewritten in place with ``\\r``; ``finish()`` ends it with a newline."""

    def __init__(self, action: str, stream: IO[str] | None = None) -> None:
        self.action = action
        self.stream = stream if stream is not None else sys.stderr
        self._width = 0

    def __call__(self, state: WaitState) -> None:
        line = status_line(self.action, state)
        padding = " " * max(0, self._width - len(line))  # wipe the rest of a longer previous line
        self._width = len(line)
        self.stream.write("\r" + line + padding)
        self.stream.flush()

    def finish(self) -> None:
        if self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0


def format_request(request: dict[str, Any]) -> str:
    """A dry run's planned request (already redacted by the client) as readable text."""
    import json

    calls = request.get("requests") or 1
    head = "Dry run: nothing was sent. The request would be" + (
        f" (the first of {calls} chunk requests):" if calls > 1 else ":"
    )
    lines = [head, f"{request.get('method')} {request.get('url')}"]
    for name, value in (request.get("headers") or {}).items():
        lines.append(f"{name}: {value}")
    if request.get("json") is not None:
        lines.append("")
        lines.append(json.dumps(request["json"], sort_keys=True))
    if request.get("note"):
        lines.append(f"({request['note']})")
    return "\n".join(lines)
