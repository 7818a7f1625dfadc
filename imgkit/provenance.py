"""Where a number comes from. Every figure in ``data/`` and every number a report shows carries one kind."""

from __future__ import annotations

from enum import StrEnum


class Provenance(StrEnum):
    """The kind of a number: how far to trust it."""

    PUBLISHED = "published"  # from a public source, with its URL and the date it was checked
    DERIVED = "derived"  # plain arithmetic on published figures
    MEASURED = "measured"  # computed from a request log or votes of one's own
    SIMULATED = "simulated"  # produced by the simulated provider or a synthetic data set
    ASSUMED = "assumed"  # a stated assumption (a workload, an unpublished price)
    COMMUNITY = "community"  # measured and published by users, not documented by the provider
    UNVERIFIED = "unverified"  # reported by secondary sources only


__all__ = ["Provenance"]
