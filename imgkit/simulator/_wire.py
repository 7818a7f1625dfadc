"""What the simulated protocols share: JSON with exact decimals, body paths, the output size a request asks
for (the catalog's size rule read backwards), input images in any of their wire forms, and answers on the
simulated clock with the injected wire faults.

The size a provider produces is read from the same catalog rules that :func:`imgkit.params.resolve` writes
with: the offering's ``size`` rule names the body paths (``targets``) that carry the width and height, the
ratio, the resolution tier or the WxH, and its ``value_map`` is undone (Gemini's ``"512"`` is the ``0.5K`` tier,
Replicate's ``"1"`` megapixel the ``1K`` tier). A ratio and a tier become pixels by
:func:`imgkit.params.resolve_size` (the model's own table, else the flexible fit), so what imgkit asks for is
what the simulator draws.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from imgkit.catalog import Catalog, FieldRule, Model, Offering, Provider, parse_ratio, parse_wxh
from imgkit.errors import ImgkitError, InvalidParameterError
from imgkit.params import PricedRequest, get_path, resolve_size, size_limit_problems
from imgkit.pricing import Cost, quote_request
from imgkit.simulator._http import Exchange
from imgkit.simulator._images import ImageSpec
from imgkit.simulator._openai import InputImage, decode_image, image_from_url
from imgkit.simulator._profiles import Draw

__all__ = [
    "JSON_HEADER",
    "QUEUE_SHARE",
    "JobBook",
    "PolledJob",
    "Served",
    "SizeRequestError",
    "Verbatim",
    "admit",
    "dumps",
    "input_from_wire",
    "requested_size",
    "send_timed",
    "served_models",
    "wire_fault",
]

JSON_HEADER = ("content-type", "application/json")


class Verbatim:
    """Text written into JSON as a string without the encoder's escaping scan (base64 needs no escaping)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def dumps(obj: Any, decimals_as: str = "number") -> bytes:
    """JSON bytes; ``Decimal`` written exactly (a JSON number, or a string), ``Verbatim`` text as is."""
    marks: list[str] = []

    def default(value: Any) -> Any:
        if isinstance(value, Verbatim):
            marks.append(f'"{value.text}"')
        elif isinstance(value, Decimal):
            if decimals_as == "string":
                return str(value)
            marks.append(str(value))
        else:
            raise TypeError(f"cannot serialise {type(value).__name__}")
        return f"\x00{len(marks) - 1}\x00"

    text = json.dumps(obj, default=default, separators=(",", ":"))
    if marks:
        text = re.sub(r'"\\u0000(\d+)\\u0000"', lambda m: marks[int(m.group(1))], text)
    return text.encode()


#: share of a polled job's total latency spent queued (assumed: no provider publishes queue-time figures)
QUEUE_SHARE = 0.1


@dataclass
class PolledJob:
    """A job a client polls (a Replicate prediction, a BFL task): when it starts and ends (monotonic seconds,
    on the scaled clock), the fault it was given, and what the protocol keeps about it (``data``)."""

    id: str
    served: Served
    submitted_s: float
    total_s: float
    draw: Draw
    fault: str | None
    data: dict[str, Any] = field(default_factory=dict)
    polls: int = 0
    cancelled: bool = False

    def phase(self, now_s: float, min_polls: int = 0) -> str:
        """``queued``, ``running`` or ``done`` at ``now_s`` (and not done before ``min_polls`` polls)."""
        if self.cancelled:
            return "done"
        if self.polls < min_polls:
            return "queued" if self.polls <= 1 else "running"
        elapsed = now_s - self.submitted_s
        if elapsed < self.total_s * QUEUE_SHARE:
            return "queued"
        return "running" if elapsed < self.total_s else "done"


class JobBook:
    """The polled jobs of one protocol by id, the oldest forgotten beyond ``limit``."""

    def __init__(self, limit: int = 20_000) -> None:
        self.limit = limit
        self._jobs: OrderedDict[str, PolledJob] = OrderedDict()

    def add(self, job: PolledJob) -> None:
        self._jobs[job.id] = job
        while len(self._jobs) > self.limit:
            self._jobs.popitem(last=False)

    def get(self, job_id: str) -> PolledJob | None:
        return self._jobs.get(job_id)

    def values(self):
        return self._jobs.values()

    def clear(self) -> None:
        self._jobs.clear()


@dataclass(frozen=True)
class Served:
    """A model as one provider serves it, known by the name a client used: its size rules, the offering and
    the provider's field rules (the offering's over the provider's)."""

    model: Model
    provider: Provider
    offering: Offering

    @property
    def rules(self) -> dict[str, FieldRule]:
        return {**self.provider.fields, **self.offering.fields}

    def quote(self, width: int, height: int, n: int, inputs: Sequence[tuple[int, int]] = ()) -> Cost | None:
        """What the catalog says ``n`` images of ``width`` x ``height`` cost here (``None``: no price)."""
        try:
            cost = quote_request(
                PricedRequest(
                    model=self.model,
                    provider=self.provider,
                    offering=self.offering,
                    mode="edit" if inputs and "edit" in self.offering.modes else self.offering.modes[0],
                    size=f"{width}x{height}",
                    quality=None,
                    n=n,
                    calls=(n,),
                    input_images=tuple(inputs),
                )
            )
        except ImgkitError:
            return None
        return cost


def served_models(catalog: Catalog, provider_ids: Sequence[str]) -> dict[str, Served]:
    """Every model the providers serve, by each name a client may use for it: the provider's own id, the
    ids its lifecycle events name (a preview id), and imgkit's model id. The first provider wins a name."""
    out: dict[str, Served] = {}
    for provider_id in provider_ids:
        provider = catalog.providers[provider_id]
        for (pid, model_id), offering in catalog.offerings.items():
            if pid != provider_id:
                continue
            served = Served(catalog.offered_model(model_id, pid), provider, offering)
            names = [
                offering.provider_model_id,
                *(e.provider_model_id for e in offering.lifecycle if e.provider_model_id),
                model_id,
            ]
            for name in names:
                out.setdefault(name, served)
    return out


class SizeRequestError(ValueError):
    """A size field the provider would refuse: the field as the provider names it, the value, what is allowed."""

    def __init__(self, field: str, value: Any, allowed: str) -> None:
        super().__init__(f"{field}: {value!r} is not supported; allowed: {allowed}")
        self.field, self.value, self.allowed = field, value, allowed


def _edge(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise SizeRequestError(field, value, "a positive integer")
    return value


def requested_size(model: Model, rule: FieldRule | None, body: Mapping[str, Any]) -> tuple[int, int]:
    """The output size (width, height) ``body`` asks ``model`` for, through the offering's size ``rule``.

    ``SizeRequestError`` names the provider's field when the value is one the model cannot produce: a
    ratio or tier missing from a fixed-size model's table, a WxH outside its limits.
    """
    targets = (rule.targets or {"size": rule.to or "size"}) if rule is not None else {}
    undo = {str(v): k for k, v in (rule.value_map if rule is not None else {}).items()}
    given: dict[str, tuple[str, Any]] = {}
    for part, path in targets.items():
        value = get_path(body, path)
        if value is not None:
            given[part] = (path, undo.get(str(value), value) if isinstance(value, str | int) else value)
    rules = model.sizes
    default = rules.default if rules.default != "auto" else "1024x1024"
    if "width" in given or "height" in given:
        w0, h0 = parse_wxh(default)
        w = _edge(given["width"][1], given["width"][0]) if "width" in given else w0
        h = _edge(given["height"][1], given["height"][0]) if "height" in given else h0
        return _checked(model, w, h, (given.get("width") or given["height"])[0])
    if "size" in given:
        path, value = given["size"]
        try:
            w, h = parse_wxh(str(value))
        except ValueError:
            raise SizeRequestError(path, value, "WIDTHxHEIGHT") from None
        return _checked(model, w, h, path)
    ratio = given.get("aspect_ratio")
    tier = given.get("resolution")
    if ratio is not None:
        try:
            parse_ratio(str(ratio[1]))
        except ValueError:
            raise SizeRequestError(ratio[0], ratio[1], "W:H") from None
        if rules.fixed is not None and rules.aspect_ratios and str(ratio[1]) not in rules.aspect_ratios:
            raise SizeRequestError(ratio[0], ratio[1], ", ".join(rules.aspect_ratios))
    if tier is not None and rules.resolution_tiers and str(tier[1]) not in rules.resolution_tiers:
        shown = [
            next((v for v, k in undo.items() if k == t), t)  # the tier names as the provider spells them
            for t in rules.resolution_tiers
        ]
        raise SizeRequestError(tier[0], get_path(body, tier[0]), ", ".join(shown))
    if ratio is None and tier is None:
        return parse_wxh(default)
    try:
        size = resolve_size(
            model,
            aspect_ratio=str(ratio[1]) if ratio is not None else None,
            resolution=str(tier[1]) if tier is not None else None,
        )
    except InvalidParameterError as exc:
        where = ratio or tier
        assert where is not None, "without a ratio or a tier the default size was returned above"
        raise SizeRequestError(where[0], where[1], exc.allowed) from None
    return size.width or 1024, size.height or 1024


def _checked(model: Model, w: int, h: int, field: str) -> tuple[int, int]:
    rules = model.sizes
    if rules.fixed is not None and rules.max_edge is None and rules.max_pixels is None:
        if f"{w}x{h}" not in rules.fixed:
            raise SizeRequestError(field, f"{w}x{h}", ", ".join(rules.fixed))
        return w, h
    problems = size_limit_problems(rules, w, h)
    if problems:
        raise SizeRequestError(field, f"{w}x{h}", "; ".join(problems))
    return w, h


def input_from_wire(
    value: Any, label: str, local_file_spec: Callable[[str], ImageSpec | None]
) -> InputImage | None:
    """An input image sent as a ``data:`` URI, raw base64 or a URL this simulator serves; ``None`` when the
    simulator cannot read it (another host's URL); ``ApiError`` when the bytes are not an image."""
    if not isinstance(value, str) or not value:
        return None
    if value.startswith(("data:", "http://", "https://")):
        return image_from_url(value, label, local_file_spec)
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return decode_image(data, label)


async def admit(
    server: Any, ex: Exchange, rec: Any, provider: str, served: Served, name: str
) -> tuple[list[tuple[str, str]], Draw, str | None] | None:
    """Draw a request's latency and fault (its profile at ``provider``, scripts keyed by imgkit's model id or
    the ``name`` the client used), record them, and answer the faults that never reach the protocol (a hang, a
    dropped connection): ``None`` then, else the profile header, the draw and the fault left to answer."""
    rec.model = served.model.id
    profile, draw, fault, source = server._decide(provider, served.model.id, (served.model.id, name))
    rec.fault, rec.fault_source = fault, source
    if await wire_fault(server, ex, fault, draw):
        return None
    return [("x-imgkit-profile-provenance", str(profile.provenance))], draw, fault


async def wire_fault(server: Any, ex: Exchange, fault: str | None, draw: Draw) -> bool:
    """Answer a fault that never reaches the protocol (a hang, a dropped connection); True when it did."""
    if fault == "timeout":
        await ex.hold(server.hang_s)
        return True
    if fault == "drop":
        await server._sleep(draw.ttfb_ms)
        await ex.write_raw(b"HTTP/1.1 200 OK\r\ncontent-type: appli")
        ex.abort()
        return True
    return False


async def send_timed(
    server: Any,
    ex: Exchange,
    status: int,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    draw: Draw,
    fault: str | None = None,
    *,
    waited_ms: float = 0.0,
) -> None:
    """A response whose head leaves at the drawn TTFB and whose body ends at the drawn total latency
    (``waited_ms`` of them already spent), with the body faults: ``malformed`` (not JSON) and ``truncated``
    (shorter than its Content-Length, then the connection closes)."""
    if fault == "malformed":
        body = body[: max(1, len(body) // 3)] + b"<html>upstream error</html>"
    ttfb = max(0.0, draw.ttfb_ms - waited_ms)
    rest = max(0.0, draw.total_ms - max(draw.ttfb_ms, waited_ms))
    if (ttfb + rest) * server.time_scale <= 0 and fault != "truncated":
        await ex.send(status, headers, body)
        return
    await server._sleep(ttfb)
    await ex.send_head(status, headers, len(body))
    await server._sleep(rest)
    if fault == "truncated":
        await ex.write(body[: len(body) // 2])
        await ex.close_after_flush()
        return
    await ex.write(body)
    await ex.end()
