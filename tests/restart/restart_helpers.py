"""Helpers of the restart tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import _thread
import threading


def running(emu, name="stream", **fields):
    """A job seeded job_running (it started 10 s ago)."""
    return emu.create_job(name=name, status="job_running", start_time=emu.now_ms() - 10_000, **fields)


def posts(emu, action=None):
    """The POSTs of the request log (``action``: only those whose path ends with it)."""
    return [r for r in emu.request_log()
            if r["method"] == "POST" and (action is None or r["path"].endswith(action))]


def dli_calls(emu):
    return [r for r in emu.request_log() if "/streaming/" in r["path"]]


class CtrlC:
    """Ctrl-C at a chosen step: ``on_step`` starts a timer (``_thread.interrupt_main``) when a step
    whose label starts with ``step`` begins; ``on_state`` interrupts at the first live update of it."""

    def __init__(self, step: str, delay: float | None = 0.15, on_update: bool = False, phase: str | None = None):
        self.step, self.delay, self.on_update, self.phase = step, delay, on_update, phase
        self.armed = False
        self.fired = False
        self.timers: list[threading.Timer] = []
        self.labels: list[str] = []

    def on_step(self, label: str) -> None:
        self.labels.append(label)
        self.armed = label.startswith(self.step)
        if self.armed and not self.on_update and not self.fired:
            self.fired = True
            timer = threading.Timer(self.delay, _thread.interrupt_main)
            timer.start()
            self.timers.append(timer)

    def on_state(self, state) -> None:
        if self.armed and self.on_update and not self.fired and (self.phase is None or state.phase == self.phase):
            self.fired = True
            _thread.interrupt_main()

    def cancel(self) -> None:
        for timer in self.timers:
            timer.cancel()
