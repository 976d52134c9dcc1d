"""Every target of the suite, in one table.

A row of the results names a target by its key; the verdict comes from here. ``enforced`` targets
decide the exit status of ``benchmarks/run`` (PASS / MISS). The others are measured and shown with
their target (``met`` / ``not met``) but never fail the run: the code they measure is not written or
not finished yet (``pending`` says what is missing). Enforcing one later is ``enforced=True``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Target:
    text: str  # what the table shows in its "target" column
    met: Callable[[object], bool]
    source: str  # where the target comes from
    enforced: bool = True
    pending: str = ""  # for a target not enforced: what must land first


def _at_most(limit: float) -> Callable[[object], bool]:
    return lambda value: isinstance(value, (int, float)) and value <= limit


def _below(limit: float) -> Callable[[object], bool]:
    return lambda value: isinstance(value, (int, float)) and value < limit


def _at_least(limit: float) -> Callable[[object], bool]:
    return lambda value: isinstance(value, (int, float)) and value >= limit


def _is(expected: object) -> Callable[[object], bool]:
    return lambda value: value == expected


ISSUE9 = "issue 9 item 8"
ISSUE9_START = "issue 9 item 4"
ISSUE11 = "issue 11 item 4"
VALIDITY = "validity (a figure from failed calls means nothing)"
GUARD = "suite guard (today's behaviour, no issue states it)"

TARGETS: dict[str, Target] = {
    # 1 start-up
    "load_ext": Target("< 20 ms", _below(20), ISSUE9_START),
    "import_light": Target("none of pandas, requests, IPython, ipywidgets", _is("none"), ISSUE9_START),
    "load_ext_light": Target("none of pandas, requests, ipywidgets", _is("none"), GUARD),
    "first_run": Target("<= 1.2x", _at_most(1.2), ISSUE11),
    # 2 one call (30 ms per call)
    "client_vs_raw": Target("<= 1.05x", _at_most(1.05), ISSUE9),
    "api_vs_raw": Target("<= 1.05x", _at_most(1.05), ISSUE9),
    "magic_vs_raw": Target("<= 1.05x", _at_most(1.05), ISSUE9),
    "all_accepted": Target("yes", _is("yes"), VALIDITY),
    # 3 scale (50 ms per call)
    "scale_speedup": Target(">= 7x", _at_least(7), ISSUE11),
    "scale_rate": Target("<= 200", _at_most(200), ISSUE11),
    "in_order": Target("yes", _is("yes"), VALIDITY),
    "memory_linear": Target("0.5x..1.5x (linear)", lambda v: isinstance(v, float) and 0.5 <= v <= 1.5, GUARD),
    # 4 listing (50 ms per call)
    "listing_speedup": Target(">= 4x", _at_least(4), ISSUE11),
    "listing_complete": Target("yes", _is("yes"), VALIDITY),
    # 5 waiting (50 ms per call)
    "wait_round": Target("<= 3 round trips", _at_most(3), ISSUE11),
    "wait_rounds_attr": Target("= rounds in the log", _is("yes"), GUARD),
    "wait_settled": Target("yes", _is("yes"), VALIDITY),
    # 6 emulator (bare loopback)
    "emulator_rps": Target(">= 1,000", _at_least(1000), ISSUE11),
    "emulator_mixed_p99": Target("< 50 ms", _below(50), GUARD),
    "emulator_list_p99": Target("< 20 ms", _below(20), ISSUE11),
    "no_errors": Target("0", _is(0.0), VALIDITY),
}


def verdict(key: str, value: object) -> tuple[bool | None, str]:
    """(counts toward the exit status: True met / False missed / None not enforced, the result text)."""
    if not key:
        return None, ""
    target = TARGETS[key]
    met = bool(target.met(value))
    if target.enforced:
        return met, "PASS" if met else "MISS"
    return None, "met (not enforced)" if met else "not met (not enforced)"
