"""``Emulator``: the emulator app served by uvicorn in a daemon thread (tests, notebooks, the CLI)."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any, Iterable

import uvicorn

from .gateway import build_app
from .core import DEFAULT_PROJECT_ID, DEFAULT_REGION, EmulatorCore

_START_TIMEOUT = 10.0


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


class Emulator:
    """A local DLI emulator. ``with Emulator(...) as emu:`` or ``emu.start()`` / ``emu.stop()``."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        project_id: str = DEFAULT_PROJECT_ID,
        region: str = DEFAULT_REGION,
        token: str | None = None,
        ak: str | None = None,
        sk: str | None = None,
        users: Iterable[tuple[str, str, str]] = (),
        demo: bool = False,
        speed: float = 1.0,
        db: str | None = None,
        token_ttl: float = 86400,
        unknown_ids: str = "item",
        faults: dict[str, Any] | None = None,
    ) -> None:
        self.host = host
        self.port = int(port)
        self.core = EmulatorCore(
            project_id=project_id,
            region=region,
            token=token,
            ak=ak,
            sk=sk,
            users=users,
            demo=demo,
            speed=speed,
            db=db,
            token_ttl=token_ttl,
            unknown_ids=unknown_ids,
            faults=faults,
        )
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def __repr__(self) -> str:  # no secrets: only where it listens and which project
        state = self.url if self._server else "stopped"
        return f"<Emulator {state} project={self.project_id}>"

    # -- lifecycle -----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def project_id(self) -> str:
        return self.core.project_id

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> "Emulator":
        if self.running:
            return self
        # Bind here, so port 0 is resolved before start() returns and a taken port fails loudly.
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on sockets whose proto says TCP
        # (proto 0 meant Nagle + delayed ACK, 40 ms per keep-alive request).
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
            build_app(self.core),
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
            # uvicorn's own serve() ticks every 0.1 s and sleeps 0.1 s on shutdown; tests start
            # hundreds of emulators, so run startup/shutdown ourselves and stop on an event.
            self._loop = asyncio.get_running_loop()
            self._stop_event = asyncio.Event()
            config.load()
            server.lifespan = config.lifespan_class(config)
            await server.startup(sockets=[sock])
            ready.set()
            if server.should_exit:
                return
            await self._stop_event.wait()
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
        self.core.store.close()

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- test hooks (same as the admin routes) ---------------------------------------------------------

    def set_faults(self, faults: dict[str, Any] | None) -> None:
        self.core.faults.replace(faults)

    def clear_faults(self) -> None:
        self.core.faults.replace(None)

    def faults(self) -> dict[str, Any]:
        return self.core.faults.snapshot()

    def request_log(self) -> list[dict[str, Any]]:
        return self.core.log.export()

    def clear_request_log(self) -> None:
        self.core.log.clear()

    def advance_clock(self, seconds: float) -> None:
        self.core.advance_clock(seconds)

    def now_ms(self) -> int:
        return self.core.now_ms()

    def create_job(
        self,
        name: str = "x",
        status: str = "job_init",
        job_type: str = "flink_sql_job",
        has_savepoint: bool = False,
        queue_name: str = "default",
        project_id: str | None = None,
        **fields: Any,
    ) -> int:
        return self.core.create_job(
            name=name, status=status, job_type=job_type, has_savepoint=has_savepoint,
            queue_name=queue_name, project_id=project_id, **fields,
        )

    def get_job(self, job_id: int, project_id: str | None = None) -> dict | None:
        return self.core.get_job(job_id, project_id)
