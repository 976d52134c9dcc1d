"""`import dli_magic` stays cheap; the Python API works without IPython; lazy public names."""

from __future__ import annotations

import json
import os
import subprocess
import sys

HEAVY = ("pandas", "requests", "ipywidgets", "IPython", "numpy", "traitlets")


def _python(code: str, env=None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env or dict(os.environ)
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_import_dli_magic_imports_nothing_heavy():
    out = _python(
        "import sys, json, dli_magic\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]"
        " + [m for m in sys.modules if m.startswith('dli_magic.')]))\n"
        "print(dli_magic.__version__)"
    )
    loaded, version = out.splitlines()
    assert json.loads(loaded) == []
    assert version == "0.1.0"


def test_python_api_without_ipython(dli_env):
    code = (
        "import sys, json, dli_magic\n"
        "df = dli_magic.run_jobs([138, 204], wait=True, timeout=30)\n"
        "jobs = dli_magic.list_jobs(status='job_running')\n"
        "print(json.dumps({'ipython': 'IPython' in sys.modules, 'status': df['status'].tolist(),"
        " 'ok': df['is_success'].tolist(), 'running': sorted(int(i) for i in jobs['job_id'])}))"
    )
    result = json.loads(_python(code).splitlines()[-1])
    assert result["ipython"] is False
    assert result["status"] == ["job_running", "job_running"]
    assert result["ok"] == [True, True]
    assert {130, 137, 138, 204} <= set(result["running"])


def test_lazy_names_resolve():
    import dli_magic
    from dli_magic import api, client

    assert dli_magic.run_jobs is api.run_jobs
    assert dli_magic.stop_jobs is api.stop_jobs
    assert dli_magic.list_jobs is api.list_jobs
    assert dli_magic.connect is api.connect
    assert dli_magic.DliClient is client.DliClient
    assert dli_magic.history is api.history
    assert "run_jobs" in dir(dli_magic)


def test_unknown_attribute_is_an_attribute_error():
    import dli_magic
    import pytest

    with pytest.raises(AttributeError):
        dli_magic.no_such_name  # noqa: B018


def test_a_missing_panel_module_only_fails_when_used():
    code = (
        "import sys; sys.modules['dli_magic.widget'] = None\n"
        "import dli_magic\n"
        "try:\n    dli_magic.panel\nexcept ImportError:\n    print('late')\n"
    )
    assert _python(code).strip() == "late"


def test_history_is_the_function_and_no_module_shares_its_name(dli_env):
    """``dli_magic.history`` is ``api.history`` before and after the run log is imported, and using
    it is what imports pandas: ``import dli_magic`` alone imports nothing heavy."""
    code = (
        "import inspect, json, sys, dli_magic\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "first = dli_magic.history\n"
        "rows = len(first())\n"
        "import dli_magic.runlog, dli_magic.api\n"
        "print(json.dumps({'heavy': heavy, 'rows': rows, 'function': inspect.isfunction(first),"
        " 'same': dli_magic.history is first is dli_magic.api.history,"
        " 'module': 'dli_magic.history' in sys.modules}))"
    )
    result = json.loads(_python(code).splitlines()[-1])
    assert result == {"heavy": [], "rows": 0, "function": True, "same": True, "module": False}


def test_load_ext_registers_the_magics(shell):
    for name in ("dli_run", "dli_stop", "dli_jobs", "dli_config", "dli_login", "dli_history", "dli_panel"):
        assert shell.find_line_magic(name) is not None
    shell.run_line_magic("unload_ext", "dli_magic")
    assert shell.find_line_magic("dli_run") is None
    shell.run_line_magic("load_ext", "dli_magic")
    assert shell.find_line_magic("dli_run") is not None


def test_help_has_examples(shell):
    doc = shell.find_line_magic("dli_run").__doc__
    assert "%dli_run 130-138 --resume-savepoint" in doc and "--dry-run" in doc and "$ids" in doc
