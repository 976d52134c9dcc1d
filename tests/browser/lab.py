"""Start JupyterLab or Notebook 7 on 127.0.0.1 with its token and an isolated HOME, for the
real-browser tests.

Recipe and pitfalls: shared/browser-testing.md (kernel-ready race, writes to HOME, news toast).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def isolated_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DLI_", "HUAWEICLOUD_SDK_", "JUPYTER"))}
    for name, sub in {
        "HOME": "",
        "XDG_CONFIG_HOME": ".config",
        "XDG_CACHE_HOME": ".cache",
        "XDG_DATA_HOME": ".local/share",
        "JUPYTER_CONFIG_DIR": ".jupyter",
        "JUPYTER_RUNTIME_DIR": ".jupyter-runtime",
        "IPYTHONDIR": ".ipython",
        "TMPDIR": "tmp",
    }.items():
        path = home / sub
        path.mkdir(parents=True, exist_ok=True)
        env[name] = str(path)
    settings = home / ".jupyter/lab/user-settings/@jupyterlab/apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    env.update(extra or {})
    return env


# The URL path that opens a notebook in each front end.
NOTEBOOK_PATHS = {"lab": "lab/tree", "notebook": "notebooks"}


@contextmanager
def jupyterlab(root: Path, home: Path, log_path: Path, extra_env: dict[str, str] | None = None,
               app: str = "lab"):
    """Yield (base_url, token) of a JupyterLab (or, app="notebook", Notebook 7) serving ``root``;
    stopped by PID afterwards."""
    port, token = free_port(), secrets.token_hex(16)
    cmd = [
        sys.executable, "-m", "jupyter", app, "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
        "--no-browser", "--allow-root",
        f"--ServerApp.root_dir={root}", "--expose-app-in-browser",
    ]
    if app == "lab":
        cmd += ["--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    with open(log_path, "wb") as log:
        # The token goes through the environment (jupyter_server reads JUPYTER_TOKEN), never argv/`ps`.
        env = {**isolated_env(home, extra_env), "JUPYTER_TOKEN": token}
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"jupyter {app} exited with {proc.returncode}; see {log_path}")
                try:
                    with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"jupyter {app} did not start in 60 s; see {log_path}")
                time.sleep(0.2)
            yield base, token
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


# The notebook's kernel is attached and idle (the toolbar's indicator can say "idle" too early:
# shared/browser-testing.md, pitfall 1). Needs --expose-app-in-browser.
KERNEL_READY = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
}"""

# Run code in the open notebook's kernel (as a user typing in a cell would), return its stdout and
# any error as text.
KERNEL_EXEC = """async (code) => {
  const k = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
  let out = '';
  const future = k.requestExecute({code, store_history: false});
  future.onIOPub = (m) => {
    if (m.header.msg_type === 'stream') out += m.content.text;
    if (m.header.msg_type === 'error') out += 'ERROR ' + m.content.ename + ': ' + m.content.evalue;
  };
  await future.done;
  return out;
}"""


def open_notebook(page, base: str, token: str, app: str, name: str, timeout_ms: int = 90_000) -> None:
    """Open ``name`` in JupyterLab or Notebook 7 and wait until its kernel is ready."""
    page.goto(f"{base}/{NOTEBOOK_PATHS[app]}/{name}?token={token}")
    page.wait_for_function(KERNEL_READY, timeout=timeout_ms)


def run_command(page, command: str) -> None:
    page.evaluate(f"window.jupyterapp.commands.execute({json.dumps(command)})")


def kernel_exec(page, code: str) -> str:
    return page.evaluate(KERNEL_EXEC, code)
