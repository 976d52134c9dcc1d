"""Settings: which layer wins across related fields (credential kind, region vs endpoint), overrides
re-deriving what was derived, and credentials embedded in endpoint URLs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dli_magic import config
from dli_magic.config import Settings, iam_from_endpoint, resolve_settings, with_overrides
from dli_magic.errors import ConfigError

DE = "https://dli.eu-de.otc.t-systems.com"
NL = "https://dli.eu-nl.otc.t-systems.com"
IAM_DE = "https://iam.eu-de.otc.t-systems.com"
IAM_NL = "https://iam.eu-nl.otc.t-systems.com"
URL_SECRET = "S3cret-in-url-0042"


def as_dli_login(settings: Settings, names) -> Settings:
    """What the magic does with the secrets %dli_login asked for."""
    sources = dict(settings.sources)
    sources.update({name: "%dli_login" for name in names})
    return replace(settings, sources=sources)


# --- source ranking -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "higher, lower",
    [
        ("argument", "profile k9 (/p/config.toml), chosen for this call"),
        ("profile k9 (/p/config.toml), chosen for this call", "%dli_login"),
        ("%dli_login", "%config"),
        ("%config", "profile k9 (/p/config.toml), chosen by %config"),
        ("profile k9 (/p/config.toml), chosen by DLI_PROFILE", "env DLI_AK"),
        ("env HUAWEICLOUD_SDK_AK", "profile default (/p/config.toml)"),
        ("profile prod (/p/config.toml)", "default"),
        ("default", "derived from region"),
    ],
)
def test_source_rank_orders_the_layers(higher, lower):
    assert config.source_rank(higher) < config.source_rank(lower)


def test_source_rank_ties_within_a_layer():
    assert config.source_rank("profile a (/x), chosen by %config") == config.source_rank("profile b (/y), chosen by DLI_PROFILE")
    assert config.source_rank("env DLI_AK") == config.source_rank("env HUAWEICLOUD_SDK_SK")
    assert config.source_rank("profile a (/x)") == config.source_rank("profile b (/y)")


# --- bug 1: the credential kind comes from the highest layer holding a complete credential ------


def test_explicit_aksk_beats_env_token():
    s = resolve_settings(explicit={"ak": "A", "sk": "S"}, environ={"DLI_AUTH_TOKEN": "T"})
    assert s.auth_method() == "aksk"


def test_config_password_beats_env_aksk_and_profile_token(write_profile):
    path = write_profile('[default]\nauth_token = "pt"\n')
    s = resolve_settings(magic_config={"username": "u", "password": "p"},
                         environ={"DLI_AK": "a", "DLI_SK": "s"}, profile_path=path)
    assert s.auth_method() == "password"


def test_dli_login_password_beats_env_aksk_and_env_token():
    s = resolve_settings(explicit={"password": "pw"},
                         environ={"DLI_USERNAME": "me", "DLI_AK": "a", "DLI_SK": "s", "DLI_AUTH_TOKEN": "t"})
    s = as_dli_login(s, ["password"])
    assert s.sources["password"] == "%dli_login"
    assert s.auth_method() == "password"


def test_aksk_ranked_by_the_worse_of_its_two_sources(write_profile):
    # ak as an argument but sk only in the profile: AK/SK sits at the profile layer, below the env token
    path = write_profile('[default]\nsk = "ps"\n')
    s = resolve_settings(explicit={"ak": "A"}, environ={"DLI_AUTH_TOKEN": "T"}, profile_path=path)
    assert s.auth_method() == "token"
    # both halves above the token: AK/SK
    s = resolve_settings(explicit={"ak": "A"}, magic_config={"sk": "S"}, environ={"DLI_AUTH_TOKEN": "T"})
    assert s.auth_method() == "aksk"


def test_password_ranked_by_the_password_source():
    s = resolve_settings(explicit={"username": "me"}, environ={"DLI_PASSWORD": "pw", "DLI_AK": "a", "DLI_SK": "s"})
    assert s.auth_method() == "aksk"  # same layer as the password: AK/SK wins the tie


def test_ties_within_one_layer_token_then_aksk_then_password():
    env = {"DLI_AUTH_TOKEN": "t", "DLI_AK": "a", "DLI_SK": "s", "DLI_USERNAME": "u", "DLI_PASSWORD": "p"}
    assert resolve_settings(environ=env).auth_method() == "token"
    env.pop("DLI_AUTH_TOKEN")
    assert resolve_settings(environ=env).auth_method() == "aksk"
    env.pop("DLI_SK")
    assert resolve_settings(environ=env).auth_method() == "password"
    env.pop("DLI_PASSWORD")
    assert resolve_settings(environ=env).auth_method() is None
    # mixed env names are one layer too
    s = resolve_settings(environ={"HUAWEICLOUD_SDK_AK": "a", "DLI_SK": "s", "DLI_AUTH_TOKEN": "t"})
    assert s.auth_method() == "token"


def test_settings_built_directly_keep_the_fixed_order():
    assert Settings(auth_token="t", ak="a", sk="s").auth_method() == "token"
    assert Settings(ak="a", sk="s", username="u", password="p").auth_method() == "aksk"
    assert Settings(username="u", password="p").auth_method() == "password"


# --- bug 2: region vs endpoint across layers -------------------------------------------------------


# A region set above an endpoint never replaces it: that would change the service (and the IAM
# host the next password login goes to) without a word. It is refused, naming both layers.


@pytest.mark.parametrize("endpoint", [DE, "http://127.0.0.1:8123", "https://dli-proxy.example"])
def test_a_higher_region_never_replaces_an_endpoint(endpoint):
    with pytest.raises(ConfigError) as info:
        resolve_settings(explicit={"region": "eu-nl"}, environ={"DLI_ENDPOINT": endpoint})
    assert info.value.message == (
        f"Setting region='eu-nl' (from argument) does not match endpoint={endpoint} (from env DLI_ENDPOINT), "
        "which is set on a lower layer; the region does not replace it silently: to use eu-nl, set "
        f"endpoint={NL} where the region is set, or unset the region."
    )
    with pytest.raises(ConfigError, match=r"from %config\) does not match endpoint=.* \(from env DLI_ENDPOINT"):
        resolve_settings(magic_config={"region": "eu-nl", "iam_endpoint": "https://iam-proxy.example"},
                         environ={"DLI_ENDPOINT": endpoint})


def test_a_higher_region_with_its_endpoint_on_the_same_layer_is_used(write_profile):
    path = write_profile(f'[default]\niam_endpoint = "{IAM_DE}"\n')
    s = resolve_settings(magic_config={"region": "eu-nl", "endpoint": NL}, environ={"DLI_ENDPOINT": DE},
                         profile_path=path)
    assert (s.endpoint, s.iam_endpoint) == (NL, IAM_DE)  # an iam_endpoint that is set is kept
    assert s.sources["endpoint"] == "%config"
    # a region that names the endpoint's own region is no conflict, in any case
    s = resolve_settings(magic_config={"region": "EU-DE"}, environ={"DLI_ENDPOINT": DE})
    assert (s.endpoint, s.region) == (DE, "EU-DE")


def test_explicit_endpoint_beats_env_region():
    s = resolve_settings(explicit={"endpoint": NL}, environ={"DLI_REGION": "eu-de"})
    assert (s.region, s.endpoint, s.iam_endpoint) == ("eu-nl", NL, IAM_NL)
    assert s.sources["region"] == "derived from endpoint"


def test_higher_custom_endpoint_keeps_the_lower_region():
    # a non-dli host names no region; the region is still what IAM project lookup needs
    s = resolve_settings(explicit={"endpoint": "https://dli-proxy.example"}, environ={"DLI_REGION": "eu-de"})
    assert (s.endpoint, s.region) == ("https://dli-proxy.example", "eu-de")
    assert s.sources["region"] == "env DLI_REGION"
    assert s.iam_endpoint == "https://dli-proxy.example"


def test_same_layer_region_and_endpoint_are_both_kept():
    s = resolve_settings(environ={"DLI_REGION": "eu-nl", "DLI_ENDPOINT": DE})
    assert (s.region, s.endpoint) == ("eu-nl", DE)
    assert s.sources["endpoint"] == "env DLI_ENDPOINT" and s.sources["region"] == "env DLI_REGION"


def test_agreeing_region_and_endpoint_are_left_alone(write_profile):
    path = write_profile('[default]\niam_endpoint = "https://iam-proxy.example"\n')
    s = resolve_settings(explicit={"region": "eu-de"}, environ={"DLI_ENDPOINT": DE}, profile_path=path)
    assert (s.endpoint, s.iam_endpoint) == (DE, "https://iam-proxy.example")
    assert s.sources["endpoint"] == "env DLI_ENDPOINT"
    s = resolve_settings(explicit={"endpoint": NL}, environ={"DLI_REGION": "eu-nl"})
    assert (s.region, s.sources["region"]) == ("eu-nl", "env DLI_REGION")


def test_region_alone_keeps_a_lower_iam_endpoint(write_profile):
    # unchanged behaviour: without a competing endpoint, any set iam_endpoint is kept
    path = write_profile('[default]\niam_endpoint = "https://iam-proxy.example"\n')
    s = resolve_settings(explicit={"region": "eu-nl"}, environ={}, profile_path=path)
    assert (s.endpoint, s.iam_endpoint) == (NL, "https://iam-proxy.example")


# --- bug 3: overrides re-derive what was derived ---------------------------------------------------


def test_override_region_rederives_endpoint_and_iam():
    s = resolve_settings(environ={"DLI_REGION": "eu-de"})
    s2 = with_overrides(s, {"region": "eu-nl"})
    assert (s2.region, s2.endpoint, s2.iam_endpoint) == ("eu-nl", NL, IAM_NL)
    assert s2.sources["region"] == "argument"
    assert s2.sources["endpoint"] == s2.sources["iam_endpoint"] == "derived from region"


def test_override_endpoint_rederives_region_and_iam():
    s = resolve_settings(environ={"DLI_REGION": "eu-de"})
    s2 = with_overrides(s, {"endpoint": NL})
    assert (s2.region, s2.endpoint, s2.iam_endpoint) == ("eu-nl", NL, IAM_NL)
    assert s2.sources["region"] == "derived from endpoint"
    s = resolve_settings(environ={"DLI_ENDPOINT": DE})  # region derived from the endpoint
    s2 = with_overrides(s, {"endpoint": NL})
    assert (s2.region, s2.iam_endpoint) == ("eu-nl", IAM_NL)


def test_override_region_never_replaces_an_endpoint_set_below():
    s = resolve_settings(environ={"DLI_ENDPOINT": DE})
    with pytest.raises(ConfigError, match=r"region='eu-nl' \(from argument\) does not match endpoint="):
        with_overrides(s, {"region": "eu-nl"})
    s2 = with_overrides(s, {"region": "eu-nl", "endpoint": NL})  # both given: the new service, said so
    assert (s2.region, s2.endpoint, s2.iam_endpoint) == ("eu-nl", NL, IAM_NL)


def test_override_endpoint_to_custom_host_drops_the_derived_region():
    s = resolve_settings(environ={"DLI_ENDPOINT": DE})
    s2 = with_overrides(s, {"endpoint": "http://127.0.0.1:8123"})
    assert s2.region is None and s2.iam_endpoint == "http://127.0.0.1:8123"


def test_unrelated_override_keeps_derived_values():
    s = resolve_settings(explicit={"iam_endpoint": "https://iam-proxy.example"}, environ={"DLI_REGION": "eu-de"})
    s2 = with_overrides(s, {"chunk_size": 5})
    assert (s2.endpoint, s2.iam_endpoint, s2.sources["endpoint"]) == (DE, "https://iam-proxy.example",
                                                                       "derived from region")
    # a set (not derived) iam_endpoint stays, as resolve_settings keeps it next to a lone region
    s3 = with_overrides(s, {"region": "eu-nl"})
    assert (s3.endpoint, s3.iam_endpoint) == (NL, "https://iam-proxy.example")
    # a region cannot override an endpoint that was set (not derived): refused, as in resolve_settings
    s = resolve_settings(environ={"DLI_ENDPOINT": DE, "DLI_IAM_ENDPOINT": "https://iam-proxy.example"})
    with pytest.raises(ConfigError, match="does not match endpoint"):
        with_overrides(s, {"region": "eu-nl"})


def test_override_keeps_a_set_iam_endpoint_when_only_endpoint_changes():
    s = resolve_settings(environ={"DLI_ENDPOINT": DE, "DLI_IAM_ENDPOINT": "https://iam-proxy.example"})
    s2 = with_overrides(s, {"endpoint": NL})
    assert s2.iam_endpoint == "https://iam-proxy.example"


# --- bug 4: credentials in endpoint URLs ----------------------------------------------------------


@pytest.mark.parametrize("name", ["endpoint", "iam_endpoint"])
@pytest.mark.parametrize("layer", ["explicit", "environ"])
def test_credentials_in_endpoint_urls_are_refused_without_echo(name, layer):
    url = f"https://bob:{URL_SECRET}@dli.eu-de.otc.t-systems.com"
    kwargs = {"explicit": {name: url}, "environ": {}} if layer == "explicit" else {"environ": {f"DLI_{name.upper()}": url}}
    with pytest.raises(ConfigError, match="must not carry credentials in the URL") as info:
        resolve_settings(**kwargs)
    assert URL_SECRET not in str(info.value) and "bob" not in str(info.value)


def test_credentials_in_urls_refused_by_settings_and_overrides():
    url = f"https://bob:{URL_SECRET}@dli.eu-de.otc.t-systems.com"
    with pytest.raises(ConfigError, match="credentials in the URL") as info:
        Settings(endpoint=url)
    assert URL_SECRET not in str(info.value)
    with pytest.raises(ConfigError, match="credentials in the URL") as info:
        with_overrides(resolve_settings(environ={}), {"endpoint": url})
    assert URL_SECRET not in str(info.value)
    with pytest.raises(ConfigError, match="credentials in the URL"):
        Settings(iam_endpoint="https://token@iam.example")


def test_iam_from_endpoint_drops_userinfo_keeps_port():
    assert iam_from_endpoint(f"https://bob:{URL_SECRET}@dli.eu-de.otc.t-systems.com") == IAM_DE
    assert iam_from_endpoint("https://dli.eu-de.otc.t-systems.com:8443") == "https://iam.eu-de.otc.t-systems.com:8443"
    assert iam_from_endpoint("http://127.0.0.1:8123") == "http://127.0.0.1:8123"
    assert iam_from_endpoint("http://[::1]:8000") == "http://[::1]:8000"
