"""The published SDK-HMAC-SHA256 vectors (shared/dli-api.md section 2) pin dli_magic.signing, directly and
through AkSkAuth on a real requests.PreparedRequest."""

from __future__ import annotations

import requests

from dli_magic import signing
from dli_magic.auth import AkSkAuth

SDK_HEADERS = {"X-Sdk-Date": "20200608T023900Z", "TEST_UNDERSCORE": "TEST_VALUE"}
SDK_URL = "https://service.endpoint.myhuaweicloud.com/resources?size=1"
SDK_GET_SIGNATURE = "Signature=cfb4171acec81de07d50e53d57eb77edd537414d66ddb1d7d780f128e12cd842"
SDK_POST_SIGNATURE = "Signature=436b1ac0a1ae03705934bb70ef2f2e09f7bfed2117d731a38235053199323a1f"


def _sign(method, url, headers, body, ak, sk):
    added = signing.sign_request(method, url, headers, body, ak, sk)
    return added["Authorization"]


def test_reference_guide_vector():
    url = (
        "https://service.region.example.com/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs"
        "?limit=2&marker=13551d6b-755d-4757-b956-536f674975c0"
    )
    headers = {
        "Content-Type": "application/json",
        "Host": "service.region.example.com",
        "X-Sdk-Date": "20191115T033655Z",
    }
    auth = _sign("GET", url, headers, b"", "QTWAOYTTINDUT2QVKYUC", "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc")
    assert auth == (
        "SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=content-type;host;x-sdk-date, "
        "Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
    )


def test_official_sdk_get_vector():
    auth = _sign("GET", SDK_URL, SDK_HEADERS, b"", "AccessKey", "SecretKey")
    assert auth.endswith(SDK_GET_SIGNATURE)
    assert "SignedHeaders=host;x-sdk-date," in auth  # TEST_UNDERSCORE is not signed


def test_official_sdk_post_vector():
    auth = _sign("POST", SDK_URL, SDK_HEADERS, b'{"name":"test","id":1}', "AccessKey", "SecretKey")
    assert auth.endswith(SDK_POST_SIGNATURE)


def _signed_by_auth(method: str, body: bytes | None) -> requests.PreparedRequest:
    prepared = requests.Request(method, SDK_URL, headers=SDK_HEADERS, data=body).prepare()
    return AkSkAuth("AccessKey", "SecretKey")(prepared)


def test_get_vector_through_prepared_request():
    request = _signed_by_auth("GET", None)
    assert request.headers["Authorization"] == (
        f"SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=host;x-sdk-date, {SDK_GET_SIGNATURE}"
    )
    assert request.headers["Host"] == "service.endpoint.myhuaweicloud.com"


def test_post_vector_through_prepared_request_signs_the_exact_body_bytes():
    request = _signed_by_auth("POST", b'{"name":"test","id":1}')
    assert "Content-Length" in request.headers  # present on the wire, deliberately not signed
    assert request.headers["Authorization"].endswith(SDK_POST_SIGNATURE)
    other = _signed_by_auth("POST", b'{"name":"test","id":2}')
    assert request.headers["Authorization"] != other.headers["Authorization"]


def test_query_encoding_vector():
    pairs = [
        ("limit", 1),
        ("enable", True),
        ("test", "一 (&=?!#%.*)"),
        ("path", "/tmp/123"),
        ("multi", [1, 2, 3]),
    ]
    assert signing.canonical_query(pairs) == (
        "enable=true&limit=1&multi=1&multi=2&multi=3&path=%2Ftmp%2F123"
        "&test=%E4%B8%80%20%28%26%3D%3F%21%23%25.%2A%29"
    )


def test_canonical_uri_has_trailing_slash_and_encodes_segments():
    assert signing.canonical_uri("/v1.0/abc/streaming/jobs/run") == "/v1.0/abc/streaming/jobs/run/"
    assert signing.canonical_uri("/a b/c") == "/a%20b/c/"


def test_verify_roundtrip_and_tamper():
    url = "http://127.0.0.1:8080/v1.0/p/streaming/jobs?limit=100&offset=0"
    headers = {"Content-Type": "application/json"}
    added = signing.sign_request("GET", url, headers, None, "AK1", "SK1")
    received = {**headers, **added}
    auth = signing.parse_authorization(received["Authorization"])
    assert auth["access"] == "AK1"
    query = "limit=100&offset=0"
    assert signing.verify("GET", "/v1.0/p/streaming/jobs", query, received, b"", "SK1", auth)
    assert not signing.verify("GET", "/v1.0/p/streaming/jobs", query, received, b"", "SK2", auth)
    assert not signing.verify("GET", "/v1.0/p/streaming/jobs", "limit=99&offset=0", received, b"", "SK1", auth)
    assert not signing.verify("POST", "/v1.0/p/streaming/jobs", query, received, b"", "SK1", auth)


def test_parse_authorization_rejects_other_schemes():
    assert signing.parse_authorization("Bearer abc") is None
    assert signing.parse_authorization("SDK-HMAC-SHA256 Access=x") is None
