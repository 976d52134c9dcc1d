"""JupyterLab on notebooks/, bound to 127.0.0.1 with a token, next to a local DLI emulator."""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import local_emulator  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--use-configured", action="store_true",
                        help="use the DLI configured in the environment / profile instead of an emulator")
    args = parser.parse_args()
    # SIGTERM must stop JupyterLab and the emulator, not orphan them: handled from the start.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    proc = lab = None
    try:
        if not args.use_configured:
            proc, settings = local_emulator.start()
            os.environ.update(settings)
            # Emulator runs never go to the user's real run history (unless they chose the file).
            if not os.environ.get("DLI_HISTORY_PATH"):
                os.environ["DLI_HISTORY_PATH"] = str(ROOT / "artifacts" / "demo-history.sqlite")
            print(f"DLI emulator with demo jobs at {settings['DLI_ENDPOINT']} (its token is in the kernel's env only)")
        # No --ip other than loopback and never an empty token: this server runs code. The token goes
        # through JUPYTER_TOKEN (read by jupyter_server), not argv, so `ps` does not show it.
        token = secrets.token_hex(24)
        cmd = [sys.executable, "-m", "jupyter", "lab", "--ip=127.0.0.1", f"--port={args.port}", "--port-retries=0",
               "--no-browser", f"--ServerApp.root_dir={ROOT / 'notebooks'}"]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        env = {k: v for k, v in os.environ.items() if k != "JUPYTER_TOKEN_FILE"}
        lab = subprocess.Popen(cmd, env={**env, "JUPYTER_TOKEN": token})
        print(f"Open http://127.0.0.1:{args.port}/lab?token={token}", flush=True)
        return lab.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if lab is not None and lab.poll() is None:
            lab.terminate()
            lab.wait(20)
        if proc is not None:
            local_emulator.stop(proc)


if __name__ == "__main__":
    sys.exit(main())
