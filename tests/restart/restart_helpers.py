"""Helpers of the restart tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import _thread
import threading


def running(emu, name="stream", **fields):
    """A job seeded job_running (or the ``status`` given; it started 10 s ago)."""
    return emu.create_job(name=name, **{"status": "job_running", "start_time": emu.now_ms() - 10_000, **fields})


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


class Enqueued:
    """A ``requests`` adapter for ``client.session.mount``: it answers the POSTs whose path ends with
    ``path`` (a stop, a run, or a savepoint trigger) at once, as the real service does once it has queued
    them ("delivered successfully"), and forwards each to the emulator ``delay`` seconds later
    (``delay=None``: never), so the reads right after the answer still show the jobs untouched."""

    def __init__(self, delay: float | None, path: str = "/jobs/stop"):
        import requests.adapters

        outer = self

        class Adapter(requests.adapters.HTTPAdapter):
            def send(self, request, **kwargs):
                if request.method == "POST" and request.path_url.split("?")[0].endswith(outer.path):
                    return outer._answer(self, request, kwargs)
                return super().send(request, **kwargs)

        self.adapter = Adapter(max_retries=0)
        self.delay = delay
        self.path = path
        self.answered = 0
        self.forwarded: list[int] = []  # HTTP statuses of the forwarded requests
        self._timers: list[threading.Timer] = []

    def mount(self, client) -> "Enqueued":
        client.session.mount(client.endpoint, self.adapter)
        return self

    def _answer(self, adapter, request, kwargs):
        import json

        import requests
        from requests.structures import CaseInsensitiveDict

        from dli_magic.emulator.handlers import RUN_ACCEPTED, SAVEPOINT_OK, STOP_ACCEPTED

        self.answered += 1
        if self.delay is not None:
            timer = threading.Timer(self.delay, self._forward, (adapter, request.copy(), kwargs))
            timer.daemon = True
            timer.start()
            self._timers.append(timer)
        if self.path.endswith(("/jobs/stop", "/jobs/run")):
            accepted = STOP_ACCEPTED if self.path.endswith("/jobs/stop") else RUN_ACCEPTED
            body = [{"is_success": True, "message": accepted}] * len(json.loads(request.body)["job_ids"])
        else:
            body = {"is_success": True, "message": SAVEPOINT_OK}
        response = requests.Response()
        response.status_code = 200
        response.reason = "OK"
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        response._content = json.dumps(body).encode()
        response.encoding = "utf-8"
        response.url = request.url
        response.request = request
        response.connection = adapter
        return response

    def _forward(self, adapter, request, kwargs):
        import requests.adapters

        response = requests.adapters.HTTPAdapter.send(adapter, request, **kwargs)
        self.forwarded.append(response.status_code)

    def join(self) -> None:
        """Until every forwarded request was answered by the emulator."""
        for timer in self._timers:
            timer.join()


class Unreachable:
    """A ``requests`` adapter for ``client.session.mount``: the POSTs whose path ends with ``path``
    and that are for ``job_id`` (in the body's job_ids, or the path) go to ``port`` on the loopback,
    where nothing listens: the connection is refused and nothing reaches the emulator. Every other
    request goes to the emulator."""

    def __init__(self, port: int, job_id: int, path: str = "/jobs/stop"):
        import requests.adapters

        outer = self

        class Adapter(requests.adapters.HTTPAdapter):
            def send(self, request, **kwargs):
                if outer._matches(request):
                    outer.refused += 1
                    request = request.copy()
                    request.url = request.url.replace(request.url.split("/")[2], f"127.0.0.1:{outer.port}", 1)
                return super().send(request, **kwargs)

        self.adapter = Adapter(max_retries=0)
        self.port, self.job_id, self.path = port, job_id, path
        self.refused = 0

    def _matches(self, request) -> bool:
        import json

        if request.method != "POST" or not request.path_url.split("?")[0].endswith(self.path):
            return False
        return (f"/jobs/{self.job_id}/" in request.path_url
                or self.job_id in json.loads(request.body).get("job_ids", []))

    def mount(self, client) -> "Unreachable":
        client.session.mount(client.endpoint, self.adapter)
        return self
