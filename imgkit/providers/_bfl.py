"""Black Forest Labs' API: submit a task, poll its ``polling_url`` until ``Ready``, download the sample at once.

``POST {base}/v1/{model}`` with the resolved fields (``prompt``, ``width``/``height`` or ``aspect_ratio``,
``output_format``, ...; edit inputs as ``data:`` URIs in ``input_image``, ``input_image_2`` .. ``_8``) and the
key in ``x-key``. The answer names the task ``id``, the ``polling_url`` to watch (BFL's global endpoint may
answer from a regional host, so the URL is used as given when it is on the base URL's origin or an https
host of the same domain, ``*.bfl.ai``: the key is sent nowhere else), and the task's ``cost`` in credits
with its ``input_mp`` and ``output_mp``. The task is polled from ``poll_interval_s`` growing to
``poll_max_interval_s``: ``Pending`` goes on, ``Ready`` carries ``result.sample``, a signed URL that expires
within minutes, downloaded at once and without the key (its answer is the attempt's first byte).
``Request Moderated`` (the input) and ``Content Moderated`` (the output) are content-policy errors, the second
may be billed; ``Error`` is a server error that may be retried; ``Task not found`` or any other status ends
the call. BFL has no cancel: a task still pending after ``timeout_s`` ends the attempt with a timeout that may
be billed. Its concurrency cap (24 active tasks, the catalog's) holds a slot from submit to the last poll.

The bill is the task's own ``cost`` (credits x the catalog's credit value): exact where the catalog can
only give a range (BFL does not publish how it rounds megapixels); without one, the catalog's price.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from imgkit.catalog import Provider
from imgkit.errors import ContentPolicyError, ProviderTimeoutError, ProviderUnavailableError
from imgkit.keys import scrub
from imgkit.money import plain_usd
from imgkit.pricing import Cost, CostLine
from imgkit.provenance import Provenance
from imgkit.providers._errors import error_from_bfl, job_error, malformed
from imgkit.providers._http import (
    CallRequest,
    Downloads,
    auth_headers,
    download_image,
    json_object,
    same_origin,
    submit_job,
)
from imgkit.providers._polling import Polling, poll_get
from imgkit.providers._types import CallOutput

__all__ = ["BflAdapter", "bfl_charge"]

_INPUTS = ("input_image", *(f"input_image_{i}" for i in range(2, 9)))
_POLICY = {"Request Moderated": False, "Content Moderated": True}  # status -> may the task be billed


def bfl_charge(credits: Decimal, provider: Provider) -> Cost:
    """The bill BFL reports for a task: ``credits`` at the provider's credit value (USD)."""
    rate = provider.credit.usd if provider.credit is not None else Decimal("0.01")
    usd = plain_usd(credits * rate)
    line = CostLine(
        "task cost (BFL's cost field, in credits)",
        plain_usd(credits),
        "credits",
        plain_usd(rate),
        usd,
        "provider_charge",
        "the provider's own bill: the submit answer's cost",
        str(Provenance.MEASURED),
    )
    return Cost(usd, usd, usd, "provider_charge", (line,), (f"{credits} credits reported by BFL",))


def _trusted(url: str, base: str) -> bool:
    """The polling URL is on the base's origin, or an https host under the base host's domain."""
    if same_origin(url, base):
        return True
    target, origin = urlsplit(url), urlsplit(base)
    domain = ".".join((origin.hostname or "").split(".")[-2:])
    host = target.hostname or ""
    return (
        target.scheme == "https"
        and origin.scheme == "https"
        and "." in domain
        and host.endswith("." + domain)
    )


class BflAdapter:
    """One Black Forest Labs task (module doc)."""

    kind = "bfl"

    def __init__(self, downloads: Downloads | None = None, polling: Polling | None = None) -> None:
        self.downloads = downloads or Downloads()
        self.polling = polling or Polling()

    def body(self, call: CallRequest) -> dict[str, Any]:
        """The resolved fields, edit inputs as ``input_image``, ``input_image_2``, ... (``data:`` URIs)."""
        body = dict(call.body)
        for name, f in zip(_INPUTS, call.inputs, strict=False):
            body[name] = f.data_uri()
        return body

    async def call(self, call: CallRequest) -> CallOutput:
        provider, base = call.provider_id, call.base_url.rstrip("/")
        headers = auth_headers(call.provider, call.key)
        resp, task = await submit_job(call, self.body(call), error_from_bfl)
        task_id = str(task.get("id") or "")
        polling_url = task.get("polling_url") or (f"{base}/v1/get_result?id={task_id}" if task_id else None)
        if not isinstance(polling_url, str) or not _trusted(polling_url, base):
            raise malformed(
                f"submit answer lacks a polling_url on {scrub(base)} (got {scrub(str(polling_url))}); "
                "the key is not sent elsewhere",
                provider=provider,
                status=resp.status_code,
                headers=resp.headers,
            )
        charge = self._charge(task, call.provider)
        deadline = time.monotonic() + self.polling.timeout_s
        interval = self.polling.poll_interval_s
        while True:
            poll = await poll_get(
                call, polling_url, headers, self.polling, error_from_bfl, request_id=task_id
            )
            if poll.status_code >= 400 and poll.status_code != 404:
                error = error_from_bfl(poll.status_code, poll.content, poll.headers, provider)
                error.may_be_billed, error.retryable = True, False  # the task exists: its fate is unknown
                raise error
            result = json_object(poll.content, poll, provider, "task status")
            status = str(result.get("status") or "")
            if status == "Ready":
                break
            if status != "Pending":
                raise self._failed(call, poll, result, status, task_id)
            if time.monotonic() + interval > deadline:
                raise ProviderTimeoutError(
                    f"BFL task {task_id} was not ready within {self.polling.timeout_s:g} s (BFL has no cancel: "
                    "it may still run and be billed)",
                    provider=provider,
                    request_id=task_id or None,
                    retryable=False,
                    may_be_billed=True,
                )
            await asyncio.sleep(interval)
            interval = self.polling.next_interval(interval)
        call.clock.mark_first_byte()
        sample = (
            (result.get("result") or {}).get("sample") if isinstance(result.get("result"), Mapping) else None
        )
        if not isinstance(sample, str) or not sample:
            raise malformed(
                "Ready task without result.sample",
                provider=provider,
                status=poll.status_code,
                headers=poll.headers,
            )
        image = await download_image(
            call.http,
            sample,
            self.downloads,
            provider=provider,
            width=call.resolved.width,
            height=call.resolved.height,
        )
        slim: dict[str, Any] = {
            "data": [{}],
            "size": call.resolved.size,
            "cost": task.get("cost"),
            "input_mp": task.get("input_mp"),
            "output_mp": task.get("output_mp"),
        }
        return CallOutput(
            poll.status_code, poll.headers, [image], slim, request_id=task_id or None, charge=charge
        )

    @staticmethod
    def _charge(task: Mapping[str, Any], provider: Provider) -> Cost | None:
        raw = task.get("cost")
        if raw is None or isinstance(raw, bool):
            return None
        try:
            credits = Decimal(str(raw))
        except InvalidOperation:
            return None
        return bfl_charge(credits, provider) if credits.is_finite() and credits >= 0 else None

    def _failed(self, call: CallRequest, poll, result: Mapping[str, Any], status: str, task_id: str):
        details = result.get("details")
        why = f"{status}" + (f": {details}" if details else "")
        kw = {"provider": call.provider_id, "resp": poll, "job_id": task_id, "code": status}
        if status in _POLICY:
            return job_error(ContentPolicyError, why, may_be_billed=_POLICY[status], **kw)
        if status == "Error":
            return job_error(ProviderUnavailableError, why, **kw)
        if status == "Task not found":
            return job_error(ProviderUnavailableError, why, retryable=False, **kw)
        return malformed(
            f"unknown task status {scrub(status)!r}",
            provider=call.provider_id,
            status=poll.status_code,
            headers=poll.headers,
        )
