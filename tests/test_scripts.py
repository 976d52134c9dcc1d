"""The README's commands: the main job runs the quickstart end to end, and the lab command serves
JupyterLab on 127.0.0.1 only, never without its token."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat

from dli_magic.results import OUTCOME_COLUMNS

ROOT = Path(__file__).resolve().parents[1]


def test_main_job_runs_the_quickstart_against_a_fresh_emulator(tmp_path):
    out = tmp_path / "quickstart.executed.ipynb"
    history = os.environ["DLI_HISTORY_PATH"]  # the user's choice (conftest): kept
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run_quickstart.py"), "--output", str(out)],
        capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"Started the DLI emulator with demo jobs at http://127\.0\.0\.1:\d+", done.stdout)
    assert f"Runs are recorded in {history}\n" in done.stdout
    with sqlite3.connect(history) as db:
        assert db.execute("SELECT count(*) FROM runs").fetchone()[0] > 0
    assert "Result DataFrame:" in done.stdout and "job_id" in done.stdout and "is_success" in done.stdout
    # The table in one block with whole messages: the header names every column on one line.
    table = done.stdout.split("Result DataFrame:\n", 1)[1].split("\n\n", 1)[0]
    assert re.match(r"\s+" + r"\s+".join(name for name, _ in OUTCOME_COLUMNS) + r"\n", table), table
    assert "..." not in table and "The request for submitting DLI jobs is delivered successfully." in table
    assert f"Executed notebook written to {out}" in done.stdout
    assert out.is_file()
    # The kernel starts quietly: no "Kernel is running over TCP without encryption" warning.
    assert "[IPKernelApp] WARNING" not in done.stdout + done.stderr, done.stderr
    assert "Kernel is running over TCP" not in done.stdout + done.stderr


def _tiny_notebook(path: Path, source: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source, metadata={"tags": ["result"]})],
                                  metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    nbformat.write(nb, path)
    return path


def test_main_job_records_to_the_demo_history_when_none_is_chosen(tmp_path):
    # No DLI_HISTORY_PATH: demo runs go to artifacts/demo-history.sqlite, never the real history;
    # any other DLI_* setting is dropped for the emulator's.
    nb = _tiny_notebook(tmp_path / "probe.ipynb",
                        "import os\nos.environ['DLI_HISTORY_PATH'], os.environ['DLI_ENDPOINT'], 'DLI_REGION' in os.environ")
    env = {k: v for k, v in os.environ.items() if k != "DLI_HISTORY_PATH"}
    env.update(DLI_ENDPOINT="https://dli.eu-de.otc.t-systems.com", DLI_REGION="eu-de")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run_quickstart.py"), "--notebook", str(nb),
         "--output", str(tmp_path / "probe.executed.ipynb")],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    demo_history = ROOT / "artifacts" / "demo-history.sqlite"
    assert f"Runs are recorded in {demo_history}\n" in done.stdout
    shown = re.sub(r"\s+", " ", done.stdout)  # IPython wraps a long tuple over several lines
    assert re.search(rf"\('{re.escape(str(demo_history))}', 'http://127\.0\.0\.1:\d+', False\)", shown), done.stdout


def test_use_configured_with_nothing_configured_stops(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DLI_", "HUAWEICLOUD_SDK_"))}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / ".config"))
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run_quickstart.py"), "--use-configured",
         "--output", str(tmp_path / "out.ipynb")],
        capture_output=True, text=True, timeout=60, env=env,
    )
    assert done.returncode == 2
    assert done.stderr == "--use-configured: no DLI settings found (DLI_ENDPOINT / DLI_REGION / profile file)\n"
    assert done.stdout == "" and not (tmp_path / "out.ipynb").exists()


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
        # The token reaches JupyterLab through its environment, never its command line (`ps` shows that).
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        cmdlines = {pid: Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode() for pid in children}
        lab = [pid for pid, cmd in cmdlines.items() if "jupyter" in cmd]
        assert lab, cmdlines
        assert not [cmd for cmd in cmdlines.values() if token in cmd], cmdlines
        assert token not in Path(f"/proc/{proc.pid}/cmdline").read_bytes().decode(errors="replace")
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
