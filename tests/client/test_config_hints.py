"""Short secrets and redaction, and the hints of configuration errors (each points where it can work)."""

from __future__ import annotations

import pytest

from dli_magic import config, redaction
from dli_magic.client import DliClient
from dli_magic.config import resolve_settings
from dli_magic.errors import ConfigError


def test_one_minimum_length_for_every_scrubber():
    assert redaction.SecretScrubber.MIN_LENGTH == redaction.SECRET_MIN_LENGTH == 4
    # settings have no scrubber of their own: they register their secrets with the one scrubber
    assert not hasattr(config, "SECRET_MIN_LENGTH") and not hasattr(config, "_redact_known")


def test_a_short_secret_does_not_garble_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as info:
        resolve_settings(environ={"DLI_AUTH_TOKEN": "t", "DLI_SK": "e"}, profile="prod",
                         profile_path=tmp_path / "none.toml")
    message = info.value.message
    assert "Profile 'prod' was requested but the profile file" in message and "does not exist" in message
    assert "***" not in message


def test_a_secret_of_the_minimum_length_is_still_redacted(tmp_path):
    with pytest.raises(ConfigError) as info:
        # the secret pasted into the wrong setting
        resolve_settings(environ={"DLI_AUTH_TOKEN": "abcd", "DLI_CHUNK_SIZE": "abcd"}, profile_path=tmp_path / "x")
    assert "abcd" not in str(info.value) and "***" in info.value.message


def test_missing_credentials_points_where_secrets_are_accepted(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    settings = resolve_settings(explicit={"endpoint": "https://dli.eu-de.otc.t-systems.com", "project_id": "p"},
                                environ={"XDG_CONFIG_HOME": str(tmp_path)})
    client = DliClient(settings)
    with pytest.raises(ConfigError) as info:
        client.auth
    err = info.value
    for text in (err.message, err.hint):
        assert "%dli_login" in text and "DLI_AUTH_TOKEN" in text
        assert "DLI_AK + DLI_SK" in text and "DLI_USERNAME + DLI_PASSWORD" in text and "profile file" in text
        assert "%dli_config /" not in text and "%config DliMagic" not in text
    assert str(tmp_path / "dli-magic" / "config.toml") in err.message
    client.close()


def test_plain_http_refusal_has_its_own_hint():
    with pytest.raises(ConfigError) as info:
        DliClient(endpoint="http://dli.example.com", project_id="p", auth_token="long-token")
    hint = info.value.hint
    assert "https://" in hint and "allow_http" in hint and "DLI_ENDPOINT" in hint
    assert "Set or fix it" not in hint


def test_profile_and_unknown_setting_errors_have_their_own_hints(tmp_path):
    with pytest.raises(ConfigError) as info:
        resolve_settings(environ={}, profile="prod", profile_path=tmp_path / "none.toml")
    assert "profile file" in info.value.hint and "--profile" in info.value.hint
    with pytest.raises(ConfigError) as info:
        resolve_settings(explicit={"endpiont": "https://x.example"}, environ={}, profile_path=tmp_path / "n")
    assert "Did you mean 'endpoint'?" in info.value.message
    assert "%dli_config` lists every setting" in info.value.hint
