"""Small statistics helpers shared by the analyses and the simulator: standard-normal quantiles, the Wilson
score interval of a proportion, and the lognormal fitted to a published p50/p95 pair.

Plain floats and :mod:`math` only, so a part that needs one of these (the simulator's latency profiles) does
not load polars or the analyses.
"""

from __future__ import annotations

import math

from imgkit.errors import InvalidParameterError

__all__ = ["Z_95", "Z_P95", "lognormal_from_p50_p95", "wilson_interval"]

#: two-sided 95 % standard-normal quantile (the 0.975 quantile)
Z_95 = 1.959963984540054
#: standard-normal quantile of 0.95 (p95 of a lognormal is exp(mu + Z_P95 * sigma))
Z_P95 = 1.6448536269514722


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float] | tuple[None, None]:
    """Wilson score interval for a binomial proportion (no continuity correction); ``(None, None)`` if n = 0."""
    if n <= 0:
        return None, None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def lognormal_from_p50_p95(p50: float, p95: float) -> tuple[float, float]:
    """``(mu, sigma)`` of the lognormal with median ``p50`` and 95th percentile ``p95``.

    ``mu = ln p50`` and ``sigma = (ln p95 - ln p50) / 1.6448536`` (the standard-normal 0.95 quantile).
    """
    if not 0 < p50 <= p95:
        raise InvalidParameterError("p50, p95", (p50, p95), "0 < p50 <= p95")
    return math.log(p50), (math.log(p95) - math.log(p50)) / Z_P95
