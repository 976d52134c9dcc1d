"""Settings resolution: precedence, sources, profiles, derivation, fallbacks, bad input."""

from __future__ import annotations

import pytest

from dli_magic.client import DliClient
from dli_magic.config import Settings, resolve_settings
from dli_magic.errors import ConfigError

SECRET = "cfg-secret-token-value-0001"


def test_precedence_every_level(write_profile):
    path = write_profile(
        '[default]\nendpoint = "https://p.example"\nregion = "eu-nl"\nproject_id = "from-profile"\n'
        'chunk_size = 7\nmax_workers = 3\nread_timeout = 11\n',
    )
    environ = {"DLI_ENDPOINT": "https://env.example", "DLI_PROJECT_ID": "from-env", "DLI_CHUNK_SIZE": "8",
               "DLI_MAX_WORKERS": "5"}
    s = resolve_settings(
        explicit={"endpoint": "https://arg.example"},
        magic_config={"endpoint": "https://cfg.example", "project_id": "from-config", "chunk_size": 9},
        environ=environ,
        profile_path=path,
    )
    assert (s.endpoint, s.project_id, s.chunk_size, s.max_workers, s.read_timeout, s.region) == (
        "https://arg.example", "from-config", 9, 5, 11.0, "eu-nl"
    )
    assert s.sources["endpoint"] == "argument"
    assert s.sources["project_id"] == "%config"
    assert s.sources["max_workers"] == "env DLI_MAX_WORKERS"
    assert s.sources["read_timeout"] == f"profile default ({path})"
    assert s.sources["connect_timeout"] == "default"
    assert ("chunk_size", "9", "%config") in s.describe()


def test_none_and_empty_values_fall_through():
    s = resolve_settings(explicit={"endpoint": None}, magic_config={"endpoint": ""},
                         environ={"DLI_ENDPOINT": "https://env.example"})
    assert s.endpoint == "https://env.example" and s.sources["endpoint"] == "env DLI_ENDPOINT"


def test_named_profile_by_argument_and_env(write_profile):
    path = write_profile('[default]\nproject_id = "d"\n[prod]\nproject_id = "p"\n[test]\nproject_id = "t"\n')
    assert resolve_settings(environ={}, profile_path=path).project_id == "d"
    chosen = resolve_settings(environ={"DLI_PROFILE": "test"}, profile_path=path)
    assert chosen.project_id == "t" and chosen.profile == "test" and chosen.sources["profile"] == "env DLI_PROFILE"
    # the argument wins over DLI_PROFILE
    assert resolve_settings(environ={"DLI_PROFILE": "test"}, profile="prod", profile_path=path).project_id == "p"
    assert resolve_settings(explicit={"profile": "prod"}, environ={}, profile_path=path).project_id == "p"


def test_missing_profile_names_the_known_ones(tmp_path, write_profile):
    path = write_profile("[default]\n[prod]\n")
    with pytest.raises(ConfigError) as info:
        resolve_settings(environ={}, profile="prd", profile_path=path)
    assert "prod" in str(info.value) and "Did you mean 'prod'" in str(info.value)
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_settings(environ={}, profile="x", profile_path=tmp_path / "none.toml")


def test_profile_file_default_location_honours_xdg(tmp_path):
    (tmp_path / "xdg" / "dli-magic").mkdir(parents=True)
    (tmp_path / "xdg" / "dli-magic" / "config.toml").write_text('[default]\nregion = "eu-de"\n')
    s = resolve_settings(environ={"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert s.region == "eu-de" and s.sources["region"].startswith("profile default (")
    home = tmp_path / "home"
    (home / ".config" / "dli-magic").mkdir(parents=True)
    (home / ".config" / "dli-magic" / "config.toml").write_text('[default]\nregion = "eu-nl"\n')
    assert resolve_settings(environ={"HOME": str(home)}).region == "eu-nl"


def test_bad_toml_and_unknown_profile_key(write_profile):
    with pytest.raises(ConfigError, match="not valid TOML"):
        resolve_settings(environ={}, profile_path=write_profile("[default\n"))
    path = write_profile('[default]\nendpiont = "https://x"\n')
    with pytest.raises(ConfigError, match="Did you mean 'endpoint'"):
        resolve_settings(environ={}, profile_path=path)


@pytest.mark.parametrize(
    "region, endpoint, iam",
    [
        ("eu-de", "https://dli.eu-de.otc.t-systems.com", "https://iam.eu-de.otc.t-systems.com"),
        ("eu-nl", "https://dli.eu-nl.otc.t-systems.com", "https://iam.eu-nl.otc.t-systems.com"),
        ("ap-southeast-1", "https://dli.ap-southeast-1.myhuaweicloud.com", "https://iam.ap-southeast-1.myhuaweicloud.com"),
        ("eu-west-101", "https://dli.eu-west-101.myhuaweicloud.eu", "https://iam.eu-west-101.myhuaweicloud.eu"),
    ],
)
def test_region_derives_endpoints(region, endpoint, iam):
    s = resolve_settings(environ={"DLI_REGION": region})
    assert (s.endpoint, s.iam_endpoint) == (endpoint, iam)
    assert s.sources["endpoint"] == s.sources["iam_endpoint"] == "derived from region"


def test_endpoint_derives_region_and_iam():
    s = resolve_settings(environ={"DLI_ENDPOINT": "https://dli.eu-nl.otc.t-systems.com/"})
    assert s.endpoint == "https://dli.eu-nl.otc.t-systems.com"  # trailing slash dropped
    assert s.region == "eu-nl" and s.iam_endpoint == "https://iam.eu-nl.otc.t-systems.com"
    local = resolve_settings(environ={"DLI_ENDPOINT": "http://127.0.0.1:8123"})
    assert local.iam_endpoint == "http://127.0.0.1:8123"  # an emulator serves IAM itself
    assert local.sources["iam_endpoint"] == "derived from endpoint"


def test_sdk_env_fallbacks_and_dli_names_win():
    env = {"HUAWEICLOUD_SDK_AK": "sdk-ak", "HUAWEICLOUD_SDK_SK": "sdk-sk", "HUAWEICLOUD_SDK_PROJECT_ID": "sdk-p"}
    s = resolve_settings(environ=env)
    assert (s.ak, s.sk, s.project_id) == ("sdk-ak", "sdk-sk", "sdk-p")
    assert s.sources["ak"] == "env HUAWEICLOUD_SDK_AK"
    s2 = resolve_settings(environ={**env, "DLI_AK": "dli-ak"})
    assert s2.ak == "dli-ak" and s2.sources["ak"] == "env DLI_AK"


def test_unknown_key_suggests_close_match():
    with pytest.raises(ConfigError, match="Did you mean 'auth_token'"):
        resolve_settings(explicit={"auth_tokn": "x"}, environ={})
    with pytest.raises(ConfigError, match="from %config.*Did you mean 'chunk_size'"):
        resolve_settings(magic_config={"chunksize": 3}, environ={})


@pytest.mark.parametrize(
    "layer, key, value, match",
    [
        ("explicit", "connect_timeout", -1, "positive"),
        ("explicit", "read_timeout", 0, "positive"),
        ("explicit", "chunk_size", 0, "1 to 10000"),
        ("explicit", "chunk_size", 10_001, "1 to 10000"),
        ("explicit", "max_retries", -1, "0 to 20"),
        ("env", "DLI_MAX_WORKERS", "many", "not a valid int"),
        ("env", "DLI_ALLOW_HTTP", "perhaps", "not a valid bool"),
        ("env", "DLI_CHUNK_SIZE", "2.5", "not a valid int"),
        ("explicit", "endpoint", "ftp://x", "URL"),
    ],
)
def test_bad_values(layer, key, value, match):
    kwargs = {"explicit": {key: value}, "environ": {}} if layer == "explicit" else {"environ": {key: value}}
    with pytest.raises(ConfigError, match=match):
        resolve_settings(**kwargs)


def test_bool_and_number_coercion_from_env():
    s = resolve_settings(environ={"DLI_ALLOW_HTTP": "yes", "DLI_VERIFY_TLS": "0", "DLI_DEBUG": "1",
                                  "DLI_RETRY_DEADLINE": "2.5", "DLI_HISTORY_PATH": "/tmp/h.jsonl"})
    assert (s.allow_http, s.verify_tls, s.debug, s.retry_deadline, s.history_path) == (
        True, False, True, 2.5, "/tmp/h.jsonl"
    )


def test_secrets_redacted_everywhere():
    s = resolve_settings(explicit={"auth_token": SECRET, "sk": SECRET + "sk", "ak": "AKID", "password": SECRET + "pw"},
                         environ={})
    assert SECRET not in repr(s) and SECRET not in str(s)
    assert SECRET not in str(s.describe()) and SECRET not in str(s.redacted())
    assert s.redacted()["auth_token"] == "***" and s.redacted()["ak"] == "AKID"
    assert s.redacted()["username"] is None
    with pytest.raises(ConfigError) as info:
        resolve_settings(explicit={"password": SECRET, "chunk_size": "x"}, environ={})
    assert SECRET not in str(info.value)


def test_http_refused_for_remote_hosts_allowed_for_loopback():
    with pytest.raises(ConfigError, match="Refusing plain http://"):
        DliClient(endpoint="http://dli.example.com", auth_token="t")
    with pytest.raises(ConfigError, match="Refusing plain http://"):
        DliClient(endpoint="http://10.0.0.5:8000", auth_token="t")
    for host in ("127.0.0.1:9", "127.8.9.10", "localhost:80", "[::1]:8000"):
        assert DliClient(endpoint=f"http://{host}", auth_token="t").endpoint == f"http://{host}"
    assert DliClient(endpoint="http://dli.example.com", allow_http=True, auth_token="t").endpoint


def test_no_endpoint_and_credentials_in_url_are_config_errors():
    with pytest.raises(ConfigError, match="DLI_ENDPOINT"):
        DliClient(Settings())
    with pytest.raises(ConfigError, match="credentials in the URL"):
        DliClient(endpoint="https://user:pw@dli.example.com")


def test_client_overrides_apply_on_top_of_settings():
    base = resolve_settings(environ={"DLI_ENDPOINT": "https://a.example", "DLI_CHUNK_SIZE": "5"})
    client = DliClient(base, chunk_size=50)
    assert client.settings.chunk_size == 50 and client.settings.sources["chunk_size"] == "argument"
    assert client.settings.endpoint == "https://a.example"
    with pytest.raises(ConfigError, match="Did you mean"):
        DliClient(base, endpopint="x")


def test_settings_built_directly_are_validated_too():
    with pytest.raises(ConfigError, match="chunk_size"):
        Settings(chunk_size=0)
    with pytest.raises(ConfigError, match="max_workers"):
        Settings(max_workers=True)
    assert Settings(chunk_size=10_000).chunk_size == 10_000
