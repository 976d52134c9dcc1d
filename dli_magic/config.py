"""Settings: one frozen object, resolved from arguments, %config, environment and a profile file.

Order (first wins): explicit arguments > ``%dli_login`` > ``%config DliMagic.<name>`` > environment
(``DLI_*``, then the official SDK's ``HUAWEICLOUD_SDK_*``) > profile file
(``~/.config/dli-magic/config.toml``) > defaults. A profile that is named (``--profile`` / ``profile=``
for one call, ``%config`` or ``DLI_PROFILE`` for the session) is an explicit choice: it sits right
below the layer that named it, so it wins over the environment (and a call's profile over the
session's ``%config`` and ``%dli_login``) for every setting it defines. Every value remembers where it
came from (``Settings.sources``) so ``%dli_config`` can answer "why is it using that endpoint?".
Secrets never appear in a repr, and every secret value of every layer is registered with the one
scrubber before anything is checked. ``checked_base_url`` checks an endpoint URL before a client
uses it (its shape; plain http only to a loopback host or with ``allow_http``). No third-party imports.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping
from urllib.parse import urlsplit

from . import contract
from .errors import PLAIN_HTTP_HINT, PROFILE_FILE_HINT, UNKNOWN_SETTING_HINT, ConfigError
from .redaction import REDACTED, add_secret_finder, find_secrets, register_secrets, scrub, scrub_in_use

SECRET_FIELDS = frozenset({"auth_token", "sk", "password"})

CHUNK_SIZE_MAX = 10_000
MAX_WORKERS_MAX = 64

# Open Telekom Cloud regions; every other region is a Huawei Cloud one (dli-api.md section 3).
OTC_REGIONS = frozenset({"eu-de", "eu-nl"})
HUAWEI_EU_REGIONS = frozenset({"eu-west-101"})

ENV_PREFIX = "DLI_"
ENV_PROFILE = "DLI_PROFILE"
# How a named profile's source reads, by who named it; source_rank() ranks on these endings.
CHOSEN_FOR_CALL = ", chosen for this call"
CHOSEN_BY = ", chosen by "
# A project id goes into every URL path: what the service issues (32 hex characters) and what the
# emulator accepts, nothing that could change the path.
_PROJECT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# A region is a host label (eu-de, ap-southeast-1) or an IAM project name (eu-de_sub): no dots,
# slashes, spaces or non-ASCII, which would change the derived host.
_REGION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_SPACE = re.compile(r"\s")  # what str.isspace() calls a space, anywhere
# Fallbacks read only when the DLI_ variable is unset: the official SDK's names.
SDK_ENV_FALLBACKS = {
    "ak": contract.SDK_ENV_AK,
    "sk": contract.SDK_ENV_SK,
    "project_id": contract.SDK_ENV_PROJECT_ID,
}


def source_rank(source: str) -> int:
    """Priority of the layer a ``Settings.sources`` value names; lower wins. Explicit arguments (0) >
    a profile named for this call (1) > what ``%dli_login`` asked for (2) > ``%config`` (3) > a
    profile named by ``%config`` or ``DLI_PROFILE`` (4) > environment (5) > the [default] profile
    (6) > defaults (7) > anything else, such as "derived from ..." (8)."""
    if source == "argument":
        return 0
    if source.startswith("profile "):
        if source.endswith(CHOSEN_FOR_CALL):
            return 1
        return 4 if CHOSEN_BY in source else 6
    if source == "%dli_login":
        return 2
    if source == "%config":
        return 3
    if source.startswith("env "):
        return 5
    if source == "default":
        return 7
    return 8


@dataclass(frozen=True)
class Settings:
    endpoint: str | None = None
    region: str | None = None
    project_id: str | None = None
    auth_token: str | None = None
    ak: str | None = None
    sk: str | None = None
    username: str | None = None
    password: str | None = None
    domain: str | None = None
    iam_endpoint: str | None = None
    profile: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    max_retries: int = 4  # retries after the first attempt
    retry_deadline: float = 30.0  # total seconds spent retrying one call
    backoff_base: float = 0.5  # first backoff delay; doubles per retry, with jitter
    chunk_size: int = 100
    # 8 parallel chunk requests stay under the API gateway's default throttle (200 calls/s per API)
    # at cloud round-trip times, and gain most of what parallel chunks can (benchmarks/RESULTS.md).
    max_workers: int = 8
    allow_http: bool = False
    verify_tls: bool = True
    wait_timeout: float = 600.0
    poll_interval: float = 2.0
    history: bool = True
    history_path: str | None = None
    debug: bool = False
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", MappingProxyType(dict(self.sources)))
        register_secrets(*(getattr(self, name) for name in SECRET_FIELDS))  # before any check can echo one
        _check_values(self)

    def redacted(self) -> dict[str, object]:
        """Every setting by name; secrets become "***" when set and stay None when not."""
        out: dict[str, object] = {}
        for name in FIELD_NAMES:
            value = getattr(self, name)
            out[name] = (REDACTED if value is not None else None) if name in SECRET_FIELDS else value
        return out

    def describe(self) -> list[tuple[str, str, str]]:
        """``(name, redacted value, source)`` rows for ``%dli_config``."""
        # scrub: a secret of any layer pasted into a non-secret setting (a region, a project id) shows as *** too
        find_secrets()
        return [
            (name, "" if value is None else scrub(str(value)), self.sources.get(name, "default"))
            for name, value in self.redacted().items()
        ]

    def source(self, name: str) -> str:
        return self.sources.get(name, "default")

    def auth_method(self) -> str | None:
        """Which credentials a client will use: "token", "aksk", "password" or None.

        The kind comes from the highest-priority layer holding a complete credential (AK/SK ranks by
        the worse of its two sources, username + password by the password's); within one layer,
        token > AK/SK > password."""
        rank = lambda name: source_rank(self.source(name))  # noqa: E731
        complete: list[tuple[int, int, str]] = []
        if self.auth_token:
            complete.append((rank("auth_token"), 0, "token"))
        if self.ak and self.sk:
            complete.append((max(rank("ak"), rank("sk")), 1, "aksk"))
        if self.username and self.password:
            complete.append((rank("password"), 2, "password"))
        return min(complete)[2] if complete else None

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.redacted().items() if v is not None)
        return scrub_in_use(f"Settings({shown})")

    __str__ = __repr__


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Settings) if f.name != "sources")
_DEFAULTS = {f.name: f.default for f in fields(Settings) if f.name != "sources"}
_TYPES: dict[str, type] = {
    name: (type(default) if default is not None else str) for name, default in _DEFAULTS.items()
}


def env_var(name: str) -> str:
    """The environment variable of a setting, e.g. ``auth_token`` → ``DLI_AUTH_TOKEN``."""
    return ENV_PREFIX + name.upper()


# --- value checks -------------------------------------------------------------------------------

_POSITIVE = ("connect_timeout", "read_timeout", "poll_interval")
_NON_NEGATIVE = ("retry_deadline", "backoff_base", "wait_timeout")


def _bad(name: str, value: object, why: str, sources: Mapping[str, str]) -> ConfigError:
    shown = REDACTED if name in SECRET_FIELDS else repr(value)
    return ConfigError(f"Setting {name}={shown} (from {sources.get(name, 'default')}) {why}.")


def _check_values(s: Settings) -> None:
    src = s.sources
    for name in _POSITIVE:
        value = getattr(s, name)
        if not _is_number(value) or not value > 0 or math.isinf(value):
            raise _bad(name, value, "must be a positive number of seconds", src)
    for name in _NON_NEGATIVE:
        value = getattr(s, name)
        if not _is_number(value) or not value >= 0 or math.isinf(value):
            raise _bad(name, value, "must be a number of seconds >= 0", src)
    if not _is_int(s.max_retries) or not 0 <= s.max_retries <= 20:
        raise _bad("max_retries", s.max_retries, "must be an integer from 0 to 20", src)
    if not _is_int(s.chunk_size) or not 1 <= s.chunk_size <= CHUNK_SIZE_MAX:
        raise _bad("chunk_size", s.chunk_size, f"must be an integer from 1 to {CHUNK_SIZE_MAX}", src)
    if not _is_int(s.max_workers) or not 1 <= s.max_workers <= MAX_WORKERS_MAX:
        raise _bad("max_workers", s.max_workers, f"must be an integer from 1 to {MAX_WORKERS_MAX}", src)
    _check_no_secret_inside(s)
    # Before the URLs: an endpoint derived from a bad region would be reported in its place.
    if s.project_id is not None and not _PROJECT_ID.fullmatch(s.project_id):
        raise ConfigError(
            f"Setting project_id (from {src.get('project_id', 'default')}) {_why_not(s.project_id)}; a "
            "project id is ASCII letters, digits, '-' or '_' (DLI's are 32 hex characters)."
        )
    if s.region is not None:
        _check_region(s.region, src)
    for name in ("endpoint", "iam_endpoint"):
        value = getattr(s, name)
        if value is not None:
            try:
                parts = urlsplit(value)
                port = parts.port  # ValueError for a port that is not a number from 0 to 65535
            except ValueError:  # also "Invalid IPv6 URL" for an unclosed [
                raise _bad(name, value, "is not a usable URL (check the host, and that a port is a number "
                           "from 1 to 65535)", src) from None
            if "@" in parts.netloc:  # user:password@host: never echo the value
                raise ConfigError(
                    f"Setting {name} (from {src.get(name, 'default')}) must not carry credentials in the URL; "
                    "use the auth settings."
                )
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise _bad(name, value, "must be a URL like https://dli.eu-de.otc.t-systems.com", src)
            if port == 0 or _SPACE.search(parts.netloc):
                raise _bad(name, value, "is not a usable URL (check the host, and that a port is a number "
                           "from 1 to 65535)", src)
            if parts.path.strip("/"):
                # The client appends /v1.0/{project_id}/… (and IAM's /v3/…): a path here would be
                # sent twice, or to another API.
                added = "/v3/…" if name == "iam_endpoint" else "/v1.0/{project_id}/…"
                raise _bad(
                    name, value,
                    f"has a path ({parts.path}); give the base URL only, {parts.scheme}://{parts.netloc} "
                    f"(the client adds {added})", src,
                )



# A secret this long found inside another setting was pasted there: its value would travel in URLs,
# run attributes and the run history, where no scrubber can follow it. Shorter ones are left to the
# scrubber (a 4-letter password may well be part of a user name).
_PASTED_SECRET_MIN_LENGTH = 8


def _check_no_secret_inside(s: Settings) -> None:
    secrets = [(name, getattr(s, name)) for name in sorted(SECRET_FIELDS)]
    secrets = [(name, value) for name, value in secrets if value and len(value) >= _PASTED_SECRET_MIN_LENGTH]
    if not secrets:
        return
    texts = [(name, value) for name in FIELD_NAMES
             if name not in SECRET_FIELDS and isinstance(value := getattr(s, name), str)]
    # what was set before what was derived from it: the region is named, not the host made of it
    for name, value in sorted(texts, key=lambda item: s.source(item[0]).startswith("derived")):
        for secret_name, secret in secrets:
            if secret in value:
                raise ConfigError(
                    f"Setting {name} (from {s.source(name)}) contains the value of {secret_name} (from "
                    f"{s.source(secret_name)}): a secret pasted into the wrong setting? Fix {name}; nothing was sent."
                )


def _check_region(region: str, sources: Mapping[str, str]) -> None:
    if not _REGION.fullmatch(region):
        raise ConfigError(
            f"Setting region (from {sources.get('region', 'default')}) {_why_not(region)}; a region is a name "
            "like eu-de or ap-southeast-1 (ASCII letters, digits, '-')."
        )


def _why_not(value: str) -> str:
    """What is wrong with an identifier, without quoting it (it may be a secret pasted there)."""
    if len(value) > 64:
        return f"is {len(value)} characters long (64 at most)"
    for char in value:
        if not char.isascii():
            return "contains a non-ASCII character"
        if char.isspace():
            return "contains a space or line break"
        if not (char.isalnum() or char in "-_"):
            return f"contains {char!r}"
    return "does not start with a letter or digit"


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _coerce(name: str, value: object, origin: str) -> object:
    """Turn a raw value (env strings, TOML values, traitlets) into the setting's type."""
    kind = _TYPES[name]
    if kind is not str and isinstance(value, str) and not value.isascii():
        # int("１٠") is 10 to Python: full-width or other scripts' digits are a paste error, never a number.
        raise ConfigError(
            f"Setting {name} (from {origin}) has non-ASCII characters (full-width or another script's "
            f"digits?); type it with ASCII 0-9."
        )
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
                return value.strip().lower() in _TRUE
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            raise ValueError
        if kind is int:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(str(value).strip()) if isinstance(value, str) else int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
    except (TypeError, ValueError):
        shown = REDACTED if name in SECRET_FIELDS else repr(value)
        raise ConfigError(
            f"Setting {name}={shown} (from {origin}) is not a valid {kind.__name__}."
        ) from None
    # A password may begin or end with a space; a token or a key never does: spaces around one are
    # a copy artefact that no header may carry.
    text = str(value) if name == "password" else str(value).strip()
    if name in ("endpoint", "iam_endpoint"):
        text = text.rstrip("/")
        try:  # here, before a region or an IAM host is derived from it
            urlsplit(text).port  # noqa: B018 -- ValueError: an unclosed [ or a port that is not a number
        except ValueError:
            raise ConfigError(
                f"Setting {name}={text!r} (from {origin}) is not a usable URL (check the host, and that a "
                "port is a number from 1 to 65535)."
            ) from None
    return text


def _unknown_key(key: str, origin: str) -> ConfigError:
    import difflib  # here: only a mistyped setting needs it

    close = difflib.get_close_matches(key, FIELD_NAMES, n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else f" Known settings: {', '.join(FIELD_NAMES)}."
    return ConfigError(f"Unknown setting {key!r} (from {origin}).{hint}", hint=UNKNOWN_SETTING_HINT)


def _unset(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


# --- profile file -------------------------------------------------------------------------------


def default_profile_path(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CONFIG_HOME") or os.path.join(
        environ.get("HOME") or os.path.expanduser("~"), ".config"
    )
    return Path(base, "dli-magic", "config.toml")


_PROFILE_MAX_BYTES = 2**20


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        with open(path, "rb") as fh:
            data = fh.read(_PROFILE_MAX_BYTES + 1)  # a wrong path (a disk image, /dev/zero) is not read whole
    except OSError as exc:
        raise ConfigError(f"Profile file {path} cannot be read: {exc.strerror}", hint=PROFILE_FILE_HINT) from None
    if len(data) > _PROFILE_MAX_BYTES:
        raise ConfigError(
            f"Profile file {path} is larger than {_PROFILE_MAX_BYTES // 2**20} MiB: not a profile file.",
            hint=PROFILE_FILE_HINT,
        )
    problem = _not_utf8_text(data)
    if problem:
        raise ConfigError(f"Profile file {path} {problem}", hint=PROFILE_FILE_HINT)
    text = data.decode("utf-8")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Profile file {path} is not valid TOML: {exc}", hint=PROFILE_FILE_HINT) from None


_BOMS = (  # longest first: a UTF-32 LE mark starts like a UTF-16 LE one
    (b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"),
)


def _not_utf8_text(data: bytes) -> str | None:
    """Why a profile file is not UTF-8 text without a BOM (as TOML requires), naming the encoding
    when its bytes say it; None when it is."""
    save = "TOML files are UTF-8: save it as UTF-8."
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return f"is {encoding} (it starts with a {encoding} byte-order mark); {save}"
    if data.startswith(b"\xef\xbb\xbf"):
        return "is UTF-8 with a byte-order mark (BOM), which TOML does not allow: save it as UTF-8 without BOM."
    if b"\x00" in data:
        # ASCII text in UTF-16 has a NUL in every other byte
        head = data[:256]
        if len(head) >= 4 and (head[1::2].count(0) * 2 >= len(head[1::2]) or head[0::2].count(0) * 2 >= len(head[0::2])):
            return f"is UTF-16 without a byte-order mark; {save}"
        return f"holds binary data (a NUL byte at offset {data.index(0)}), not TOML text."
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return (f"is not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}; saved as Latin-1 or "
                f"Windows-1252?); {save}")
    return None


def load_profile(name: str | None, path: Path, *, required: bool) -> dict[str, Any]:
    """The settings of one profile section (``[default]`` when name is None); {} when absent."""
    if not path.exists():
        if required:
            raise ConfigError(
                f"Profile {name!r} was requested but the profile file {path} does not exist.", hint=PROFILE_FILE_HINT
            )
        return {}
    data = _load_toml(path)
    section = name or "default"
    if section not in data:
        if required:
            known = ", ".join(sorted(k for k, v in data.items() if isinstance(v, dict))) or "none"
            import difflib

            close = difflib.get_close_matches(section, list(data), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"No profile [{section}] in {path} (profiles: {known}).{hint}", hint=PROFILE_FILE_HINT)
        return {}
    values = data[section]
    if not isinstance(values, dict):
        raise ConfigError(f"[{section}] in {path} must be a table of settings.", hint=PROFILE_FILE_HINT)
    return values


# --- resolution ---------------------------------------------------------------------------------


def _region_hosts(region: str) -> tuple[str, str]:
    """(DLI endpoint, IAM endpoint) of a region. Host names are case-insensitive, so EU-DE is eu-de's
    cloud; the host keeps the region as written (a secret pasted there stays recognisable to the
    scrubber)."""
    if region.lower() in OTC_REGIONS:
        suffix = "otc.t-systems.com"
    elif region.lower() in HUAWEI_EU_REGIONS:
        suffix = "myhuaweicloud.eu"
    else:
        suffix = "myhuaweicloud.com"
    return f"https://dli.{region}.{suffix}", f"https://iam.{region}.{suffix}"


_DLI_HOST = re.compile(r"^dli\.([a-z0-9-]+)\.(otc\.t-systems\.com|myhuaweicloud\.com|myhuaweicloud\.eu)$")


def region_from_endpoint(endpoint: str) -> str | None:
    match = _DLI_HOST.match(urlsplit(endpoint).hostname or "")
    return match.group(1) if match else None


def iam_from_endpoint(endpoint: str) -> str:
    """``dli.<rest>`` → ``iam.<rest>``; any other host (an emulator) serves IAM itself."""
    parts = urlsplit(endpoint)
    host = parts.hostname or ""  # never the netloc: it may carry user:password@
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # not a number: kept as written, as before
        port = parts.netloc.rpartition("@")[2].rpartition(":")[2]
    if port is not None:
        host = f"{host}:{port}"
    if host.startswith("dli."):
        host = "iam." + host[4:]
    return f"{parts.scheme}://{host}"


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def checked_base_url(url: str | None, settings: Settings, name: str) -> str:
    """The endpoint setting ``name`` (``endpoint`` / ``iam_endpoint``) without its trailing slash;
    ConfigError for a URL that is not a bare http(s) base, or plain http to a remote host
    without ``allow_http``."""
    if not url:
        raise ConfigError(
            f"No DLI endpoint: set {env_var('endpoint')} (e.g. https://dli.eu-de.otc.t-systems.com) "
            f"or {env_var('region')} (e.g. eu-de)."
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"Setting {name}={url!r} is not an http(s) URL.")
    if parts.username or parts.password:
        raise ConfigError(f"Setting {name} must not carry credentials in the URL; use the auth settings.")
    if parts.query or parts.fragment:
        raise ConfigError(f"Setting {name}={url!r} must not have a query or fragment.")
    try:
        parts.port  # noqa: B018 -- raises for a port that is not a number from 0 to 65535
    except ValueError:
        raise ConfigError(
            f"Setting {name}={url!r} has an invalid port: a port is a number from 1 to 65535."
        ) from None
    if parts.scheme == "http" and not settings.allow_http and not is_loopback(parts.hostname):
        raise ConfigError(
            f"Refusing plain http:// for {parts.hostname} ({name} from {settings.source(name)}): "
            f"credentials would travel unencrypted. Use https://, or set allow_http=True "
            f"({env_var('allow_http')}=1) for a trusted network.",
            hint=PLAIN_HTTP_HINT.format(name=name, env=env_var(name)),
        )
    return url.rstrip("/")


# Where a layer may hold a secret: the settings' names, their DLI_* variables and the SDK's.
_SECRET_KEYS = (*SECRET_FIELDS, *(env_var(n) for n in SECRET_FIELDS), SDK_ENV_FALLBACKS["sk"])


def register_layer_secrets(*layers: Mapping[str, Any] | None) -> None:
    """Register every secret value a layer holds (settings names, ``DLI_*`` and the SDK's variable
    names) with the one scrubber, as given and stripped: whatever error or output follows, in this
    call or later in the kernel, cannot echo one, even pasted into another setting."""
    for layer in layers:
        if not layer:
            continue
        for name in _SECRET_KEYS:
            value = layer.get(name)
            if isinstance(value, str) and not _unset(value):
                register_secrets(value, value.strip())


def register_secrets_in_use(login: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> None:
    """Register the secrets of every layer a call may use (``%dli_login``, the environment, every
    profile of the profile file) before a line is parsed: the ids of a magic are read before its
    settings, and an ``{expr}`` that fails may quote one. Best effort: an unreadable profile file is
    reported by the settings, not here."""
    environ = os.environ if environ is None else environ
    register_layer_secrets(login, environ)
    try:
        path = default_profile_path(environ)
        sections = _load_toml(path).values() if path.is_file() else ()
    except ConfigError:
        return
    register_layer_secrets(*(section for section in sections if isinstance(section, dict)))


# An error raised before any settings were read still masks the secrets of the environment and
# of the profile file (redaction.find_secrets).
add_secret_finder(register_secrets_in_use)


def resolve_settings(
    explicit: Mapping[str, Any] | None = None,
    magic_config: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    profile: str | None = None,
    profile_path: str | os.PathLike | None = None,
    login: Mapping[str, Any] | None = None,
) -> Settings:
    """Merge the layers (first wins) into a validated ``Settings`` with per-field sources.

    ``login`` holds what ``%dli_login`` asked for (source "%dli_login"); ``profile`` names a profile
    for this call, like ``explicit["profile"]``."""
    environ = os.environ if environ is None else environ
    register_layer_secrets(explicit, login, magic_config, environ)
    return _resolve(explicit, login, magic_config, environ, profile, profile_path)


def _named_profile(profile, explicit, magic_config, environ) -> tuple[str | None, str | None]:
    """(profile name, who named it: "argument", "%config", "env DLI_PROFILE" or None)."""
    if not _unset(profile):  # "" is unset, as on every layer
        name, origin = profile, "argument"
    elif not _unset(explicit.get("profile")):
        name, origin = explicit["profile"], "argument"
    elif not _unset(magic_config.get("profile")):
        name, origin = magic_config["profile"], "%config"
    elif not _unset(environ.get(ENV_PROFILE)):
        name, origin = environ[ENV_PROFILE], f"env {ENV_PROFILE}"
    else:
        return None, None
    if not isinstance(name, str):
        raise ConfigError(
            f"Setting profile (from {origin}) must be the name of a profile (a string), not {type(name).__name__}."
        )
    return name.strip(), origin


# Each setting's environment variables, in the order they are read: DLI_*, then the SDK's name.
_ENV_VARIABLES: dict[str, tuple[str, ...]] = {
    name: (env_var(name), *((SDK_ENV_FALLBACKS[name],) if name in SDK_ENV_FALLBACKS else ()))
    for name in FIELD_NAMES
}


def _first_set(name: str, layers: list[tuple[str, Mapping[str, Any]]]) -> tuple[str, Any] | None:
    """(source, raw value) of the first layer that sets ``name``; None when none does."""
    for origin, layer in layers:
        if origin == "env":
            for variable in _ENV_VARIABLES[name]:
                raw = layer.get(variable)
                if not _unset(raw):
                    return f"env {variable}", raw
        else:
            raw = layer.get(name)
            if not _unset(raw):
                return origin, raw
    return None


def _resolve(explicit, login, magic_config, environ, profile, profile_path) -> Settings:
    explicit = dict(explicit or {})
    login = dict(login or {})
    magic_config = dict(magic_config or {})
    for origin, layer in (("argument", explicit), ("%dli_login", login), ("%config", magic_config)):
        for key in layer:
            if key not in FIELD_NAMES:
                raise _unknown_key(key, origin)

    profile_name, named_by = _named_profile(profile, explicit, magic_config, environ)
    path = Path(profile_path) if profile_path is not None else default_profile_path(environ)
    profile_values = load_profile(profile_name, path, required=profile_name is not None)
    register_layer_secrets(profile_values)
    profile_label = f"profile {profile_name or 'default'} ({path})"
    if named_by == "argument":
        profile_label += CHOSEN_FOR_CALL
    elif named_by is not None:
        profile_label += CHOSEN_BY + named_by.removeprefix("env ")
    for key in profile_values:
        if key not in FIELD_NAMES or key == "profile":
            raise _unknown_key(key, profile_label)

    # The layers in order, first wins. A named profile is an explicit choice: it sits right below
    # the layer that named it, so its settings are never mixed with the environment's (an endpoint
    # from one service, a token from another).
    profile_layer = (profile_label, profile_values)
    layers: list[tuple[str, Mapping[str, Any]]] = [("argument", explicit)]
    if named_by == "argument":
        layers.append(profile_layer)
    layers += [("%dli_login", login), ("%config", magic_config)]
    if named_by in ("%config", f"env {ENV_PROFILE}"):
        layers.append(profile_layer)
    layers.append(("env", environ))
    if named_by is None:
        layers.append(profile_layer)

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    layers = [(origin, layer) for origin, layer in layers if layer]  # an empty layer sets nothing
    for name in FIELD_NAMES:
        if name == "profile":
            continue
        found = _first_set(name, layers)
        if found is not None:
            values[name] = _coerce(name, found[1], found[0])
            sources[name] = found[0]
    if profile_name is not None or profile_values:
        values["profile"] = profile_name or "default"
        sources["profile"] = named_by or "default"

    _derive_endpoints(values, sources, lambda name: source_rank(sources[name]))
    for name in FIELD_NAMES:
        sources.setdefault(name, "default")
    return Settings(**values, sources=sources)


def _same_region(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.lower() == b.lower()


def _target_conflict(region: str, endpoint: str, sources: Mapping[str, str]) -> ConfigError:
    """A region set above an endpoint it does not match: a change of service is never made silently."""
    return ConfigError(
        f"Setting region={region!r} (from {sources.get('region', 'default')}) does not match endpoint={endpoint} "
        f"(from {sources.get('endpoint', 'default')}), which is set on a lower layer; the region does not "
        f"replace it silently: to use {region}, set endpoint={_region_hosts(region)[0]} where the region is "
        "set, or unset the region."
    )


def _derive_endpoints(values: dict[str, Any], sources: dict[str, str], rank) -> None:
    """Fill in (in place) what region, endpoint and iam_endpoint imply about each other.

    ``values`` holds only what was set (None or absent = unset); ``rank(name)`` is the priority of
    a set field's layer, lower wins. Region alone → both hosts; endpoint alone → its region and IAM
    host. When both are set and disagree: an endpoint from a higher layer names the region (a
    dli.<region>. host) or keeps the lower region (any other host names none); a region from a
    higher layer is refused (ConfigError), since replacing the endpoint would silently change the
    service, and the IAM host the next login sends a password to. On one layer both are kept.
    """
    region, endpoint = values.get("region"), values.get("endpoint")
    if region is not None:
        _check_region(region, sources)  # before a host is made of it
    has_iam = values.get("iam_endpoint") is not None
    if region is not None and endpoint is None:
        values["endpoint"], derived_iam = _region_hosts(region)
        sources["endpoint"] = "derived from region"
        if not has_iam:
            values["iam_endpoint"], sources["iam_endpoint"] = derived_iam, "derived from region"
        return
    if endpoint is None:
        return
    endpoint_region = region_from_endpoint(endpoint)
    if region is not None and not _same_region(region, endpoint_region) and rank("region") < rank("endpoint"):
        raise _target_conflict(region, endpoint, sources)
    # The endpoint wins (or there is no region). A dli.<region>. host names its region. Any other
    # host (emulator, proxy, private endpoint) names none, so a region set on a lower layer is kept:
    # IAM project lookup and the password login's project scope need a region name, and it is the
    # only one there is.
    if endpoint_region and not _same_region(endpoint_region, region) and (
        region is None or rank("endpoint") < rank("region")
    ):
        values["region"], sources["region"] = endpoint_region, "derived from endpoint"
    if not has_iam:
        values["iam_endpoint"] = iam_from_endpoint(endpoint)
        sources["iam_endpoint"] = "derived from endpoint"


def with_overrides(settings: Settings, overrides: Mapping[str, Any]) -> Settings:
    """``settings`` with some fields replaced by explicit arguments (source "argument")."""
    register_layer_secrets(overrides)
    changes: dict[str, Any] = {}
    sources = dict(settings.sources)
    for key, raw in overrides.items():
        if key not in FIELD_NAMES:
            raise _unknown_key(key, "argument")
        if raw is None:
            continue
        changes[key] = _coerce(key, raw, "argument")
        sources[key] = "argument"
    if not changes:
        return settings
    if "region" in changes or "endpoint" in changes:
        # What was derived from the old region/endpoint is derived again from the new ones. The
        # overrides are the newest, most explicit layer: they outrank every value already set.
        linked = ("region", "endpoint", "iam_endpoint")
        values = {name: changes.get(name, getattr(settings, name)) for name in linked}
        for name in linked:
            if name not in changes and sources.get(name, "default").startswith("derived"):
                values[name], sources[name] = None, "default"
        _derive_endpoints(
            values, sources, lambda name: -1 if name in changes else source_rank(sources.get(name, "default"))
        )
        changes.update(values)
    return replace(settings, **changes, sources=sources)
