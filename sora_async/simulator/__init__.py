"""A faithful fake of the three Sora-2 wire protocols (codefast, soravideo, openai).

Use it in-process (no sockets, asyncio or trio)::

    from sora_async.simulator import Simulator

    sim = Simulator(provider="soravideo", time_scale=0.01, seed=0)
    async with httpx.AsyncClient(transport=sim.transport(), base_url=sim.base_url) as http:
        task = (await http.post("/sora2/text-to-video", json={"prompt": "a cat"},
                                headers={"Authorization": "Bearer sk_test"})).json()

or over HTTP: ``with sim.serve_in_thread() as url: ...``, or from a shell:
``python -m sora_async.simulator --provider soravideo --port 8000 --time-scale 0.01``.
"""

from ._counters import Counters
from ._engine import JobRecord
from ._errors import ConnectionDropped
from ._faults import FaultKind, Faults
from ._settings import SimulatorSettings
from ._simulator import Simulator
from ._transport import SimulatorTransport

__all__ = [
    "ConnectionDropped",
    "Counters",
    "FaultKind",
    "Faults",
    "JobRecord",
    "Simulator",
    "SimulatorSettings",
    "SimulatorTransport",
]
