"""``Emulator``: the emulator app served by uvicorn in a daemon thread (tests, notebooks, the CLI)."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import sys
import threading
from typing import Any

import uvicorn

from .app import build_app
from .core import EmulatorCore

_START_TIMEOUT = 10.0
# The settler looks for the next due transition at least this often (a job created, run or
# stopped since may have planned an earlier one), pauses this long after applying some (never a
# busy loop), and after a failure tries again this much later.
_SETTLE_LOOK_SECONDS = 0.1
_SETTLE_PAUSE_SECONDS = 0.01
_SETTLE_RETRY_SECONDS = 1.0


async def _quick_shutdown(server: uvicorn.Server) -> None:
    """Stop accepting, close idle keep-alive connections, give in-flight requests up to 2 s."""
    for listener in getattr(server, "servers", []):
        listener.close()
    state = getattr(server, "server_state", None)
    if state is None:  # an unexpected uvicorn: fall back to its graceful (slower) path
        await server.shutdown()
        return
    for connection in list(state.connections):
        connection.shutdown()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2.0
    while state.tasks and loop.time() < deadline:
        await asyncio.sleep(0.005)


class Emulator(EmulatorCore):
    """A local DLI emulator: the core (its state and test hooks) served over HTTP.

    ``Emulator(host, port, **options)``: ``options`` are ``EmulatorCore``'s (project_id, token, demo,
    speed, db, faults…). ``with Emulator(...) as emu:`` or ``emu.start()`` / ``emu.stop()``.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
        super().__init__(**options)
        self.host = host
        self.port = int(port)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the serving thread's, once started
        self._stop_event: asyncio.Event | None = None

    def __repr__(self) -> str:  # no secrets: only where it listens and which project
        state = self.url if self._server else "stopped"
        return f"<Emulator {state} project={self.project_id}>"

    # -- lifecycle -----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> "Emulator":
        if self.running:
            return self
        # Bind here, so port 0 is resolved before start() returns and a taken port fails loudly.
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets whose proto says TCP
        # (with proto 0, Nagle and delayed ACKs stalled every keep-alive request).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError:
            sock.close()
            raise
        sock.listen(1024)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            build_app(self),
            http="httptools",
            loop="asyncio",
            lifespan="off",
            log_config=None,  # never reconfigure the host process's logging
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
            backlog=1024,
        )
        server = uvicorn.Server(config)
        self._server = server
        self._error = None
        ready = threading.Event()
        self._loop = None
        self._stop_event = None

        async def serve() -> None:
            # uvicorn's own serve() polls for shutdown on a timer; tests start hundreds of
            # emulators, so run startup/shutdown ourselves and stop at once on an event.
            self._loop = asyncio.get_running_loop()
            self._stop_event = asyncio.Event()
            config.load()
            server.lifespan = config.lifespan_class(config)
            await server.startup(sockets=[sock])
            ready.set()
            if server.should_exit:
                return
            settler = asyncio.create_task(self._settle_when_due())
            await self._stop_event.wait()
            settler.cancel()
            await _quick_shutdown(server)

        def run() -> None:
            try:
                asyncio.run(serve())
            except BaseException as exc:  # surfaced by start()
                self._error = exc
            finally:
                ready.set()
                sock.close()

        self._thread = threading.Thread(target=run, name=f"dli-emulator-{self.port}", daemon=True)
        self._thread.start()
        ready.wait(_START_TIMEOUT)
        if not server.started or not self._thread.is_alive():
            self._thread.join(1)
            self._server = self._thread = None
            raise RuntimeError(f"DLI emulator failed to start: {self._error!r}")
        return self

    async def _settle_when_due(self) -> None:
        """Apply planned status changes when they fall due, on a worker thread (the store's lock
        must never stall the event loop): on the service a job changes status on its own, so a
        read does not pay for a thousand jobs that settled since the last one. A failure (a
        locked --db file) is said once and tried again; reads settle on their own meanwhile."""
        store = self.store
        reported = None
        while not store.closed:
            try:
                due = await asyncio.to_thread(store.next_change_at)
                wait = _SETTLE_LOOK_SECONDS if due is None else (due - self.now_ms()) / 1000
                if wait > 0:
                    await asyncio.sleep(min(wait, _SETTLE_LOOK_SECONDS))
                    continue
                await asyncio.to_thread(store.settle_due)
                reported = None
                await asyncio.sleep(_SETTLE_PAUSE_SECONDS)
            except sqlite3.ProgrammingError:
                if store.closed:  # the emulator is shutting down
                    return
                raise
            except sqlite3.Error as exc:
                if repr(exc) != reported:
                    print(f"dli-emulator: applying due status changes failed, trying again: {exc}", file=sys.stderr)
                    reported = repr(exc)
                await asyncio.sleep(_SETTLE_RETRY_SECONDS)

    def stop(self) -> None:
        server, thread, loop, event = self._server, self._thread, self._loop, self._stop_event
        if server is None or thread is None:
            return
        if loop is not None and event is not None and thread.is_alive():
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # loop already closed
                pass
        thread.join(timeout=_START_TIMEOUT)
        self._server = None
        self._thread = None

    def close(self) -> None:
        """Stop serving and close the database."""
        self.stop()
        self.store.close()

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
