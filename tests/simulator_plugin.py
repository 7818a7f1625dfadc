"""pytest plugin: the simulated provider on a loopback port, one per test.

Registered from ``tests/conftest.py`` (``pytest_plugins = ["tests.simulator_plugin"]``).

* ``simulator``: a started :class:`~imgkit.simulator.SimulatorServer` with ``time_scale=0`` (no delays) and
  ``seed=0``; requests fail only through the ``FaultPlan`` a test gives (``apply_success_rate=False``), so a
  test never meets a failure it did not ask for.
* ``simulator_factory(**kw)``: start more servers, or one with other settings (the same defaults apply
  unless overridden); all are stopped after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from imgkit.simulator import SimulatorServer

TEST_DEFAULTS = {"time_scale": 0.0, "seed": 0, "apply_success_rate": False}


@pytest.fixture
def simulator_factory() -> Iterator[Callable[..., SimulatorServer]]:
    started: list[SimulatorServer] = []

    def make(**kw) -> SimulatorServer:
        sim = SimulatorServer(**{**TEST_DEFAULTS, **kw}).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def simulator(simulator_factory: Callable[..., SimulatorServer]) -> SimulatorServer:
    return simulator_factory()
