"""AkSkAuth as a requests auth object: the published vectors through a real PreparedRequest."""

from __future__ import annotations

import requests

from dli_magic.auth import AkSkAuth, PasswordAuth, TokenAuth

SDK_URL = "https://service.endpoint.myhuaweicloud.com/resources?size=1"
SDK_HEADERS = {"X-Sdk-Date": "20200608T023900Z", "TEST_UNDERSCORE": "TEST_VALUE"}


def signed(method: str, body: bytes | None) -> requests.PreparedRequest:
    prepared = requests.Request(method, SDK_URL, headers=SDK_HEADERS, data=body).prepare()
    return AkSkAuth("AccessKey", "SecretKey")(prepared)


def test_get_vector_through_prepared_request():
    request = signed("GET", None)
    assert request.headers["Authorization"] == (
        "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=host;x-sdk-date, "
        "Signature=cfb4171acec81de07d50e53d57eb77edd537414d66ddb1d7d780f128e12cd842"
    )
    assert request.headers["Host"] == "service.endpoint.myhuaweicloud.com"


def test_post_vector_signs_the_exact_body_bytes():
    request = signed("POST", b'{"name":"test","id":1}')
    assert "Content-Length" in request.headers  # present on the wire, deliberately not signed
    assert request.headers["Authorization"].endswith(
        "Signature=436b1ac0a1ae03705934bb70ef2f2e09f7bfed2117d731a38235053199323a1f"
    )
    assert request.headers["Authorization"] != signed("POST", b'{"name":"test","id":2}').headers["Authorization"]


def test_auth_reprs_show_only_the_scheme():
    assert repr(AkSkAuth("AKVISIBLE", "sk-hidden-value")) == "AkSkAuth(ak='AKVISIBLE', sk=***)"
    assert "tok-hidden-value" not in repr(TokenAuth("tok-hidden-value"))
    auth = PasswordAuth("https://iam.example", "u", "pw-hidden-value", "d", project_id=None,
                        project_name="eu-de", post=lambda url, body: None)
    assert "pw-hidden-value" not in repr(auth) and "'u'" in repr(auth)
