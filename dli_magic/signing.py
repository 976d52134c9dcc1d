"""SDK-HMAC-SHA256 request signing (the API gateway's AK/SK scheme), stdlib only.

One implementation serves both sides: the client signs with it and the emulator verifies with it,
so the vectors in ``tests/client/test_signing.py`` (from the reference guide and the official SDK) pin both.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timezone
from typing import Iterable, Mapping, Sequence
from urllib.parse import parse_qsl, quote, unquote, urlsplit

ALGORITHM = "SDK-HMAC-SHA256"
DATE_HEADER = "X-Sdk-Date"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()


def _encode(text: str) -> str:
    # Only A-Za-z0-9-_.~ stay bare (quote() keeps "_.-" always, "~" via safe).
    return quote(text, safe="~")


def canonical_uri(path: str) -> str:
    """Each segment percent-encoded, plus the trailing slash the gateway signs (not sent on the wire)."""
    uri = "/".join(_encode(segment) for segment in unquote(path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def _query_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def canonical_query(pairs: Iterable[tuple[str, object]]) -> str:
    """``k=v`` pairs sorted by key then value; list values expand to repeated keys."""
    flat: list[tuple[str, str]] = []
    for key, value in pairs:
        values = value if isinstance(value, (list, tuple)) else [value]
        flat.extend((str(key), _query_value(v)) for v in values)
    flat.sort()
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in flat)


def query_pairs_from_string(query: str) -> list[tuple[str, str]]:
    """The decoded pairs of a raw query string, as a server sees them."""
    return parse_qsl(query, keep_blank_values=True)


def signed_header_names(headers: Mapping[str, str]) -> list[str]:
    """Every header without ``_`` in its name, lower-cased and sorted; Authorization is never signed."""
    return sorted(
        name.lower() for name in headers if "_" not in name and name.lower() != "authorization"
    )


def canonical_request(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    body: bytes | str | None,
) -> str:
    lowered = {name.lower(): str(value).strip() for name, value in headers.items()}
    canonical_headers = "".join(f"{name}:{lowered.get(name, '')}\n" for name in signed_headers)
    if isinstance(body, str):
        body = body.encode("utf-8")
    body_hash = hashlib.sha256(body).hexdigest() if body else EMPTY_BODY_SHA256
    return "\n".join(
        [method.upper(), canonical_uri(path), query, canonical_headers, ";".join(signed_headers), body_hash]
    )


def string_to_sign(canonical: str, sdk_date: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{sdk_date}\n{digest}"


def signature(secret_key: str, to_sign: str) -> str:
    return hmac.new(secret_key.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def authorization_header(access_key: str, signed_headers: Sequence[str], sig: str) -> str:
    return f"{ALGORITHM} Access={access_key}, SignedHeaders={';'.join(signed_headers)}, Signature={sig}"


def parse_authorization(value: str) -> dict[str, str] | None:
    """``{"access", "signedheaders", "signature"}`` from an Authorization header, or None if not ours."""
    if not value or not value.startswith(ALGORITHM + " "):
        return None
    fields: dict[str, str] = {}
    for part in value[len(ALGORITHM) + 1 :].split(","):
        name, sep, val = part.strip().partition("=")
        if sep:
            fields[name.strip().lower()] = val.strip()
    if not {"access", "signedheaders", "signature"} <= fields.keys():
        return None
    return fields


def format_sdk_date(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc).strftime(DATE_FORMAT)


def parse_sdk_date(value: str) -> datetime:
    return datetime.strptime(value, DATE_FORMAT).replace(tzinfo=timezone.utc)


def sign_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes | str | None,
    access_key: str,
    secret_key: str,
    sdk_date: str | None = None,
) -> dict[str, str]:
    """Headers to add to a request (X-Sdk-Date, Host, Authorization) so the gateway accepts it.

    ``url`` is the full URL as sent; its query must already be in canonical order and encoding
    (``canonical_query``) so the server re-derives the same string.
    """
    parts = urlsplit(url)
    present = {name.lower(): value for name, value in headers.items()}
    added: dict[str, str] = {}
    date_value = present.get(DATE_HEADER.lower())
    if date_value is None:
        date_value = added[DATE_HEADER] = sdk_date or format_sdk_date()
    if "host" not in present:
        added["Host"] = parts.netloc  # host:port when the URL has a port
    all_headers = {**headers, **added}
    signed = signed_header_names(all_headers)
    query = canonical_query(query_pairs_from_string(parts.query))
    canonical = canonical_request(method, parts.path or "/", query, all_headers, signed, body)
    sig = signature(secret_key, string_to_sign(canonical, date_value))
    added["Authorization"] = authorization_header(access_key, signed, sig)
    return added


def verify(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    secret_key: str,
    auth: Mapping[str, str],
) -> bool:
    """Server side: recompute the signature over the headers the client said it signed."""
    signed = [name for name in auth["signedheaders"].split(";") if name]
    lowered = {name.lower(): value for name, value in headers.items()}
    date_value = lowered.get(DATE_HEADER.lower(), "")
    canonical = canonical_request(
        method, path, canonical_query(query_pairs_from_string(query)), lowered, signed, body
    )
    expected = signature(secret_key, string_to_sign(canonical, date_value))
    return hmac.compare_digest(expected, auth["signature"])
