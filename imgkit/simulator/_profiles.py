"""Latency, time-to-first-byte and success profiles of the simulated provider, per (provider, model).

A profile draws one request's total latency and TTFB from lognormal distributions fitted to a published
p50/p95 pair (``mu = ln p50``, ``sigma = (ln p95 - ln p50) / 1.6448536``, the fit of
:func:`imgkit.stats.lognormal_from_p50_p95`), and decides from a success rate whether
the request fails. Both draws of one request share the same standard-normal quantile, so a slow request is
slow to its first byte too and TTFB never exceeds the total.

Default profiles come from ``data/published/seed_figures.yaml`` and ``data/published/gateway_performance.yaml``
(the gateway's per-provider figures for Gemini, Vertex, fal, Replicate and OpenAI models):

* a figure with a published p50 and p95 (gpt-image-1-mini via the gateway: 17,840 / 46,372 ms, TTFB
  17,216 / 45,544 ms, 133 of 137 requests succeeded) is fitted as is; the profile's provenance is
  ``simulated`` (what it produces is simulated; its parameters are published, and its ``basis`` names the
  source and the page copy). A TTFB given as a p50 alone takes the total's spread, a TTFB not given is the
  total; a success rate printed as a percentage is taken as printed. Copies of one page that disagree stay
  separate rows of the data; the first listed is fitted;
* a figure with a p95 only borrows the spread (sigma) and TTFB share of the fitted profile; every other
  catalog offering borrows the figures of the same model at another provider where there are some, else
  those of the fitted profile: all of these are labelled ``assumed``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imgkit.catalog import Catalog, default_catalog_dir, load_catalog, load_yaml
from imgkit.errors import InvalidParameterError
from imgkit.provenance import Provenance
from imgkit.stats import Z_P95, lognormal_from_p50_p95

__all__ = [
    "DEFAULT_FAILURE_MIX",
    "Draw",
    "LogNormal",
    "Profile",
    "ProfileSet",
    "default_profiles",
    "lognormal_from_p50_p95",
]

#: how failures drawn from a profile's success rate are spread over fault kinds (assumed: sources publish the
#: success rate, not the causes of the failures)
DEFAULT_FAILURE_MIX: Mapping[str, float] = {"rate_limit": 1.0, "server_error": 1.0, "unavailable": 1.0}


@dataclass(frozen=True)
class LogNormal:
    """A lognormal distribution in milliseconds, ``exp(mu + sigma * z)``."""

    mu: float
    sigma: float

    @classmethod
    def from_p50_p95(cls, p50_ms: float, p95_ms: float) -> LogNormal:
        return cls(*lognormal_from_p50_p95(float(p50_ms), float(p95_ms)))

    @classmethod
    def constant(cls, value_ms: float) -> LogNormal:
        """Always ``value_ms`` (0 gives an instant profile)."""
        return cls(math.log(value_ms) if value_ms > 0 else -math.inf, 0.0)

    def at(self, z: float) -> float:
        """The value at standard-normal quantile ``z``."""
        return 0.0 if self.mu == -math.inf else math.exp(self.mu + self.sigma * z)

    @property
    def p50_ms(self) -> float:
        return self.at(0.0)

    @property
    def p95_ms(self) -> float:
        return self.at(Z_P95)


@dataclass(frozen=True)
class Draw:
    """One request's draw: when the first byte and the whole response are due (ms, before time scaling)."""

    ttfb_ms: float
    total_ms: float
    fails: bool
    failure_kind: str | None


@dataclass(frozen=True)
class Profile:
    """How one model behaves at one provider: latency and TTFB distributions, success rate, failure causes."""

    provider: str
    model: str
    latency_ms: LogNormal
    ttfb_ms: LogNormal
    success_rate: float = 1.0
    failure_mix: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_FAILURE_MIX))
    provenance: Provenance = Provenance.ASSUMED
    basis: str = "assumed"

    @classmethod
    def instant(cls, provider: str, model: str, *, success_rate: float = 1.0) -> Profile:
        """A zero-latency profile (tests, benchmarks)."""
        zero = LogNormal.constant(0.0)
        return cls(provider, model, zero, zero, success_rate, basis="assumed: instant")

    def draw(self, rng: random.Random) -> Draw:
        z = rng.gauss(0.0, 1.0)
        total = self.latency_ms.at(z)
        ttfb = min(self.ttfb_ms.at(z), total)
        fails = rng.random() >= self.success_rate
        kind = None
        if fails and self.failure_mix:
            kinds, weights = zip(*self.failure_mix.items(), strict=True)
            kind = rng.choices(kinds, weights)[0]
        return Draw(ttfb, total, fails, kind)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready summary (figures in ms, rounded)."""
        return {
            "provider": self.provider,
            "model": self.model,
            "latency_p50_ms": round(self.latency_ms.p50_ms),
            "latency_p95_ms": round(self.latency_ms.p95_ms),
            "ttfb_p50_ms": round(self.ttfb_ms.p50_ms),
            "ttfb_p95_ms": round(self.ttfb_ms.p95_ms),
            "success_rate": round(self.success_rate, 4),
            "provenance": str(self.provenance),
            "basis": self.basis,
        }


class ProfileSet:
    """Profiles by (provider, model) with a fallback: exact match, then the same model at any provider."""

    def __init__(self, profiles: Iterable[Profile], fallback: Profile) -> None:
        self._by_key = {(p.provider, p.model): p for p in profiles}
        self._by_model: dict[str, Profile] = {}
        for p in self._by_key.values():
            self._by_model.setdefault(p.model, p)
        self.fallback = fallback

    def __iter__(self):
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)

    def get(self, provider: str, model: str) -> Profile:
        found = self._by_key.get((provider, model)) or self._by_model.get(model)
        if found is not None:
            return found
        fb = self.fallback
        return Profile(
            provider,
            model,
            fb.latency_ms,
            fb.ttfb_ms,
            fb.success_rate,
            fb.failure_mix,
            Provenance.ASSUMED,
            f"assumed: no profile for this model; {fb.basis}",
        )

    def with_overrides(self, profiles: Iterable[Profile]) -> ProfileSet:
        """A copy in which the given profiles replace those with the same (provider, model)."""
        return ProfileSet([*self._by_key.values(), *profiles], self.fallback)


def _figures_paths() -> list[Path]:
    """The published figures the default profiles are fitted to: the seed page's, then the gateway's pages'."""
    published = default_catalog_dir().parent / "published"
    return [published / "seed_figures.yaml", published / "gateway_performance.yaml"]


def _pairs(figure: Mapping[str, Any]) -> tuple[float | None, float | None]:
    gen = figure.get("generation_ms") or {}
    return (float(gen["p50"]) if "p50" in gen else None, float(gen["p95"]) if "p95" in gen else None)


def _success(figure: Mapping[str, Any]) -> tuple[float, str]:
    """The success rate of a figure (counts, else the percentage as printed) and how it reads."""
    if figure.get("requests"):
        return figure["successes"] / figure["requests"], f"{figure['successes']}/{figure['requests']} ok"
    shown = str(figure.get("success_rate_shown") or "").strip()
    if shown.endswith("%"):
        return float(shown[:-1]) / 100.0, f"{shown} ok"
    return 1.0, "success rate not published (assumed 100%)"


def _ttfb(figure: Mapping[str, Any], latency: LogNormal) -> tuple[LogNormal, str]:
    """The TTFB distribution of a figure: fitted to its p50/p95; a p50 alone takes the total's spread; none
    at all is the total itself (a gateway answers with the image)."""
    ttfb = figure.get("ttfb_ms") or {}
    if "p50" in ttfb and "p95" in ttfb:
        return LogNormal.from_p50_p95(
            float(ttfb["p50"]), float(ttfb["p95"])
        ), f"TTFB {ttfb['p50']}/{ttfb['p95']} ms"
    if "p50" in ttfb:
        first = LogNormal(math.log(float(ttfb["p50"])), latency.sigma)
        return first, f"TTFB p50 {ttfb['p50']} ms (its spread assumed the total's)"
    return latency, "TTFB not published (assumed the total)"


def default_profiles(catalog: Catalog | None = None, figures_path: str | Path | None = None) -> ProfileSet:
    """Profiles for every catalog offering, fitted to the published figures where they exist (module doc).

    ``figures_path``: one figures file instead of the published ones (``data/published/seed_figures.yaml``,
    then ``gateway_performance.yaml``); the first figure of a (provider, model) wins over later copies.
    """
    cat = catalog or load_catalog()
    paths = [Path(figures_path)] if figures_path else _figures_paths()
    figures = [fig for path in paths for fig in load_yaml(path).get("performance", [])]
    fitted: list[Profile] = []
    seen: set[tuple[str, str]] = set()
    for fig in figures:
        p50, p95 = _pairs(fig)
        if p50 is None or p95 is None:
            continue
        latency = LogNormal.from_p50_p95(p50, p95)
        first, ttfb_text = _ttfb(fig, latency)
        success, success_text = _success(fig)
        copy = f", copy {fig['copy'].rpartition('#')[2]}" if fig.get("copy") else ""
        basis = (
            f"fitted to published p50/p95 {p50:.0f}/{p95:.0f} ms, {ttfb_text}, {success_text} "
            f"({fig.get('source')}{copy}{', via ' + fig['via'] if fig.get('via') else ''}"
            f"{', measured by ' + fig['measured_by'] if fig.get('measured_by') else ''})"
        )
        for provider in dict.fromkeys([fig["provider"], fig.get("via")]):
            if provider and (provider, fig["model"]) not in seen:
                seen.add((provider, fig["model"]))
                fitted.append(
                    Profile(
                        provider,
                        fig["model"],
                        latency,
                        first,
                        float(success),
                        provenance=Provenance.SIMULATED,
                        basis=basis,
                    )
                )
    if not fitted:
        raise InvalidParameterError(
            "figures_path", ", ".join(map(str, paths)), "a file with at least one p50/p95 figure"
        )
    reference = fitted[0]
    sigma = reference.latency_ms.sigma
    ttfb_share = reference.ttfb_ms.p50_ms / reference.latency_ms.p50_ms
    profiles: list[Profile] = []
    for fig in figures:
        p50, p95 = _pairs(fig)
        if p50 is None and p95 is not None:
            median = p95 / math.exp(sigma * Z_P95)
            latency = LogNormal(math.log(median), sigma)
            first = LogNormal(math.log(median * ttfb_share), sigma)
            basis = (
                f"assumed: published p95 {p95:.0f} ms only ({fig.get('source')}); spread and TTFB share "
                f"borrowed from {reference.model} at {reference.provider}"
            )
            profiles.append(
                Profile(
                    fig["provider"],
                    fig["model"],
                    latency,
                    first,
                    reference.success_rate,
                    provenance=Provenance.ASSUMED,
                    basis=basis,
                )
            )
    same_model = {p.model: p for p in (*profiles, *fitted)}  # fitted figures win over p95-only ones
    known = {(p.provider, p.model) for p in (*fitted, *profiles)}
    for provider, model in cat.offerings:
        if (provider, model) in known:
            continue
        donor = same_model.get(model, reference)
        basis = f"assumed: figures of {donor.model} at {donor.provider} ({donor.basis})"
        profiles.append(
            Profile(
                provider,
                model,
                donor.latency_ms,
                donor.ttfb_ms,
                donor.success_rate,
                provenance=Provenance.ASSUMED,
                basis=basis,
            )
        )
    borrowed = f"assumed: figures of {reference.model} at {reference.provider} ({reference.basis})"
    fallback = Profile(
        "*",
        "*",
        reference.latency_ms,
        reference.ttfb_ms,
        reference.success_rate,
        provenance=Provenance.ASSUMED,
        basis=borrowed,
    )
    return ProfileSet([*profiles, *fitted], fallback)
