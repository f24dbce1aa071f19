"""``streamrt savepoint`` and ``streamrt stop``: control a running job over its HTTP server.

Both POST to the job's endpoints (``metrics.exporter``): from the job's own machine no token is
needed; from elsewhere the job must run with ``--control-token`` and the same token is given
here (``--token`` or ``STREAMRT_CONTROL_TOKEN``).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

from streamrt.errors import ConfigError, StreamrtError

__all__ = ["post_control"]


def post_control(
    url: str, endpoint: str, body: dict[str, Any], token: str | None, timeout_s: float
) -> dict[str, Any]:
    """POST ``body`` as JSON to ``url/endpoint``; the JSON answer.

    Raises:
        ConfigError: the URL is malformed.
        StreamrtError: the job is unreachable, refused the request, or failed to do it; the
            message says which, with the job's own reason.
    """
    if not url.startswith(("http://", "https://")):
        msg = f"--url must be the job's endpoint address, e.g. http://127.0.0.1:9249; got {url!r}"
        raise ConfigError(msg)
    token = token or os.environ.get("STREAMRT_CONTROL_TOKEN")
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        f"{url.rstrip('/')}/{endpoint}",
        data=json.dumps(body).encode(),
        headers=headers,
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            answer: dict[str, Any] = json.loads(response.read() or b"{}")
            return answer
    except urllib.error.HTTPError as exc:
        try:
            reason = json.loads(exc.read()).get("error", exc.reason)
        except ValueError:
            reason = exc.reason
        msg = f"{endpoint} refused by {url} ({exc.code}): {reason}"
        raise StreamrtError(msg) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        msg = f"cannot reach the job at {url}: {reason}"
        raise StreamrtError(msg) from None
