"""The options of the magics: %dli_run / %dli_stop declared from the one table of actions, flags
anywhere on the line, and "Did you mean …?" for a mistyped flag (nothing is sent)."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from dli_magic.contract import ACTIONS


@pytest.mark.parametrize("name", sorted(ACTIONS))
def test_each_action_has_its_savepoint_flag_and_help(shell, dli_env, name):
    spec = ACTIONS[name]
    frame = shell.run_line_magic(f"dli_{name}", f"138 {spec.option_flag} --dry-run")
    assert frame.attrs[spec.option] is True
    assert shell.run_line_magic(f"dli_{name}", "138 --dry-run").attrs[spec.option] is False
    doc = shell.find_line_magic(f"dli_{name}").__doc__  # what `%dli_run?` shows
    assert spec.option_flag in doc and "--wait" in doc and "--chunk-size" in doc
    assert all(status in doc for status in spec.pending)  # what --wait polls through
    other = next(s for s in ACTIONS.values() if s is not spec)
    assert other.option_flag not in doc
    assert dli_env.request_log() == []


@pytest.mark.parametrize("line", ["--dry-run 131 130", "131 --dry-run 130", "131 130 --dry-run", "131, --dry-run 130"])
def test_flags_may_stand_anywhere_among_the_ids(shell, dli_env, line):
    frame = shell.run_line_magic("dli_run", line)
    assert frame["job_id"].tolist() == [131, 130]
    assert frame.attrs["dry_run"] is True and frame.attrs["resume_savepoint"] is False
    assert dli_env.request_log() == []


@pytest.mark.parametrize(
    ("line", "suggestion"),
    [
        ("%dli_run 131 --resume-savepiont", "Did you mean --resume-savepoint?"),
        ("%dli_stop 131 --resume-savepoint", "Did you mean --trigger-savepoint?"),
        ("%dli_run 131 --wiat --dryrun", "Did you mean --wait for --wiat, --dry-run for --dryrun?"),
        ("%dli_jobs --stauts job_running", "Did you mean --status?"),
        ("%dli_config --profle x", "Did you mean --profile?"),
        ("%dli_history --limt 3", "Did you mean --limit?"),
        ("%dli_panel --no-wiat", "Did you mean --no-wait?"),
        ("%dli_login --clera", "Did you mean --clear?"),
        ("%dli_run 131 --xyzzy", "Options: --background, --chunk-size, --dry-run, --out, --profile, --resume-savepoint"),
        ("%dli_run 131 --xyzzy", "--stable, --strict, --timeout, --wait, --yes."),
    ],
)
def test_unknown_flags_get_a_suggestion(shell, dli_env, capsys, line, suggestion):
    result = shell.run_cell(line)
    assert isinstance(result.error_in_exec, UsageError)
    assert "unrecognized arguments" in str(result.error_in_exec)
    assert suggestion in str(result.error_in_exec)
    assert dli_env.request_log() == []

