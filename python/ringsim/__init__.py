"""Python client for ringsim, the bittide ring buffer simulator (``ringsim serve``).

The high-level API::

    import ringsim
    from ringsim import ops

    with ringsim.connect("unix:/tmp/ringsim.sock") as sim:
        sim.reset("pair", depth=16, seed=1, latency=4)
        sim.write_register(0, 0, "tx", "data", [0x11223344, 0x55667788])
        sim.write_register(0, 0, "tx", "enable", 1)
        sim.step(100)
        print(sim.read_register(1, 0, "rx", "data", count=32))
        print(sim.execute_batch({0: [ops.read(8), ops.idle(10)], 1: [ops.read(8)]}))

Server errors raise :class:`RingsimError`, which carries the gRPC status code. The stubs
generated from ``proto/ringsim/v1`` are in :mod:`ringsim.v1` (``simulator_service_pb2``,
``simulator_service_pb2_grpc``, ...), the standard health service's in
:mod:`ringsim.grpc_health.v1`; ``Simulator.stub`` is the raw ``SimulatorServiceStub`` for
anything the high-level API does not cover.
"""

try:
    import grpc  # noqa: F401
    import google.protobuf  # noqa: F401
except ImportError as _err:  # pragma: no cover - exercised by the tests in a subprocess
    raise ImportError(
        "ringsim needs the grpcio and protobuf Python packages: %s. On Debian: apt-get "
        "install python3-grpcio python3-protobuf, then use /usr/bin/python3 or a venv made "
        "with --system-site-packages" % _err
    ) from _err

from ringsim import ops
from ringsim.client import (
    BACKDOOR_TARGETS,
    BUFFERS,
    DEFAULT_TARGET,
    REGISTERS,
    SERVICE,
    TOPOLOGIES,
    Access,
    BusResult,
    RingsimError,
    Session,
    Simulator,
    StatusCode,
    connect,
    join64,
    split64,
)

__version__ = "0.1.0"

__all__ = [
    "BACKDOOR_TARGETS",
    "BUFFERS",
    "DEFAULT_TARGET",
    "REGISTERS",
    "SERVICE",
    "TOPOLOGIES",
    "Access",
    "BusResult",
    "RingsimError",
    "Session",
    "Simulator",
    "StatusCode",
    "connect",
    "join64",
    "ops",
    "split64",
]
