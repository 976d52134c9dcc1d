"""IPython magics: %dli_run, %dli_stop, %dli_jobs, %dli_config, %dli_login, %dli_history, %dli_panel.

The only module that imports IPython. A magic parses its line, calls ``dli_magic.api`` with the
session's client and shapes the output; everything else (requests, waiting, history) lives in
plain modules so the Python API and the panel behave the same way.
"""

from __future__ import annotations

import difflib
import getpass
import re
import sys
from dataclasses import fields, replace
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import (
    Magics,
    line_magic,
    magics_class,
    needs_local_scope,
    no_var_expand,
    output_can_be_silenced,
)
from IPython.core.magic_arguments import argument as _ipython_argument
from IPython.core.magic_arguments import magic_arguments
from traitlets import Bool, Enum, Float, Int, Unicode, observe
from traitlets.config import Configurable

from . import api, contract, errors
from . import runlog
from .config import SECRET_FIELDS, Settings, env_var, resolve_settings
from .display import StatusView, TerminalStatus
from .errors import ConfigError
from .idargs import collect_ids, split_tokens
from .ids import validate_job_ids
from .waiting import WaitState

_SECRET_HELP = (
    "Secrets are never accepted on a magic line (they would be saved in the notebook). "
    "Use %dli_login (asks without echo), the environment variables DLI_AUTH_TOKEN, DLI_AK + DLI_SK or "
    "DLI_USERNAME + DLI_PASSWORD, or the profile file ~/.config/dli-magic/config.toml."
)
# `--token x`, `--sk=x`, `password=x`, `auth_token=x` …: refused before anything else looks at the line.
_SECRET_WORD = r"(?:auth[-_]?token|token|x[-_]auth[-_]token|sk|secret(?:[-_]?key)?|password|passwd|pwd)"
_SECRET_TOKEN = re.compile(rf"^(?:--?{_SECRET_WORD}(?:=.*)?|{_SECRET_WORD}=.*)$", re.IGNORECASE)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _refuse_secrets(tokens: list[str]) -> None:
    for token in tokens:
        if _SECRET_TOKEN.match(token.strip("'\"")):
            name = token.split("=", 1)[0]
            raise UsageError(f"{name}: {_SECRET_HELP}")


def argument(*names: str, **kwargs: Any):
    """IPython's ``@argument`` that also records the option strings on the magic (``option_strings``),
    so "Did you mean …?" reads them from the declarations instead of argparse's internals."""
    declare = _ipython_argument(*names, **kwargs)

    def decorate(func: Any) -> Any:
        flags = [name for name in names if name.startswith("-")]
        func.option_strings = (*getattr(func, "option_strings", ()), *flags)
        return declare(func)

    return decorate


def _with_suggestions(error: UsageError, magic: Any) -> UsageError:
    """argparse's "unrecognized arguments: --resume-savepiont" + "Did you mean --resume-savepoint?"
    (difflib over this magic's own option strings)."""
    text = str(error)
    prefix = "unrecognized arguments:"
    if not text.startswith(prefix):
        return error
    options = sorted(getattr(magic, "option_strings", ()))
    pairs = []
    for token in text[len(prefix):].split():
        if not token.startswith("-") or len(token) < 3:
            continue
        flag = token.split("=", 1)[0]
        close = difflib.get_close_matches(flag, options, n=1, cutoff=0.6)
        if close and close[0] != flag:
            pairs.append((flag, close[0]))
    if not pairs:
        return UsageError(f"{text}. Options: {', '.join(options)}." if options else text)
    if len(pairs) == 1:
        return UsageError(f"{text}. Did you mean {pairs[0][1]}?")
    return UsageError(f"{text}. Did you mean " + ", ".join(f"{good} for {bad}" for bad, good in pairs) + "?")


def _parse_tokens(magic: Any, tokens: list[str], *, intermixed: bool = False):
    """argparse a magic's tokens; an unknown flag's UsageError suggests the close option."""
    parser = magic.parser
    try:
        return parser.parse_intermixed_args(tokens) if intermixed else parser.parse_args(tokens)
    except UsageError as error:
        raise _with_suggestions(error, magic) from None


def _parse_line(magic: Any, line: str):
    """``parse_argstring`` with "Did you mean …?" for unknown flags."""
    from IPython.utils.process import arg_split

    return _parse_tokens(magic, arg_split(line, strict=True))


_OPTION_HELP = {
    "run": "Restore each job from its latest savepoint.",
    "stop": "Take a savepoint before stopping.",
}


def _job_arguments(action: str):
    """The options of %dli_run / %dli_stop, declared once: they differ only in the action's
    savepoint flag and the statuses --wait polls through (both from ``contract.ACTIONS``)."""
    spec = contract.ACTIONS[action]
    pending = "/".join(status for status in contract.JOB_STATUSES if status in spec.pending)
    declarations = [
        argument("ids", nargs="*", help="Job ids: 131 130, 1,2,3, ranges 130-138, $variable or {expression}."),
        argument(spec.option_flag, dest=spec.option, action="store_true", help=_OPTION_HELP[action]),
        argument("--wait", action="store_true", help=f"Wait until every accepted job left {pending}."),
        argument("--timeout", type=float, metavar="S", help="Seconds to wait at most (default: wait_timeout, 600)."),
        argument("--out", metavar="VAR", help="Store the result DataFrame in VAR and display nothing."),
        argument("--dry-run", action="store_true", help="Check everything and show the request; send nothing."),
        argument("--strict", action="store_true", help="Raise JobsFailedError if any job failed or is unknown."),
        argument("--chunk-size", type=int, metavar="N", help="Job ids per request (default: chunk_size, 100)."),
        argument("--profile", metavar="P", help="Use the settings of profile P of the profile file."),
    ]

    def decorate(func: Any) -> Any:
        for declare in reversed(declarations):  # as stacked decorators apply: bottom first
            func = declare(func)
        return magic_arguments()(func)

    return decorate


def _trait_for(default: Any, name: str):
    """The traitlets type of one setting; None (= unset, the layer below decides) by default."""
    help_text = f"Setting {name!r} (environment: {env_var(name)}); None = not set here."
    kind = Bool if isinstance(default, bool) else Int if isinstance(default, int) else (
        Float if isinstance(default, float) else Unicode
    )
    return kind(None, allow_none=True, help=help_text).tag(config=True)


# One trait per non-secret setting, generated from the Settings dataclass (one place for the list).
SETTING_TRAITS: tuple[str, ...] = tuple(
    f.name for f in fields(Settings) if f.name not in SECRET_FIELDS and f.name != "sources"
)
_SettingsTraits = type(
    "_SettingsTraits",
    (Configurable,),
    {name: _trait_for(f.default, name) for f in fields(Settings) for name in [f.name] if name in SETTING_TRAITS},
)


def _in_kernel(shell: Any) -> bool:
    return getattr(shell, "kernel", None) is not None


class _LiveStatus:
    """One status display updated in place (notebook), or a single `\\r` line (terminal)."""

    def __init__(self, shell: Any, action: str, mode: str) -> None:
        if mode == "auto":
            mode = "display" if _in_kernel(shell) else "line"
        self.mode = mode
        self.action = action
        self.handle = None
        self.terminal = TerminalStatus(action) if mode == "line" else None

    def __call__(self, state: WaitState) -> None:
        if self.mode == "display":
            from IPython.display import display

            view = StatusView(self.action, state)
            if self.handle is None:
                self.handle = display(view, display_id=True)
            else:
                self.handle.update(view)
        elif self.terminal is not None:
            self.terminal(state)

    def finish(self) -> None:
        if self.terminal is not None:
            self.terminal.finish()


def _stderr(text: str) -> None:
    print(text, file=sys.stderr)


@magics_class
class DliMagic(Magics, _SettingsTraits):
    """Data Lake Insight Flink jobs from IPython. Settings: ``%config DliMagic.<name> = value``."""

    live_status = Enum(
        ["auto", "display", "line", "off"],
        default_value="auto",
        help="How --wait shows progress: auto (display in a notebook, a \\r line in a terminal), "
        "display, line or off.",
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._secrets: dict[str, str] = {}  # from %dli_login only; never printed
        self._clients: dict[str | None, tuple[Settings, Any]] = {}
        errors.SHOW_FULL_TRACEBACK = bool(self.debug)

    @observe("debug")
    def _debug_changed(self, change: dict[str, Any]) -> None:
        errors.SHOW_FULL_TRACEBACK = bool(change["new"])

    # -- settings and the session's clients ------------------------------------------------------

    def magic_config(self) -> dict[str, Any]:
        """The settings set through %config / %dli_config (unset traits are left out)."""
        values = {name: getattr(self, name) for name in SETTING_TRAITS}
        return {name: value for name, value in values.items() if value is not None}

    def settings(self, profile: str | None = None) -> Settings:
        """The settings of this call, resolved afresh: %dli_login > %config > environment > profile file."""
        resolved = resolve_settings(explicit=self._secrets, magic_config=self.magic_config(), profile=profile)
        if self._secrets:  # "argument" would be misleading for what %dli_login keeps in memory
            sources = dict(resolved.sources)
            sources.update({name: "%dli_login" for name in self._secrets})
            resolved = replace(resolved, sources=sources)
        errors.SHOW_FULL_TRACEBACK = bool(resolved.debug)
        return resolved

    def client(self, profile: str | None = None):
        """The session's client for a profile, kept while its settings stay the same (keep-alive
        connections, known job names) and rebuilt when they change. Proxy and CA-bundle variables
        are read by requests on every call, so `%env HTTPS_PROXY=...` needs no new client."""
        from .client import DliClient

        current = self.settings(profile)
        cached = self._clients.get(profile)
        if cached is not None:
            settings, client = cached
            if settings == current and settings.sources == current.sources:
                return client
            client.close()
            del self._clients[profile]
        client = DliClient(current)
        self._clients[profile] = (current, client)
        return client

    def close_clients(self) -> None:
        for _, client in self._clients.values():
            try:
                client.close()
            except Exception:  # closing is best effort; a dead socket must not block unloading
                pass
        self._clients.clear()

    # -- helpers ---------------------------------------------------------------------------------

    def _parse(self, magic: Any, line: str) -> Any:
        """Split a line with our tokenizer (keeps `{expr}` whole), refuse secrets, then argparse."""
        line = line.strip()
        if line.endswith(";"):  # the `;` only silences the output
            line = line[:-1].rstrip()
        tokens = split_tokens(line)
        _refuse_secrets(tokens)
        return _parse_tokens(magic, tokens, intermixed=True)

    @staticmethod
    def _check_out(name: str | None) -> None:
        if name is not None and not _IDENTIFIER.match(name):
            raise UsageError(f"--out needs a Python variable name, not {name!r}.")

    def _store(self, name: str | None, value: Any) -> Any:
        if name is None:
            return value
        self.shell.user_ns[name] = value
        return None

    def _job_action(self, action: str, magic: Any, line: str, local_ns: Any):
        # A trailing `;` silences the output, as @output_can_be_silenced does for the other magics;
        # decided on the line as we split it, because Python's tokenizer (which that decorator runs)
        # does not know id syntax such as `$ids` or `{expr}`.
        silenced = line.rstrip().endswith(";")
        args = self._parse(magic, line)
        self._check_out(args.out)
        if args.timeout is not None and not args.wait:
            raise UsageError("--timeout only applies with --wait.")
        # Ids are checked before settings: a typo is reported first, and nothing is sent.
        validated = validate_job_ids(collect_ids(args.ids, self.shell.user_ns, local_ns))
        client = self.client(args.profile)
        live = _LiveStatus(self.shell, action, self.live_status) if args.wait and self.live_status != "off" else None

        def notify(text: str) -> None:
            if live is not None:
                live.finish()  # end the `\r` status line first, so a notice starts on its own line
            _stderr(text)

        try:
            frame = api.execute(
                action,
                validated,
                getattr(args, contract.ACTIONS[action].option),
                wait=args.wait,
                timeout=args.timeout,
                strict=args.strict,
                dry_run=args.dry_run,
                chunk_size=args.chunk_size,
                client=client,
                on_state=live,
                notify=notify,
                source="magic",
            )
        except api.JobsFailedError as exc:
            # A notebook user has no name for the exception: say where the rows are instead.
            if args.out is not None:  # the rows are the point of --out: keep them for inspection
                self.shell.user_ns[args.out] = exc.frame
                exc.hint = f"Every row is in `{args.out}`."
            else:
                exc.hint = "To get every row along with the error, add --out VAR: it stores the rows in VAR."
                attrs = getattr(exc.frame, "attrs", None) or {}
                if attrs.get("history_run_id"):
                    exc.hint += " This run's rows are in `%dli_history`."
            exc.hint += exc.others_note()
            raise
        finally:
            if live is not None:
                live.finish()
        result = self._store(args.out, frame)  # --out stores even when `;` silences the display
        return None if silenced else result

    # -- magics ----------------------------------------------------------------------------------

    @_job_arguments("run")
    @needs_local_scope
    @no_var_expand
    @line_magic
    def dli_run(self, line: str = "", local_ns: Any = None):
        """Start (run) DLI Flink jobs; returns one DataFrame row per job.

        Columns: job_id, name, is_success, message, status (with --wait: once it left
        job_submitting; without: the status an accepted job is put in), request_id. Run metadata
        is in ``df.attrs``. A job the service refused is a row with is_success False, not an
        exception (use --strict for that).

        Examples::

            %dli_run 131 130
            %dli_run 130-138 --resume-savepoint
            df = %dli_run 1,2,3 --wait --timeout 300
            %dli_run $ids --out result          # a list, range, Series or a DataFrame with job_id
            %dli_run {range(130, 139)} --dry-run
            %dli_run $jobs --strict             # e.g. jobs = %dli_jobs --status job_init

        Credentials never go on this line: see %dli_login and %dli_config.
        """
        return self._job_action("run", self.dli_run, line, local_ns)

    @_job_arguments("stop")
    @needs_local_scope
    @no_var_expand
    @line_magic
    def dli_stop(self, line: str = "", local_ns: Any = None):
        """Stop DLI Flink jobs; same DataFrame as %dli_run.

        Examples::

            %dli_stop 131 130
            %dli_stop $ids --trigger-savepoint --wait
            %dli_stop 130-138 --dry-run
        """
        return self._job_action("stop", self.dli_stop, line, local_ns)

    @magic_arguments()
    @argument("--status", metavar="S", help="Only jobs in this status, e.g. job_running.")
    @argument("--name", metavar="N", help="Only jobs whose name matches N.")
    @argument("--type", dest="job_type", metavar="T", help="Only jobs of this type, e.g. flink_sql_job.")
    @argument("--queue", dest="queue_name", metavar="Q", help="Only jobs on this queue.")
    @argument("--profile", metavar="P", help="Use the settings of profile P of the profile file.")
    @argument("--out", metavar="VAR", help="Store the DataFrame in VAR and display nothing.")
    @output_can_be_silenced
    @line_magic
    def dli_jobs(self, line: str = ""):
        """List the project's Flink jobs (all pages) as a DataFrame.

        Examples::

            %dli_jobs
            %dli_jobs --status job_running
            jobs = %dli_jobs --name orders --type flink_sql_job
        """
        line = line.strip().rstrip(";")
        _refuse_secrets(line.split())
        args = _parse_line(self.dli_jobs, line)
        self._check_out(args.out)
        frame = api.list_jobs(
            status=args.status,
            name=args.name,
            job_type=args.job_type,
            queue_name=args.queue_name,
            client=self.client(args.profile),
        )
        return self._store(args.out, frame)

    @magic_arguments()
    @argument("assignments", nargs="*", help="NAME=VALUE pairs of non-secret settings for this session.")
    @argument("--profile", metavar="P", help="Show the settings of profile P.")
    @output_can_be_silenced
    @line_magic
    def dli_config(self, line: str = ""):
        """Show every setting, its value (secrets as ***) and where it came from; or set some.

        Examples::

            %dli_config
            %dli_config endpoint=https://dli.eu-de.otc.t-systems.com project_id=0123abcd
            %dli_config wait_timeout=900 poll_interval=5
            %dli_config read_timeout=none          # unset: back to env / profile / default

        Secrets (auth_token, sk, password) are refused here: use %dli_login, environment variables
        or the profile file.
        """
        line = line.strip().rstrip(";")
        tokens = line.split()
        _refuse_secrets(tokens)
        args = _parse_line(self.dli_config, line)
        if args.assignments:
            self._assign(args.assignments)
        return self.settings_frame(args.profile)

    def _assign(self, assignments: list[str]) -> None:
        changes: dict[str, Any] = {}
        for item in assignments:
            name, sep, text = item.partition("=")
            name = name.strip()
            if not sep:
                raise UsageError(f"{item!r}: write NAME=VALUE, e.g. wait_timeout=900.")
            if name in SECRET_FIELDS:
                raise UsageError(f"{name}: {_SECRET_HELP}")
            if name not in SETTING_TRAITS:
                close = difflib.get_close_matches(name, SETTING_TRAITS, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"Unknown setting {name!r}.{hint}", hint=errors.UNKNOWN_SETTING_HINT)
            text = text.strip()
            if text.lower() in ("", "none", "null", "unset"):
                changes[name] = None
                continue
            try:
                changes[name] = self.traits()[name].from_string(text)
            except Exception:
                raise ConfigError(f"Setting {name}={text!r} is not a valid value.") from None
        previous = {name: getattr(self, name) for name in changes}
        for name, value in changes.items():
            setattr(self, name, value)
        try:
            self.settings()  # validate the whole result; keep the old values on error
        except ConfigError:
            for name, value in previous.items():
                setattr(self, name, value)
            raise

    def settings_frame(self, profile: str | None = None):
        import pandas as pd

        rows = self.settings(profile).describe()
        return pd.DataFrame(rows, columns=["setting", "value", "source"]).astype("string")

    @magic_arguments()
    @argument("--token", action="store_true", help="Ask for an IAM token (X-Auth-Token) (default).")
    @argument("--password", action="store_true", help="Ask for the IAM password of --username.")
    @argument("--username", metavar="U", help="IAM user name (with --password).")
    @argument("--domain", metavar="D", help="IAM domain (account) name (with --password).")
    @argument("--clear", action="store_true", help="Forget what %%dli_login stored.")
    @line_magic
    def dli_login(self, line: str = ""):
        """Ask for a token or password without echo and keep it in memory for this session only.

        Examples::

            %dli_login                                   # paste an IAM token
            %dli_login --password --username me --domain my-account
            %dli_login --clear
        """
        args = _parse_line(self.dli_login, line.strip())
        if args.clear:
            self._secrets.clear()
            self.close_clients()
            print("Forgot the credentials given to %dli_login.")
            return None
        if args.token and args.password:
            raise UsageError("Choose --token or --password, not both.")
        if args.username:
            self.username = args.username
        if args.domain:
            self.domain = args.domain
        use_password = args.password or (not args.token and bool(args.username))
        if use_password:
            user = self.settings().username
            if not user:
                raise UsageError("--password needs a user: add --username U (or set DLI_USERNAME).")
            secret = getpass.getpass(f"IAM password for {user}: ")
            field = "password"
        else:
            secret = getpass.getpass("DLI / IAM token (X-Auth-Token): ")
            field = "auth_token"
        if not secret or not secret.strip():
            raise UsageError("Nothing entered; credentials unchanged.")
        self._secrets = {field: secret.strip() if field == "auth_token" else secret}
        self.close_clients()
        what = "token" if field == "auth_token" else "password"
        print(f"The {what} is kept in memory for this session only (not in the notebook or on disk).")
        return None

    @magic_arguments()
    @argument("--limit", type=int, metavar="N", help="Only the N most recent runs.")
    @argument("--out", metavar="VAR", help="Store the DataFrame in VAR and display nothing.")
    @output_can_be_silenced
    @line_magic
    def dli_history(self, line: str = ""):
        """Every %dli_run / %dli_stop (and API / panel) outcome of this and earlier sessions.

        Stored in SQLite at history_path / $DLI_HISTORY_PATH (default
        ~/.local/share/dli-magic/history.sqlite); `%dli_config history=false` turns recording off.
        """
        args = _parse_line(self.dli_history, line.strip().rstrip(";"))
        self._check_out(args.out)
        if args.limit is not None and args.limit < 1:
            raise UsageError(f"--limit must be a positive number of runs, not {args.limit}.")
        frame = runlog.load(runlog.default_path(self.settings()), limit=args.limit)
        return self._store(args.out, frame)

    @magic_arguments()
    @argument("--profile", metavar="P", help="Use the settings of profile P of the profile file.")
    @argument("--no-wait", action="store_true", help="Return after the run/stop call without polling.")
    @argument("--timeout", type=float, metavar="S", help="Seconds to wait at most (default: wait_timeout).")
    @line_magic
    def dli_panel(self, line: str = ""):
        """Open the job panel (pick jobs, run or stop them) with this session's settings and client.

        Examples::

            %dli_panel
            p = %dli_panel --profile prod --no-wait
        """
        line = line.strip().rstrip(";")
        _refuse_secrets(line.split())
        args = _parse_line(self.dli_panel, line)
        from .widget import panel

        return panel(client=self.client(args.profile), wait=not args.no_wait, timeout=args.timeout)


_LOADED: dict[int, DliMagic] = {}


def load_ipython_extension(ipython: Any) -> None:
    if id(ipython) in _LOADED:
        return  # %load_ext twice: keep the session (and its login) as it is
    magic = DliMagic(shell=ipython)  # Magics appends itself to shell.configurables (%config)
    ipython.register_magics(magic)
    _LOADED[id(ipython)] = magic


def unload_ipython_extension(ipython: Any) -> None:
    magic = _LOADED.pop(id(ipython), None)
    if magic is None:
        return
    magic.close_clients()
    for kind, names in magic.magics.items():
        for name in names:
            ipython.magics_manager.magics[kind].pop(name, None)
    ipython.magics_manager.registry.pop(type(magic).__name__, None)
    if magic in ipython.configurables:
        ipython.configurables.remove(magic)
