"""Start `python -m dli_magic.emulator --demo` as a child process for the demo and lab commands.

Returns the env vars that point dli-magic at it. The token is random, passed through the
environment (not argv, so `ps` never shows it) and never printed.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys

READY = re.compile(r"^DLI emulator listening on (http://\S+)$")


def start(extra_args: list[str] | None = None) -> tuple[subprocess.Popen, dict[str, str]]:
    from dli_magic.emulator import DEFAULT_PROJECT_ID

    token = secrets.token_urlsafe(24)
    env = {**os.environ, "DLI_EMULATOR_TOKEN": token}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dli_magic.emulator", "--demo", "--port", "0", *(extra_args or [])],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    line = proc.stdout.readline().strip()
    match = READY.match(line)
    if not match:
        proc.kill()
        raise SystemExit(f"the emulator did not start (it printed {line!r})")
    settings = {"DLI_ENDPOINT": match.group(1), "DLI_AUTH_TOKEN": token, "DLI_PROJECT_ID": DEFAULT_PROJECT_ID}
    return proc, settings


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
