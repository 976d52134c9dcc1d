"""IPython magics: %dli_run, %dli_stop, %dli_jobs, %dli_config, %dli_login, %dli_history, %dli_panel.

The only module that imports IPython. A magic parses its line, calls ``dli_magic.api`` with the
session's client and shapes the output; everything else (requests, waiting, history) lives in
plain modules so the Python API and the panel behave the same way.
"""

from __future__ import annotations

import collections
import importlib
import re
import sys
import threading
from contextlib import contextmanager
from dataclasses import fields
from typing import TYPE_CHECKING, Any, Callable

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

from . import contract, errors
from .config import SECRET_FIELDS, Settings, env_var, register_layer_secrets, resolve_settings
from .errors import ConfigError
from .idargs import collect_ids, split_tokens
from .ids import validate_job_ids
from .redaction import scrub_in_use

if TYPE_CHECKING:
    from .waiting import WaitState


class _OnFirstUse:
    """A module of this package imported when a magic first needs it, so that `%load_ext`
    imports none of the calls' machinery (pandas-free, but history, waiting, restarts…)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self._name, __package__), attribute)


api = _OnFirstUse(".api")
runlog = _OnFirstUse(".runlog")
views = _OnFirstUse(".display")

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


# Declarations several magics share, written once.
_IDS_ARGUMENT = argument("ids", nargs="*", help="Job ids: 131 130, 1,2,3, ranges 130-138, $variable or {expression}.")
_PROFILE_OPTION = argument("--profile", metavar="P", help="Use the settings of profile P of the profile file.")
_OUT_OPTION = argument("--out", metavar="VAR", help="Store the result DataFrame in VAR and display nothing.")


def _usage_error(text: str) -> UsageError:
    """A UsageError whose text passed the one scrubber: a line's values (`$var`, `{expr}`, or
    pasted) may hold a secret in use, and argparse quotes what it refuses."""
    return UsageError(scrub_in_use(text))


def _with_suggestions(error: UsageError, magic: Any) -> UsageError:
    """argparse's "unrecognized arguments: --resume-savepiont" + "Did you mean --resume-savepoint?"
    (difflib over this magic's own option strings); every argparse refusal scrubbed."""
    text = str(error)
    prefix = "unrecognized arguments:"
    if not text.startswith(prefix):
        return _usage_error(text)
    import difflib  # here: only a mistyped option needs it, %load_ext does not

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
        return _usage_error(f"{text}. Options: {', '.join(options)}." if options else text)
    if len(pairs) == 1:
        return _usage_error(f"{text}. Did you mean {pairs[0][1]}?")
    return _usage_error(f"{text}. Did you mean " + ", ".join(f"{good} for {bad}" for bad, good in pairs) + "?")


def _refuse_repeated_options(magic: Any, tokens: list[str]) -> None:
    """An option given twice (`--timeout 5 --timeout 9`, also abbreviated, as argparse accepts
    `--time`) is refused: argparse would keep the last one without a word."""
    options = getattr(magic, "option_strings", ())
    seen: dict[str, str] = {}
    for token in tokens:
        if token == "--":  # what follows is positional
            return
        if not token.startswith("--"):
            continue
        flag = token.split("=", 1)[0]
        matches = [flag] if flag in options else [o for o in options if o.startswith(flag)]
        if len(matches) != 1:
            continue  # unknown or ambiguous: argparse says so
        option = matches[0]
        if option in seen:
            raise _usage_error(f"{option} is given twice ({seen[option]} and {token}); give it once.")
        seen[option] = token


def _parse_tokens(magic: Any, tokens: list[str], *, intermixed: bool = False):
    """argparse a magic's tokens; an unknown flag's UsageError suggests the close option."""
    _refuse_repeated_options(magic, tokens)
    parser = magic.parser
    try:
        return parser.parse_intermixed_args(tokens) if intermixed else parser.parse_args(tokens)
    except UsageError as error:
        raise _with_suggestions(error, magic) from None


def _parse_line(magic: Any, line: str):
    """``parse_argstring`` with "Did you mean …?" for unknown flags."""
    from IPython.utils.process import arg_split

    try:
        # posix: quotes group and are removed, as in a shell (`--name "a b"` is `a b`, not `"a b"`)
        tokens = arg_split(line, posix=True, strict=True)
    except ValueError:  # shlex: "No closing quotation" / "No escaped character"
        raise UsageError(_UNBALANCED_QUOTES) from None
    return _parse_tokens(magic, tokens)


def _unquote(token: str) -> str:
    """`"my profile"` → `my profile` (split_tokens keeps quotes, which an `{expr}` needs)."""
    if len(token) >= 2 and token[0] in "'\"" and token[-1] == token[0]:
        return token[1:-1]
    return token


# Never quotes the line: a quote left open may be followed by anything.
_UNBALANCED_QUOTES = "A quote on this line is not closed (or the line ends with a backslash); close it or remove it."


def _ascii_number(kind: type, positive: bool = False):
    """An argparse type like int / float that refuses non-ASCII digits (`--timeout １０`, which
    Python's int() and float() read as 10): a paste error, named as such. ``positive``: also
    refused here, when the line is read, is what the call would refuse later (`--timeout -5`)."""
    from argparse import ArgumentTypeError

    def convert(text: str):
        if not text.isascii():
            raise ArgumentTypeError(
                f"{text!r} has characters that are not ASCII (full-width or another script's digits?); "
                "type it with 0-9"
            )
        value = kind(text)
        if positive and not value > 0:  # also NaN
            raise ArgumentTypeError(f"must be a positive number, not {text!r}")
        return value

    convert.__name__ = kind.__name__  # argparse's "invalid float value: 'abc'" names the type
    return convert


_seconds = _ascii_number(float, positive=True)
_count = _ascii_number(int)


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
        _IDS_ARGUMENT,
        argument(spec.option_flag, dest=spec.option, action="store_true", help=_OPTION_HELP[action]),
        argument("--wait", action="store_true", help=f"Wait until every accepted job left {pending}."),
        *(
            [argument("--stable", type=_seconds, metavar="S",
                      help="Then watch the running jobs for S seconds: a job that leaves job_running, restarts "
                           "or whose Flink state is not RUNNING at the end is unhealthy (implies --wait).")]
            if action == "run" else []
        ),
        argument("--background", action="store_true",
                 help="Send the request, then wait on a worker thread: returns a handle at once (implies --wait)."),
        argument("--timeout", type=_seconds, metavar="S", help="Seconds to wait at most (default: wait_timeout, 600)."),
        _OUT_OPTION,
        argument("--dry-run", action="store_true", help="Check everything and show the request; send nothing."),
        argument("--strict", action="store_true", help="Raise JobsFailedError if any job failed or is unknown."),
        argument("--chunk-size", type=_count, metavar="N", help="Job ids per request (default: chunk_size, 100)."),
        _PROFILE_OPTION,
        argument("--yes", action="store_true", help="Send a call of more than 300 requests (ids / chunk size)."),
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
        self.terminal = views.TerminalStatus(action) if mode == "line" else None

    def __call__(self, state: WaitState) -> None:
        if self.mode == "display":
            from IPython.display import display

            view = views.StatusView(self.action, state)
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


def _notices_after(live: Callable[[], "_LiveStatus | None"]) -> Callable[[str], None]:
    """A notice on stderr that ends the live `\r` status line first, so it starts on its own line."""

    def notify(text: str) -> None:
        current = live()
        if current is not None:
            current.finish()
        _stderr(text)

    return notify


def _close_when_idle(client: Any) -> None:
    """Close a client once no background wait uses it (now, if none does)."""
    background = sys.modules.get(f"{__package__}.background")  # no handle can exist before it is imported
    users = [h for h in background.running_handles() if h.client is client] if background else []
    if not users:
        client.close()
        return
    remaining = set(map(id, users))

    def one_done(handle: Any) -> None:
        remaining.discard(id(handle))
        if not remaining:
            client.close()

    for handle in users:
        handle.add_done_callback(one_done)


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
        self._clients_lock = threading.Lock()  # an open panel asks for its client from its own threads
        self._users: collections.Counter[int] = collections.Counter()  # id(client) -> calls using it now
        self._retired: dict[int, Any] = {}  # let go of while in use: closed when its last call ends
        self._unloaded = False
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
        """The settings of this call, resolved afresh: a --profile named on the line > %dli_login >
        %config > environment > profile file (``config.resolve_settings``). A magic line's settings
        also decide whether errors show full tracebacks (``debug``)."""
        resolved = self._resolved_settings(profile)
        errors.SHOW_FULL_TRACEBACK = bool(resolved.debug)
        return resolved

    def _resolved_settings(self, profile: str | None) -> Settings:
        if self._unloaded:
            raise ConfigError("This dli_magic session ended (%unload_ext or %reload_ext dli_magic).",
                              hint="Open a new panel (%dli_panel, after %load_ext dli_magic if it is not loaded); "
                                   "its settings and login start afresh.")
        return resolve_settings(login=self._secrets, magic_config=self.magic_config(), profile=profile)

    def client(self, profile: str | None = None):
        """The session's client for a profile, kept while its settings stay the same (keep-alive
        connections, known job names) and rebuilt when they change. Proxy and CA-bundle variables
        are read by requests on every call, so `%env HTTPS_PROXY=...` needs no new client."""
        with self._clients_lock:
            return self._session_client(self.settings(profile), profile)

    @contextmanager
    def using_client(self, profile: str | None = None, *, line: bool = True):
        """The session's client (``client``), held for one call: a client let go of while calls use
        it (settings changed, %dli_login, unloading) is closed when the last of them ends, and no
        background wait uses it. ``line=False``: for a panel's request, which leaves the debug flag
        of the user's lines alone."""
        with self._clients_lock:  # resolved under the lock: a client is never cached from stale settings
            client = self._session_client(self.settings(profile) if line else self._resolved_settings(profile), profile)
            self._users[id(client)] += 1
        try:
            yield client
        finally:
            with self._clients_lock:
                self._users[id(client)] -= 1
                idle = self._users[id(client)] == 0
                if idle:
                    del self._users[id(client)]
                retired = self._retired.pop(id(client), None) if idle else None
            if retired is not None:
                _close_when_idle(retired)

    def _session_client(self, current: Settings, profile: str | None):
        """The cached client when ``current`` is what it was built with, else a new one. Hold the lock."""
        from .client import DliClient

        cached = self._clients.get(profile)
        if cached is not None:
            settings, client = cached
            if settings == current and settings.sources == current.sources:
                return client
            del self._clients[profile]
            self._let_go(client)
        client = DliClient(current)
        self._clients[profile] = (current, client)
        return client

    def _let_go(self, client: Any) -> None:
        """Close a client the session no longer hands out, once no call or background wait uses it.
        Hold the lock."""
        if self._users[id(client)]:
            self._retired[id(client)] = client
        else:
            _close_when_idle(client)

    def close_clients(self) -> None:
        """Let go of the session's clients (%dli_login, unloading): each is closed once no call or
        background wait uses it; an open panel gets a new one at its next request."""
        with self._clients_lock:
            clients = [client for _, client in self._clients.values()]
            self._clients.clear()
            for client in clients:
                try:
                    self._let_go(client)
                except Exception:  # closing is best effort; a dead socket must not block unloading
                    pass

    # -- helpers ---------------------------------------------------------------------------------

    def _parse(self, magic: Any, line: str) -> Any:
        """Split a line with our tokenizer (keeps `{expr}` whole), refuse secrets, then argparse.
        An error about the line (an `{expr}` that failed, a refused value), raised before the
        settings are read, masks the secrets in use all the same (``redaction.find_secrets``)."""
        line = line.strip()
        if line.endswith(";"):  # the `;` only silences the output
            line = line[:-1].rstrip()
        tokens = [_unquote(token) for token in split_tokens(line)]
        _refuse_secrets(tokens)
        return _parse_tokens(magic, tokens, intermixed=True)

    @staticmethod
    def _check_out(name: str | None) -> None:
        if name is not None and not _IDENTIFIER.match(name):
            raise _usage_error(f"--out needs a Python variable name, not {name!r}.")

    def _store(self, name: str | None, value: Any) -> Any:
        if name is None:
            return value
        self.shell.user_ns[name] = value
        return None

    def _keeping_rows(self, out: str | None, view: Callable[[], Any], call: Callable[[], Any]) -> Any:
        """``call()``; when --strict makes it raise JobsFailedError, the rows stay reachable
        (``_keep_rows``). The live view (``view()``: the current one, or None) is finished either way."""
        try:
            return call()
        except api.JobsFailedError as exc:
            self._keep_rows(exc, out)
            raise
        finally:
            shown = view()
            if shown is not None:
                shown.finish()

    def _keep_rows(self, exc: Any, out: str | None) -> None:
        """--strict failed: a notebook user has no name for the exception, so say where the rows
        are, and with --out store them there."""
        if out is not None:  # the rows are the point of --out: keep them for inspection
            self.shell.user_ns[out] = exc.frame
            exc.hint = f"Every row is in `{out}`."
        else:
            exc.hint = "To get every row along with the error, add --out VAR: it stores the rows in VAR."
            attrs = getattr(exc.frame, "attrs", None) or {}
            if attrs.get("history_run_id"):
                exc.hint += " This run's rows are in `%dli_history`."
        exc.hint += exc.others_note()

    def _job_action(self, action: str, magic: Any, line: str, local_ns: Any):
        # A trailing `;` silences the output, as @output_can_be_silenced does for the other magics;
        # decided on the line as we split it, because Python's tokenizer (which that decorator runs)
        # does not know id syntax such as `$ids` or `{expr}`.
        silenced = line.rstrip().endswith(";")
        args = self._parse(magic, line)
        self._check_out(args.out)
        stable = getattr(args, "stable", None)
        background = args.background
        wait = args.wait or stable is not None or background
        if args.timeout is not None and not wait:
            raise UsageError("--timeout only applies with --wait (or --stable, --background).")
        if background and args.dry_run:
            raise UsageError("--dry-run sends nothing, so there is nothing to wait for in the background.")
        # Ids are checked before settings: a typo is reported first, and nothing is sent.
        validated = validate_job_ids(collect_ids(args.ids, self.shell.user_ns, local_ns))
        # A background handle draws its own view (updated by its worker while other cells run).
        live = (_LiveStatus(self.shell, action, self.live_status)
                if wait and not background and self.live_status != "off" else None)

        def view() -> "_LiveStatus | None":
            return live

        notify = _notices_after(view)
        with self.using_client(args.profile) as client:  # held until the call returns (or its handle exists)
            frame = self._keeping_rows(args.out, view, lambda: api.execute(
                action,
                validated,
                getattr(args, contract.ACTIONS[action].option),
                wait=wait,
                timeout=args.timeout,
                **({"stable": stable} if stable is not None else {}),
                strict=args.strict,
                dry_run=args.dry_run,
                yes=args.yes,
                background=background,
                chunk_size=args.chunk_size,
                client=client,
                on_state=live,
                notify=notify,
                source="magic",
            ))
        result = self._store(args.out, frame)  # --out stores even when `;` silences the display
        return None if silenced else result

    # -- magics ----------------------------------------------------------------------------------

    @_job_arguments("run")
    @needs_local_scope
    @no_var_expand
    @line_magic
    def dli_run(self, line: str = "", local_ns: Any = None):
        """Start (run) DLI Flink jobs; returns one DataFrame row per job.

        Columns: job_id, name, is_success, message, status and status_desc (read with --wait once
        the job left job_submitting; <NA> without: not read), healthy (with --stable), savepoint_path,
        request_id. Run metadata is in ``df.attrs``. A job the service refused is a row with
        is_success False, not an exception (use --strict for that).

        Examples::

            %dli_run 131 130
            %dli_run 130-138 --resume-savepoint
            df = %dli_run 1,2,3 --wait --timeout 300
            %dli_run 131 --wait --stable 30     # running, and still healthy 30 s later?
            h = %dli_run $ids --stable 60 --background   # keep working; h.result() later
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
    @_PROFILE_OPTION
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
        with self.using_client(args.profile) as client:
            frame = api.list_jobs(
                status=args.status, name=args.name, job_type=args.job_type, queue_name=args.queue_name, client=client,
            )
        return self._store(args.out, frame)

    @magic_arguments()
    @argument("job_id", help="The job's id.")
    @_PROFILE_OPTION
    @argument("--out", metavar="VAR", help="Store the view in VAR and display nothing.")
    @output_can_be_silenced
    @line_magic
    def dli_job(self, line: str = ""):
        """Everything about one job: status and its description, times, restarts, savepoint,
        queue, CUs, checkpoints, the SQL (collapsed), and Flink's own state.

        Examples::

            %dli_job 131
            view = %dli_job 131        # view.job, view.graph, view.to_series()
        """
        line = line.strip().rstrip(";")
        _refuse_secrets(line.split())
        args = _parse_line(self.dli_job, line)
        self._check_out(args.out)
        ids = validate_job_ids(collect_ids([args.job_id], self.shell.user_ns, None)).ids
        if len(ids) != 1:
            raise _usage_error(f"%dli_job shows one job; {args.job_id!r} names {len(ids)}. Use %dli_jobs for several.")
        with self.using_client(args.profile) as client:
            view = api.job(ids[0], client=client)
        return self._store(args.out, view)

    @magic_arguments()
    @argument("run_id", help="The run's id: the run_id column of %%dli_history, or df.attrs['history_run_id'].")
    @argument("--timeout", type=_seconds, metavar="S", help="Seconds to wait at most (default: wait_timeout).")
    @argument("--stable", type=_seconds, metavar="S", help="Health window in seconds (default: the run's own).")
    @argument("--strict", action="store_true", help="Raise JobsFailedError if any job failed or is unhealthy.")
    @argument("--background", action="store_true", help="Wait on a worker thread: returns a handle at once.")
    @argument("--out", metavar="VAR", help="Store the result (or the handle) in VAR and display nothing.")
    @_PROFILE_OPTION
    @output_can_be_silenced
    @line_magic
    def dli_wait(self, line: str = ""):
        """Re-attach to a recorded run: wait now for the jobs it started or stopped, in this or a
        new kernel (after a restart, a closed tab), without sending any run/stop request again.

        Examples::

            %dli_history                        # the run_id column; `wait` says how each wait ended
            df = %dli_wait 20261130T101500-0123456789ab
            h = %dli_wait 20261130T101500-0123456789ab --background
        """
        line = line.strip().rstrip(";")
        _refuse_secrets(line.split())
        args = _parse_line(self.dli_wait, line)
        self._check_out(args.out)
        live = (_LiveStatus(self.shell, "wait", self.live_status)
                if not args.background and self.live_status != "off" else None)

        def view() -> "_LiveStatus | None":
            return live

        notify = _notices_after(view)
        with self.using_client(args.profile) as client:  # held until the call returns (or its handle exists)
            result = self._keeping_rows(args.out, view, lambda: api.wait_for(
                args.run_id, timeout=args.timeout, stable=args.stable, strict=args.strict,
                background=args.background, client=client, on_state=live, notify=notify, source="magic",
            ))
        return self._store(args.out, result)

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
        try:
            return self.settings_frame(args.profile)
        except ConfigError as exc:
            if exc.hint not in (ConfigError.hint, errors.UNKNOWN_SETTING_HINT):  # these send the user here
                raise
            exc.hint = ("This setting keeps %dli_config from showing the others: fix or unset it where the "
                        "message says it comes from (`%dli_config NAME=none` unsets a %config value).")
            raise

    def _assign(self, assignments: list[str]) -> None:
        changes: dict[str, Any] = {}
        for item in assignments:
            name, sep, text = item.partition("=")
            name = name.strip()
            if not sep:
                raise _usage_error(f"{item!r}: write NAME=VALUE, e.g. wait_timeout=900.")
            if name in SECRET_FIELDS:
                raise UsageError(f"{name}: {_SECRET_HELP}")
            if name not in SETTING_TRAITS:
                import difflib

                close = difflib.get_close_matches(name, SETTING_TRAITS, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"Unknown setting {name!r}.{hint}", hint=errors.UNKNOWN_SETTING_HINT)
            text = text.strip()
            if text.lower() in ("", "none", "null", "unset"):
                changes[name] = None
                continue
            trait = self.traits()[name]
            if not isinstance(trait, Unicode) and not text.isascii():  # int("１٠") is 10 to Python
                raise ConfigError(
                    f"Setting {name} has characters that are not ASCII (full-width or another script's "
                    "digits?); type it with ASCII 0-9."
                )
            try:
                changes[name] = trait.from_string(text)
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
        import getpass  # here: only %dli_login reads the keyboard

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
        register_layer_secrets(self._secrets)  # masked from now on, in errors raised before any settings are read
        self.close_clients()
        what = "token" if field == "auth_token" else "password"
        print(f"The {what} is kept in memory for this session only (not in the notebook or on disk).")
        return None

    @magic_arguments()
    @argument("--limit", type=_count, metavar="N", help="Only the N most recent runs.")
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
    @_PROFILE_OPTION
    @argument("--no-wait", action="store_true", help="Return after the run/stop call without polling.")
    @argument("--timeout", type=_seconds, metavar="S",
              help="Seconds to wait at most (default: wait_timeout); also with --no-wait for Restart, which waits.")
    @argument("--stable", type=_seconds, metavar="S", help="Check the health of started jobs for S seconds.")
    @argument("--refresh", type=_seconds, metavar="S", help="Refresh the job list every S seconds (default 10).")
    @argument("--no-auto-refresh", action="store_true", help="Refresh only when asked (the Refresh button).")
    @line_magic
    def dli_panel(self, line: str = ""):
        """Open the job console (pick jobs, run, stop or restart them, live statuses) with this
        session's settings and client; it follows later %dli_config and %dli_login changes.

        Examples::

            %dli_panel
            p = %dli_panel --profile prod --no-wait
            %dli_panel --stable 30 --refresh 5
        """
        line = line.strip().rstrip(";")
        _refuse_secrets(line.split())
        args = _parse_line(self.dli_panel, line)
        from .widget import REFRESH_SECONDS, panel

        if args.stable is not None and args.no_wait:
            raise UsageError("--stable checks the started jobs' health, which needs waiting: drop --no-wait.")
        return panel(
            client_source=lambda: self.using_client(args.profile, line=False), wait=not args.no_wait,
            timeout=args.timeout,
            stable=args.stable,
            refresh_interval=args.refresh if args.refresh is not None else REFRESH_SECONDS,
            auto_refresh=not args.no_auto_refresh,
        )

    # -- restart and savepoints -------------------------------------------------------------------

    def _operation(self, action: str, magic: Any, line: str, local_ns: Any, call: Any):
        """%dli_restart / %dli_savepoint: the ids as %dli_run takes them, a live status per step (as
        --wait shows it), and on --strict the hint that says where the rows are. With --background
        the call returns a handle (--out stores it), which draws its own view."""
        silenced = line.rstrip().endswith(";")  # as in _job_action: the `;` only silences
        args = self._parse(magic, line)
        self._check_out(args.out)
        background = getattr(args, "background", False)
        if background and args.dry_run:
            raise UsageError("--dry-run sends nothing, so there is nothing to wait for in the background.")
        # Ids are checked before settings: a typo is reported first, and nothing is sent.
        validated = validate_job_ids(collect_ids(args.ids, self.shell.user_ns, local_ns))
        shell, mode = self.shell, "off" if background else self.live_status
        views: list[_LiveStatus] = []  # one per step: a notebook keeps each step's view

        def on_step(label: str) -> None:
            if mode == "off":
                return
            if views:
                views[-1].finish()
            views.append(_LiveStatus(shell, f"{action}: {label}", mode))

        def on_state(state: WaitState) -> None:
            if views:
                views[-1](state)

        def view() -> "_LiveStatus | None":  # the current step's
            return views[-1] if views else None

        notify = _notices_after(view)
        with self.using_client(args.profile) as client:  # held until the call returns (or its handle exists)
            frame = self._keeping_rows(args.out, view, lambda: call(
                args, validated, client=client, on_state=on_state, on_step=on_step, notify=notify, source="magic",
            ))
        result = self._store(args.out, frame)  # --out stores even when `;` silences the display
        return None if silenced else result

    @magic_arguments()
    @_IDS_ARGUMENT
    @argument("--stable", type=_seconds, metavar="S",
              help="Then watch the restarted jobs for S seconds: a job that leaves job_running, restarts or "
                   "whose Flink state is not RUNNING at the end is unhealthy.")
    @argument("--allow-no-savepoint", action="store_true",
              help="Restart a job even when no savepoint could be taken (stop it without one, start afresh).")
    @argument("--start-stopped", action="store_true",
              help="Also start the jobs that are not running (from their savepoint when they have one).")
    @argument("--dry-run", action="store_true", help="Read the jobs and show the plan; send no stop or run.")
    @argument("--timeout", type=_seconds, metavar="S",
              help="Seconds each wait lasts at most: the stop, then the start (default: wait_timeout, 600).")
    @argument("--strict", action="store_true", help="Raise JobsFailedError if a job was not restarted or is unhealthy.")
    @argument("--background", action="store_true",
              help="Send the stops, then go on on a worker thread: returns a handle at once (h.result(), "
                   "h.stop_waiting()).")
    @argument("--chunk-size", type=_count, metavar="N", help="Job ids per stop/run request (default: chunk_size, 100).")
    @argument("--yes", action="store_true", help="Send a call of more than 300 stop requests (ids / chunk size).")
    @_OUT_OPTION
    @_PROFILE_OPTION
    @needs_local_scope
    @no_var_expand
    @line_magic
    def dli_restart(self, line: str = "", local_ns: Any = None):
        """Restart running Flink jobs without losing their state; one DataFrame row per job.

        Per job: stop with a savepoint, wait until it is stopped and the new savepoint is recorded
        (read back), run it resuming from that savepoint, wait until job_running (--stable: and
        healthy). A job whose stop or savepoint failed is NOT started again; its row says why and
        that it is still running (--allow-no-savepoint restarts it without a savepoint). Jobs that
        are not running are left alone (--start-stopped starts them). ``message`` says what
        happened at each step, ``savepoint_path`` is the savepoint it resumed from (or can be
        resumed from), ``df.attrs["steps"]`` has every step; the run is in %dli_history.

        Examples::

            %dli_restart 131 130
            %dli_restart 130-138 --stable 30 --strict
            %dli_restart $ids --dry-run                  # the plan; no stop or run is sent
            df = %dli_restart $crashing --allow-no-savepoint
            h = %dli_restart $ids --stable 60 --background   # keep working; h.result() later
        """
        return self._operation("restart", self.dli_restart, line, local_ns, lambda args, ids, **kw: api.restart_jobs(
            ids, stable=args.stable, allow_no_savepoint=args.allow_no_savepoint, start_stopped=args.start_stopped,
            dry_run=args.dry_run, timeout=args.timeout, strict=args.strict, yes=args.yes, chunk_size=args.chunk_size,
            background=args.background, **kw,
        ))

    @magic_arguments()
    @_IDS_ARGUMENT
    @argument("--path", metavar="OBS_DIR",
              help="Where the savepoints go: obs://bucket/dir/ (default: each job's OBS bucket, /{job_id}/savepoint/).")
    @argument("--timeout", type=_seconds, metavar="S",
              help="Seconds to wait at most for the savepoints (default: wait_timeout, 600).")
    @argument("--dry-run", action="store_true", help="Read the jobs and show the requests; send none.")
    @argument("--strict", action="store_true", help="Raise JobsFailedError if a savepoint failed or is unknown.")
    @_OUT_OPTION
    @_PROFILE_OPTION
    @argument("--yes", action="store_true", help="Take more than 300 savepoints in one call (one request per job).")
    @needs_local_scope
    @no_var_expand
    @line_magic
    def dli_savepoint(self, line: str = "", local_ns: Any = None):
        """Take a savepoint of running Flink jobs without stopping them; one DataFrame row per job
        with the new ``savepoint_path`` (read back once the job left job_savepointing).

        Examples::

            %dli_savepoint 131 130
            %dli_savepoint 130-138 --path obs://my-bucket/savepoints/
        """
        return self._operation("savepoint", self.dli_savepoint, line, local_ns, lambda args, ids, **kw: api.savepoint_jobs(
            ids, args.path, timeout=args.timeout, strict=args.strict, dry_run=args.dry_run, yes=args.yes, **kw,
        ))


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
    magic._unloaded = True  # an open panel can no longer use this session
    magic._secrets.clear()
    magic.close_clients()
    for kind, names in magic.magics.items():
        for name in names:
            ipython.magics_manager.magics[kind].pop(name, None)
    ipython.magics_manager.registry.pop(type(magic).__name__, None)
    if magic in ipython.configurables:
        ipython.configurables.remove(magic)
