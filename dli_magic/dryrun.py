"""What a run/stop call would send, described without sending: the dry runs of %dli_run/%dli_stop
and of restart.

``describe_request`` is ``DliClient.describe_request`` (restart's plan calls it per step);
``dry_run_frame`` is what ``run_jobs``/``stop_jobs`` return with ``dry_run=True``. A sibling of the
client, this module reads its chunking and the project id it already knows (underscore members)
rather than looking one up. No pandas at import (``results`` imports it when a frame is built).
"""

from __future__ import annotations

from typing import Any

from . import contract
from .batch import chunked
from .checks import check_bool
from .errors import MISSING_CREDENTIALS_HINT, BadInputError, ConfigError
from .http import USER_AGENT
from .ids import validate_job_ids
from .redaction import find_secrets, scrub
from .results import JobOutcome, outcomes_frame

DRY_RUN_MESSAGE = "dry run: not sent"


def describe_request(client: Any, action: str, job_ids, **options: Any) -> dict:
    """What ``client.run_jobs``/``stop_jobs`` would send (first chunk), secrets redacted; sends nothing."""
    client.http.check_open()
    try:
        spec = contract.action(action)
    except ValueError as exc:
        raise BadInputError(f"{exc}.") from None
    chunk_size = options.pop("chunk_size", None)
    options.pop("max_workers", None)
    unknown = set(options) - {spec.option}
    if unknown:
        raise BadInputError(
            f"Unknown option(s) for {spec.name}: {', '.join(sorted(unknown))}; only {spec.option}."
        )
    value = check_bool(spec.option, options.get(spec.option, False))
    ids = validate_job_ids(job_ids).ids
    size, _ = client._chunking(chunk_size, None)
    chunks = chunked(ids, size)
    project = client._project_id or "{project_id}"
    url = f"{client.endpoint}{contract.API_PREFIX.format(project_id=project)}/jobs/{spec.name}"
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "X-Project-Id": project}
    try:
        headers.update(client.auth.describe_headers())
    except ConfigError as exc:
        headers["X-Auth-Token"] = f"(no credentials configured: {exc.message})"
    find_secrets()  # every layer's: a value pasted into the wrong setting shows as *** here too
    described = {
        "method": "POST",
        "url": scrub(url),
        "headers": {k: scrub(v) for k, v in headers.items()},
        "json": {"job_ids": chunks[0], spec.option: value},
        "requests": len(chunks),
    }
    if not client._project_id:
        described["note"] = "the project id is looked up via IAM when the call is made"
    return described


def dry_run_frame(client, action, ids, option_name, option, chunk_size, echo, duplicates):
    """Validate settings and credentials, show the exact request, send nothing."""
    from .display import format_request

    if client.settings.auth_method() is None:
        from .auth import missing_credentials_message

        raise ConfigError(
            f"{missing_credentials_message(client.settings)} Nothing was sent.", hint=MISSING_CREDENTIALS_HINT
        )
    request = client.describe_request(action, ids, **{option_name: option, "chunk_size": chunk_size})
    if echo is not None:
        echo(format_request(request))
    outcomes = [JobOutcome(job_id=i, is_success=None, message=DRY_RUN_MESSAGE) for i in ids]
    attrs = {
        "action": action,
        "endpoint": client.endpoint,
        "project_id": client.settings.project_id,
        option_name: option,
        "dry_run": True,
        "request": request,
        "duplicates": list(duplicates),
    }
    return outcomes_frame(outcomes, attrs=attrs)
