"""The README's commands: the main job runs the quickstart end to end, and the lab command serves
JupyterLab on 127.0.0.1 only, never without its token."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_main_job_runs_the_quickstart_against_a_fresh_emulator(tmp_path):
    out = tmp_path / "quickstart.executed.ipynb"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run_quickstart.py"), "--output", str(out)],
        capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"Started the DLI emulator with demo jobs at http://127\.0\.0\.1:\d+", done.stdout)
    assert "Result DataFrame:" in done.stdout and "job_id" in done.stdout and "is_success" in done.stdout
    assert f"Executed notebook written to {out}" in done.stdout
    assert out.is_file()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
    except urllib.error.URLError:
        return 0  # not listening (yet)


def test_lab_command_listens_on_loopback_with_a_token(tmp_path):
    port = _free_port()
    env = {**os.environ, "HOME": str(tmp_path), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "lab.py"), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    try:
        token = None
        deadline = time.monotonic() + 60
        while token is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            match = re.search(rf"Open http://127\.0\.0\.1:{port}/lab\?token=([0-9a-f]+)", line)
            token = match.group(1) if match else None
        assert token, "scripts/lab.py printed no URL with a token"
        base = f"http://127.0.0.1:{port}"
        while _status(f"{base}/api/status?token={token}") != 200:
            assert time.monotonic() < deadline, "JupyterLab did not come up"
            time.sleep(0.3)
        assert _status(f"{base}/api/contents") == 403  # no token, no access
        assert _status(f"{base}/api/contents?token={token}") == 200
        listening = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
        ours = [line for line in listening.splitlines() if line.split()[3].endswith(f":{port}")]
        assert ours and all(line.split()[3] == f"127.0.0.1:{port}" for line in ours), ours
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_lab_command_stopped_early_leaves_nothing_running(tmp_path):
    # SIGTERM right after the URL is printed (before JupyterLab answers) must still stop everything.
    env = {**os.environ, "HOME": str(tmp_path), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "lab.py"), "--port", str(_free_port())],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    children: list[str] = []
    try:
        for line in proc.stdout:
            if line.startswith("Open http://127.0.0.1:"):
                break
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        assert children, "lab.py should have started JupyterLab and the emulator"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    time.sleep(0.5)
    alive = [pid for pid in children if _running(pid)]
    assert not alive, f"left running: {alive}"


def _running(pid: str) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status  # a zombie has exited
