"""``python -m dli_magic.emulator`` / ``dli-emulator``: run the DLI emulator as a server.

Prints exactly one line when ready (``DLI emulator listening on http://HOST:PORT``); SIGTERM or
SIGINT stop it cleanly (exit 0); a bad option is one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
from typing import Any, Sequence

from .bodies import DEFAULT_MAX_BODY_BYTES
from .core import DEFAULT_PROJECT_ID, DEFAULT_REGION
from .reqlog import DEFAULT_LOG_ENTRIES

ENV_TOKEN = "DLI_EMULATOR_TOKEN"
ENV_SK = "DLI_EMULATOR_SK"
ENV_PASSWORD = "DLI_EMULATOR_PASSWORD"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints the whole usage)
        sys.stderr.write(f"dli-emulator: error: {message}\n")
        sys.exit(2)


def _number(kind: type, *, zero_ok: bool = False) -> Any:
    """An argparse type: a finite number > 0 (>= 0 with ``zero_ok``); float() takes "inf"/"nan"."""
    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}")
        if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
            wanted = "a finite number >= 0" if zero_ok else "a positive finite number"
            raise argparse.ArgumentTypeError(f"must be {wanted}: {text!r}")
        return value

    return convert


def _count(text: str) -> int:
    """A fault COUNT: a non-zero integer (negative: never disarms). 0 would be a fault that never fires."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}")
    if value == 0:
        raise argparse.ArgumentTypeError("must not be 0 (leave the option out for no fault; < 0: never disarms)")
    return value


def _job_count(text: str) -> int:
    from .demo import MAX_LOAD_JOBS

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}")
    if not 0 <= value <= MAX_LOAD_JOBS:
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_LOAD_JOBS:,}: {text!r}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}")
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="dli-emulator", description="A local emulator of the DLI Flink job API (and IAM tokens).")
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8080, help="port; 0 picks a free one (default 8080)")
    p.add_argument("--project-id", default=DEFAULT_PROJECT_ID, help="project id of the default project")
    p.add_argument("--region", default=DEFAULT_REGION, help="name of the default project (GET /v3/projects?name=)")
    p.add_argument("--token", help=f"accept this static X-Auth-Token (or env {ENV_TOKEN})")
    p.add_argument("--ak", help="accept AK/SK signatures with this access key")
    p.add_argument("--sk", help=f"secret key for --ak (or env {ENV_SK})")
    p.add_argument("--user", help="IAM user name for the password flow")
    p.add_argument("--password", help=f"IAM password for --user (or env {ENV_PASSWORD})")
    p.add_argument("--domain", help="IAM domain (account) name for --user (default: the user name)")
    p.add_argument("--db", help="SQLite file for the jobs (default: in memory)")
    p.add_argument("--demo", action="store_true", help="seed 12 realistic jobs if the database is empty")
    p.add_argument("--jobs", type=_job_count, default=0, metavar="N",
                   help="seed N plain job_init jobs if the database is empty (load tests; with --demo: both)")
    p.add_argument("--speed", type=_number(float), default=1.0, help="job state timings divided by this")
    p.add_argument("--token-ttl", type=_number(float), default=86400, help="IAM token lifetime, seconds")
    p.add_argument("--unknown-ids", choices=("item", "error"), default="item",
                   help="unknown ids in run/stop/delete: per-item failure or a whole-call 400 DLI.16001")
    p.add_argument("--max-body-bytes", type=_number(int), default=DEFAULT_MAX_BODY_BYTES, metavar="N",
                   help="413 APIGW.0201 for a request body above N bytes (default: the gateway's 12 MB)")
    p.add_argument("--request-log-size", type=_number(int), default=DEFAULT_LOG_ENTRIES, metavar="N",
                   help="the request log keeps the last N entries (default 50,000)")
    p.add_argument("--no-savepoint-api", dest="savepoint_api", action="store_false",
                   help="answer POST jobs/{id}/savepoint with 404 APIGW.0101, as Open Telekom Cloud regions do")
    f = p.add_argument_group("faults (see docs/emulator.md; also PUT /_emulator/faults)")
    f.add_argument("--faults", metavar="JSON", help="a whole fault document")
    f.add_argument("--latency-ms", type=_number(float, zero_ok=True), help="added to every DLI answer (0 = none)")
    f.add_argument("--throttle-rate", type=_number(int), metavar="N",
                   help="429 APIGW.0308 above N DLI calls per second")
    f.add_argument("--throttle", type=_count, metavar="COUNT", help="429 on the next COUNT DLI calls (< 0: all)")
    f.add_argument("--error-status", type=int, metavar="STATUS", help="answer DLI calls with this error status")
    f.add_argument("--error-count", type=_count, metavar="COUNT",
                   help="how many calls --error-status hits (default 1; < 0: all)")
    f.add_argument("--html-502", type=_count, metavar="COUNT", help="502 HTML pages on the next COUNT DLI calls")
    f.add_argument("--drop", type=_count, metavar="COUNT", help="process, then close without answer, COUNT calls")
    f.add_argument("--bool-is-success", action="store_true", help="JSON booleans instead of \"true\"/\"false\"")
    return p


def faults_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, Any] | None:
    faults: dict[str, Any] = {}
    if args.faults:
        try:
            faults = json.loads(args.faults)
        except ValueError as exc:
            parser.error(f"--faults is not valid JSON: {exc}")
        if not isinstance(faults, dict):
            parser.error("--faults must be a JSON object")
    # `is not None`: a given option is never silently ignored (0 counts are refused by _count).
    if args.latency_ms is not None:
        faults["latency_ms"] = args.latency_ms
    if args.throttle_rate is not None:
        faults["rate_limit"] = {"per_second": args.throttle_rate, "retry_after": 1}
    if args.throttle is not None:
        faults["throttle"] = {"count": args.throttle, "retry_after": 1}
    if args.error_count is not None and args.error_status is None:
        parser.error("--error-count needs --error-status")
    if args.error_status is not None:
        faults["error"] = {"status": args.error_status, "count": 1 if args.error_count is None else args.error_count}
    if args.html_502 is not None:
        faults["html_502"] = {"count": args.html_502}
    if args.drop is not None:
        faults["drop"] = {"count": args.drop}
    if args.bool_is_success:
        faults["bool_is_success"] = True
    from .faults import FaultError, FaultSet

    try:
        FaultSet(faults)  # checked here, so a bad document is one line and exit 2
    except FaultError as exc:
        parser.error(f"bad faults: {exc}")
    return faults or None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    token = args.token or os.environ.get(ENV_TOKEN) or None
    sk = args.sk or os.environ.get(ENV_SK) or None
    password = args.password or os.environ.get(ENV_PASSWORD) or None
    if (args.ak is None) != (sk is None):
        parser.error(f"--ak and --sk (or {ENV_SK}) go together")
    users = []
    if args.user:
        if not password:
            parser.error(f"--user needs --password (or {ENV_PASSWORD})")
        users.append((args.user, password, args.domain or args.user))
    elif args.password or args.domain:
        parser.error("--password/--domain need --user")
    faults = faults_from_args(args, parser)

    from .server import Emulator  # after parsing: `--help` and bad options stay fast

    try:
        emu = Emulator(
            host=args.host, port=args.port, project_id=args.project_id, region=args.region, token=token,
            ak=args.ak, sk=sk, users=users, demo=args.demo, speed=args.speed, db=args.db,
            token_ttl=args.token_ttl, unknown_ids=args.unknown_ids, faults=faults, savepoint_api=args.savepoint_api,
            jobs=args.jobs, max_body_bytes=args.max_body_bytes, request_log_size=args.request_log_size,
        )
    except (ValueError, OSError) as exc:  # bad fault JSON, unusable --db…
        parser.error(str(exc).splitlines()[0])
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        emu.start()
    except OSError as exc:
        sys.stderr.write(f"dli-emulator: error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}\n")
        return 2
    print(f"DLI emulator listening on {emu.url}", flush=True)
    while not stop.wait(0.5):
        if not emu.running:
            sys.stderr.write("dli-emulator: error: the server stopped unexpectedly\n")
            return 1
    emu.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
