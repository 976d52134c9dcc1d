"""dli-magic: run Data Lake Insight Flink jobs from Jupyter.

``import dli_magic`` stays cheap: pandas, requests, ipywidgets and IPython are imported only when
a feature needs them (``%load_ext dli_magic`` registers the magics lazily).
"""

from __future__ import annotations

from importlib import import_module

__version__ = "0.1.0"

# Public names resolved on first use (PEP 562), so importing the package imports none of them.
_LAZY = {
    "run_jobs": ("dli_magic.api", "run_jobs"),
    "stop_jobs": ("dli_magic.api", "stop_jobs"),
    "restart_jobs": ("dli_magic.api", "restart_jobs"),
    "savepoint_jobs": ("dli_magic.api", "savepoint_jobs"),
    "list_jobs": ("dli_magic.api", "list_jobs"),
    "job": ("dli_magic.api", "job"),
    "wait_for": ("dli_magic.api", "wait_for"),
    "RunHandle": ("dli_magic.background", "RunHandle"),
    "history": ("dli_magic.api", "history"),
    "connect": ("dli_magic.api", "connect"),
    "JobsFailedError": ("dli_magic.api", "JobsFailedError"),
    "DliClient": ("dli_magic.client", "DliClient"),
    "panel": ("dli_magic.widget", "panel"),
}

__all__ = ["__version__", "load_ipython_extension", "unload_ipython_extension", *_LAZY]


def __getattr__(name: str) -> object:
    try:
        module_name, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'dli_magic' has no attribute {name!r}") from None
    return getattr(import_module(module_name), attribute)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext dli_magic``: register %dli_run, %dli_stop, %dli_jobs, %dli_config, …"""
    from .magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: object) -> None:
    from .magics import unload_ipython_extension as unload

    unload(ipython)
