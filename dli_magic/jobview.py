"""Everything about one job in one view: ``%dli_job ID`` / ``dli_magic.job(ID)``.

The job's detail and Flink's execution state are read concurrently (one round trip). The view is
HTML in a notebook (the SQL collapsed), plain text in a terminal, and a plain object in code
(``view.job``, ``view.graph``, ``view.to_series()``). No IPython and no pandas at import.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from .batch import ReadPool
from .errors import DLIError, NotFoundError
from .results import ExecuteGraph, Job


@dataclass(frozen=True)
class JobView:
    """One job: its detail (``job``) and Flink's state (``graph``, None when it could not be read,
    ``graph_error`` says why)."""

    job: Job
    graph: ExecuteGraph | None = None
    graph_error: str | None = None

    def fields(self) -> list[tuple[str, str]]:
        """(label, text) pairs in display order; a value the service did not give shows as "—"."""
        job, config = self.job, self.job.job_config
        status = job.status or "—"
        rows = [
            ("status", status),
            ("status description", job.status_desc or "—"),
            ("type", _text(job.job_type)),
            ("queue", _text(job.queue_name) + (f" ({job.run_mode})" if job.run_mode else "")),
            ("owner", _text(job.user_name)),
            ("created", _time(job.create_time)),
            ("started", _time(job.start_time)),
            ("updated", _time(job.update_time)),
            ("duration", _duration(job.duration)),
            ("restarts", _text(job.restart_times)),
            ("savepoint", (job.savepoint_path or "yes (path not given)") if job.has_savepoint else "none"),
            ("CUs / parallelism", f"{_text(config.get('cu_number'))} / {_text(config.get('parallel_number'))}"),
            ("checkpoints", _checkpoints(config)),
            ("restart on exception", _restart_policy(config)),
            ("OBS bucket", _text(config.get("obs_bucket"))),
        ]
        if self.graph is not None:
            graph = self.graph
            flink = graph.state or "—"
            rows += [
                ("Flink state", flink),
                ("Flink start / end", f"{_time(graph.start_time)} / {_time(graph.end_time) if graph.end_time else '—'}"),
            ]
        else:
            rows.append(("Flink state", f"unknown ({self.graph_error})" if self.graph_error else "—"))
        if job.desc:
            rows.append(("description", job.desc))
        return rows

    def title(self) -> str:
        return f"Job {self.job.job_id} {self.job.name or ''}".rstrip()

    def __repr__(self) -> str:
        width = max(len(label) for label, _ in self.fields())
        lines = [self.title()]
        lines += [f"  {label:<{width}}  {value}" for label, value in self.fields()]
        if self.job.sql_body:
            lines.append(f"  {'SQL':<{width}}  " + self.job.sql_body.replace("\n", "\n  " + " " * (width + 2)))
        return "\n".join(lines)

    __str__ = __repr__

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(label)}</th>"
            f"<td style='text-align:left'>{_html_value(label, value)}</td></tr>"
            for label, value in self.fields()
        )
        sql = ""
        if self.job.sql_body:
            lines = self.job.sql_body.count("\n") + 1
            sql = (
                f"<details><summary>SQL ({lines} line{'s' if lines != 1 else ''})</summary>"
                f"<pre>{html.escape(self.job.sql_body)}</pre></details>"
            )
        return f"<div><b>{html.escape(self.title())}</b><table>{rows}</table>{sql}</div>"

    def to_series(self):
        """The job's fields and Flink's state as a pandas Series (the names of ``Job``/``ExecuteGraph``)."""
        import pandas as pd

        job = self.job
        data: dict[str, Any] = {
            name: getattr(job, name)
            for name in ("job_id", "name", "status", "status_desc", "job_type", "queue_name", "run_mode",
                         "user_name", "restart_times", "has_savepoint", "savepoint_path", "sql_body", "desc")
        }
        for name in ("create_time", "start_time", "update_time"):
            value = getattr(job, name)
            data[name] = pd.Timestamp(value, unit="ms", tz="UTC") if value else pd.NaT
        data["duration"] = pd.Timedelta(milliseconds=job.duration) if job.duration is not None else pd.NaT
        for key in ("cu_number", "parallel_number", "checkpoint_enabled", "checkpoint_interval", "obs_bucket"):
            data[key] = job.job_config.get(key)
        graph = self.graph
        data["flink_state"] = graph.state if graph else None
        data["flink_start_time"] = pd.Timestamp(graph.start_time, unit="ms", tz="UTC") if graph and graph.start_time else pd.NaT
        data["flink_end_time"] = pd.Timestamp(graph.end_time, unit="ms", tz="UTC") if graph and graph.end_time else pd.NaT
        return pd.Series(data, name=job.job_id, dtype=object)


def read_job_view(client: Any, job_id: int) -> JobView:
    """The detail and the execute graph of one job, read concurrently. An unknown job raises
    ``NotFoundError`` (DLI.16001); a failed execute-graph read leaves ``graph`` None with the reason."""
    with ReadPool(max_workers=2, thread_name_prefix="dli-job") as pool:
        detail = pool.submit(client.get_job, job_id)
        graph = pool.submit(client.get_execute_graph, job_id)
        job = detail.result()  # NotFoundError for an unknown id: nothing else to show
        try:
            return JobView(job, graph.result())
        except NotFoundError as exc:  # e.g. a job that never started has no execution graph
            return JobView(job, None, f"no execution graph: {exc.error_msg or exc.message}")
        except DLIError as exc:
            rid = f", request id {exc.request_id}" if exc.request_id else ""
            return JobView(job, None, f"{type(exc).__name__}: {exc.message}{rid}")


def _text(value: Any) -> str:
    return "—" if value is None or value == "" else str(value)


def _time(epoch_ms: int | None) -> str:
    if not epoch_ms:
        return "—"
    return datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(ms: int | None) -> str:
    if ms is None:
        return "—"
    return str(timedelta(seconds=round(ms / 1000)))


def _checkpoints(config: dict) -> str:
    enabled = config.get("checkpoint_enabled")
    if enabled is None:
        return "—"
    if not enabled:
        return "off"
    interval = config.get("checkpoint_interval")
    mode = config.get("checkpoint_mode")
    text = "on" + (f", every {interval} s" if interval else "")
    return text + (f", {mode}" if mode else "")


def _restart_policy(config: dict) -> str:
    enabled = config.get("restart_when_exception")
    if enabled is None:
        return "—"
    if not enabled:
        return "no"
    most = config.get("resume_max_num")
    return "yes" + (f", at most {most} times" if isinstance(most, int) and most >= 0 else "")


_COLOURS = {"job_running": "#1a7f37", "RUNNING": "#1a7f37"}
_ALARM = ("fail", "exception", "FAIL", "RESTARTING")


def _html_value(label: str, value: str) -> str:
    escaped = html.escape(value)
    if label in ("status", "Flink state"):
        colour = _COLOURS.get(value) or ("#cf222e" if any(word in value for word in _ALARM) else None)
        if colour:
            return f"<span style='color:{colour};font-weight:bold'>{escaped}</span>"
    return escaped
