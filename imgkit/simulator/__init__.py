"""A simulated image provider speaking the OpenAI Images, Files and Batches APIs and the fal.ai queue protocols
on a local port.

For offline runs, dry runs, CI and fault tests: deterministic images of the requested size and format,
``usage`` from the catalog's token tables, latency and failures drawn from per-(provider, model) profiles
fitted to published figures, and injectable faults in each provider's real error shape::

    with SimulatorServer(time_scale=0, faults=FaultPlan(["429", "ok"])) as sim:
        client = OpenAI(base_url=sim.base_url, api_key="test")
        client.images.generate(model="gpt-image-2", prompt="a lighthouse", quality="low")

Batches (``client.files``, ``client.batches`` of the official SDK) move through their statuses on the same
time scale (:mod:`imgkit.simulator._batches`).

Command line: ``imgkit simulate serve [--host] [--port] [--time-scale X] [--fault-rate P] [--batch-faults K]
[--seed S]``.
"""

from imgkit.simulator._faults import BATCH_FAULT_KINDS, FAULT_KINDS, RANDOM_FAULT_KINDS, FaultPlan
from imgkit.simulator._images import ImageSpec, render_image
from imgkit.simulator._profiles import (
    LogNormal,
    Profile,
    ProfileSet,
    default_profiles,
    lognormal_from_p50_p95,
)
from imgkit.simulator._server import RecordedRequest, SimulatorServer, simulated_base_urls

__all__ = [
    "BATCH_FAULT_KINDS",
    "FAULT_KINDS",
    "RANDOM_FAULT_KINDS",
    "FaultPlan",
    "ImageSpec",
    "LogNormal",
    "Profile",
    "ProfileSet",
    "RecordedRequest",
    "SimulatorServer",
    "default_profiles",
    "lognormal_from_p50_p95",
    "render_image",
    "simulated_base_urls",
]
