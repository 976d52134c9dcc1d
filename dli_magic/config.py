"""Settings: one frozen object, resolved from arguments, %config, environment and a profile file.

Order (first wins): explicit arguments > ``%config DliMagic.<name>`` > environment (``DLI_*``, then
the official SDK's ``HUAWEICLOUD_SDK_*``) > profile file (``~/.config/dli-magic/config.toml``) >
defaults. Every value remembers where it came from (``Settings.sources``) so ``%dli_config`` can
answer "why is it using that endpoint?". Secrets never appear in a repr. No third-party imports.
"""

from __future__ import annotations

import difflib
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
from .errors import PROFILE_FILE_HINT, UNKNOWN_SETTING_HINT, ConfigError
from .redaction import REDACTED, SECRET_MIN_LENGTH

SECRET_FIELDS = frozenset({"auth_token", "sk", "password"})

CHUNK_SIZE_MAX = 10_000
MAX_WORKERS_MAX = 64

# Open Telekom Cloud regions; every other region is a Huawei Cloud one (dli-api.md section 3).
OTC_REGIONS = frozenset({"eu-de", "eu-nl"})
HUAWEI_EU_REGIONS = frozenset({"eu-west-101"})

ENV_PREFIX = "DLI_"
ENV_PROFILE = "DLI_PROFILE"
# Fallbacks read only when the DLI_ variable is unset: the official SDK's names.
SDK_ENV_FALLBACKS = {
    "ak": contract.SDK_ENV_AK,
    "sk": contract.SDK_ENV_SK,
    "project_id": contract.SDK_ENV_PROJECT_ID,
}


def source_rank(source: str) -> int:
    """Priority of the layer a ``Settings.sources`` value names; lower wins. Explicit arguments and
    what ``%dli_login`` asked for (0) > ``%config`` (1) > environment (2) > profile file (3) >
    defaults (4) > anything else, such as "derived from ..." (5)."""
    if source in ("argument", "%dli_login"):
        return 0
    if source == "%config":
        return 1
    if source.startswith("env "):
        return 2
    if source.startswith("profile "):
        return 3
    if source == "default":
        return 4
    return 5


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
        return [
            (name, "" if value is None else str(value), self.sources.get(name, "default"))
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
        return f"Settings({shown})"

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
    for name in ("endpoint", "iam_endpoint"):
        value = getattr(s, name)
        if value is not None:
            parts = urlsplit(value)
            if "@" in parts.netloc:  # user:password@host: never echo the value
                raise ConfigError(
                    f"Setting {name} (from {src.get(name, 'default')}) must not carry credentials in the URL; "
                    "use the auth settings."
                )
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise _bad(name, value, "must be a URL like https://dli.eu-de.otc.t-systems.com", src)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _coerce(name: str, value: object, origin: str) -> object:
    """Turn a raw value (env strings, TOML values, traitlets) into the setting's type."""
    kind = _TYPES[name]
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
    text = str(value) if name in SECRET_FIELDS else str(value).strip()  # a password may end in a space
    if name in ("endpoint", "iam_endpoint"):
        text = text.rstrip("/")
    return text


def _unknown_key(key: str, origin: str) -> ConfigError:
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
    return Path(base) / "dli-magic" / "config.toml"


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Profile file {path} is not valid TOML: {exc}", hint=PROFILE_FILE_HINT) from None
    except OSError as exc:
        raise ConfigError(f"Profile file {path} cannot be read: {exc.strerror}", hint=PROFILE_FILE_HINT) from None


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
    """(DLI endpoint, IAM endpoint) of a region."""
    if region in OTC_REGIONS:
        suffix = "otc.t-systems.com"
    elif region in HUAWEI_EU_REGIONS:
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


def _redact_known(error: ConfigError, layers: list[Mapping[str, Any]]) -> ConfigError:
    """A secret pasted into the wrong setting must not be echoed by the error about it."""
    secrets = {str(layer.get(name)) for layer in layers for name in SECRET_FIELDS if not _unset(layer.get(name))}
    secrets |= {str(layer.get(env_var(n))) for layer in layers for n in SECRET_FIELDS if not _unset(layer.get(env_var(n)))}
    secrets |= {str(layer.get(v)) for layer in layers for v in SDK_ENV_FALLBACKS.values() if not _unset(layer.get(v))}
    # Shorter values are left in the text (see SECRET_MIN_LENGTH): "t" would turn "requested" into
    # "reques***ed".
    secrets = {secret for secret in secrets if len(secret) >= SECRET_MIN_LENGTH}
    for secret in sorted(secrets, key=len, reverse=True):
        error.message = error.message.replace(secret, REDACTED)
    error.args = (error.message,)
    return error


def resolve_settings(
    explicit: Mapping[str, Any] | None = None,
    magic_config: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    profile: str | None = None,
    profile_path: str | os.PathLike | None = None,
) -> Settings:
    """Merge the layers (first wins) into a validated ``Settings`` with per-field sources."""
    environ = os.environ if environ is None else environ
    profile_values: dict[str, Any] = {}
    try:
        return _resolve(explicit, magic_config, environ, profile, profile_path, profile_values)
    except ConfigError as error:
        raise _redact_known(error, [explicit or {}, magic_config or {}, environ, profile_values]) from None


def _resolve(explicit, magic_config, environ, profile, profile_path, profile_out: dict) -> Settings:
    explicit = dict(explicit or {})
    magic_config = dict(magic_config or {})
    for origin, layer in (("argument", explicit), ("%config", magic_config)):
        for key in layer:
            if key not in FIELD_NAMES:
                raise _unknown_key(key, origin)

    # Which profile: argument > explicit/%config "profile" > DLI_PROFILE; [default] otherwise.
    profile_name, profile_origin = profile, "argument"
    for origin, layer in (("argument", explicit), ("%config", magic_config)):
        if profile_name is None and not _unset(layer.get("profile")):
            profile_name, profile_origin = str(layer["profile"]).strip(), origin
    if profile_name is None and not _unset(environ.get(ENV_PROFILE)):
        profile_name, profile_origin = environ[ENV_PROFILE].strip(), f"env {ENV_PROFILE}"
    path = Path(profile_path) if profile_path is not None else default_profile_path(environ)
    profile_values = load_profile(profile_name, path, required=profile_name is not None)
    profile_out.update(profile_values)
    profile_label = f"profile {profile_name or 'default'} ({path})"
    for key in profile_values:
        if key not in FIELD_NAMES or key == "profile":
            raise _unknown_key(key, profile_label)

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name in FIELD_NAMES:
        if name == "profile":
            continue
        candidates: list[tuple[str, Any]] = [
            ("argument", explicit.get(name)),
            ("%config", magic_config.get(name)),
            (f"env {env_var(name)}", environ.get(env_var(name))),
        ]
        if name in SDK_ENV_FALLBACKS:
            fallback = SDK_ENV_FALLBACKS[name]
            candidates.append((f"env {fallback}", environ.get(fallback)))
        candidates.append((profile_label, profile_values.get(name)))
        for origin, raw in candidates:
            if not _unset(raw):
                values[name] = _coerce(name, raw, origin)
                sources[name] = origin
                break
    if profile_name is not None or profile_values:
        values["profile"] = profile_name or "default"
        sources["profile"] = profile_origin if profile_name is not None else "default"

    _derive_endpoints(values, sources, lambda name: source_rank(sources[name]))
    for name in FIELD_NAMES:
        sources.setdefault(name, "default")
    return Settings(**values, sources=sources)


def _derive_endpoints(values: dict[str, Any], sources: dict[str, str], rank) -> None:
    """Fill in (in place) what region, endpoint and iam_endpoint imply about each other.

    ``values`` holds only what was set (None or absent = unset); ``rank(name)`` is the priority of
    a set field's layer, lower wins. Region alone → both hosts; endpoint alone → its region and IAM
    host. When both are set and disagree, the one from the higher layer wins and the other is
    derived from it; on the same layer both are kept as given.
    """
    region, endpoint = values.get("region"), values.get("endpoint")
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
    if region is not None and region != endpoint_region and rank("region") < rank("endpoint"):
        values["endpoint"], derived_iam = _region_hosts(region)
        sources["endpoint"] = "derived from region"
        # an iam_endpoint set below the region went with the endpoint the region overrode
        if not has_iam or rank("iam_endpoint") > rank("region"):
            values["iam_endpoint"], sources["iam_endpoint"] = derived_iam, "derived from region"
        return
    # The endpoint wins (or there is no region). A dli.<region>. host names its region. Any other
    # host (emulator, proxy, private endpoint) names none, so a region set on a lower layer is kept:
    # IAM project lookup and the password login's project scope need a region name, and it is the
    # only one there is.
    if endpoint_region and endpoint_region != region and (region is None or rank("endpoint") < rank("region")):
        values["region"], sources["region"] = endpoint_region, "derived from endpoint"
    if not has_iam:
        values["iam_endpoint"] = iam_from_endpoint(endpoint)
        sources["iam_endpoint"] = "derived from endpoint"


def with_overrides(settings: Settings, overrides: Mapping[str, Any]) -> Settings:
    """``settings`` with some fields replaced by explicit arguments (source "argument")."""
    try:
        return _with_overrides(settings, overrides)
    except ConfigError as error:
        raise _redact_known(error, [overrides, settings.__dict__]) from None


def _with_overrides(settings: Settings, overrides: Mapping[str, Any]) -> Settings:
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
