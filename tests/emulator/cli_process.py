"""The emulator's CLI as a subprocess, for the tests of tests/emulator (imported by name: pytest puts
this folder on sys.path)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READY = "DLI emulator listening on http://"


def cli_env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


class Running:
    def __init__(self, *args, env=None):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dli_magic.emulator", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env or cli_env(), cwd=ROOT,
        )
        self.line = self.proc.stdout.readline()
        assert self.line.startswith(READY), (self.line, self.proc.stderr.read() if self.proc.poll() is not None else "")
        self.url = self.line.strip().rsplit(" ", 1)[1]

    def stop(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=10)
        return self.proc.returncode, out, err


def assert_bad_option(args):
    proc = subprocess.run([sys.executable, "-m", "dli_magic.emulator", "--port", "0", *args], capture_output=True,
                          text=True, env=cli_env(), cwd=ROOT, timeout=30)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dli-emulator: error:"), proc.stderr


