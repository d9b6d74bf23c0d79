"""The high-level client: :func:`connect`, :class:`Simulator`, :class:`Session`.

Arguments are plain Python values (names for buffers, registers, topologies and backdoor
targets; ints for words), results are plain values or small dataclasses
(:class:`Access`, :class:`BusResult`). :meth:`Simulator.describe` and
:meth:`Simulator.reset` return the ``ringsim.v1.Simulation`` message, whose fields are
documented in ``proto/ringsim/v1/simulation.proto``.

Errors from the server raise :class:`RingsimError` with the canonical gRPC status code;
arguments the client can reject by itself (an unknown register name, a negative node)
raise ``ValueError`` before anything is sent.
"""

import dataclasses
import queue
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import grpc
from google.protobuf import json_format

from ringsim.grpc_health.v1 import health_pb2, health_pb2_grpc
from ringsim.v1 import bus_pb2, simulation_pb2
from ringsim.v1 import simulator_service_pb2 as pb
from ringsim.v1 import simulator_service_pb2_grpc as pb_grpc

StatusCode = grpc.StatusCode
"""StatusCode is grpc.StatusCode, the type of :attr:`RingsimError.code`."""

DEFAULT_TARGET = "127.0.0.1:7464"
"""DEFAULT_TARGET is where ``ringsim serve`` listens by default."""

SERVICE = "ringsim.v1.SimulatorService"
"""SERVICE is the simulator's full gRPC service name (also its health service name)."""

MAX_MESSAGE_BYTES = 64 << 20
"""MAX_MESSAGE_BYTES is the largest message the client sends or accepts (the server's limit)."""

RESET_TIMEOUT = 600.0
"""RESET_TIMEOUT is reset's default deadline in seconds: building a new model takes a while."""

TOPOLOGIES = {
    "pair": simulation_pb2.TOPOLOGY_SHAPE_PAIR,
    "line": simulation_pb2.TOPOLOGY_SHAPE_LINE,
    "ring": simulation_pb2.TOPOLOGY_SHAPE_RING,
    "mesh": simulation_pb2.TOPOLOGY_SHAPE_MESH,
}
"""TOPOLOGIES maps the built-in topology names :meth:`Simulator.reset` accepts to the proto enum."""

BUFFERS = {"tx": bus_pb2.RING_BUFFER_TX, "rx": bus_pb2.RING_BUFFER_RX}
"""BUFFERS maps ring buffer names to the proto enum."""

REGISTERS = {
    "data": bus_pb2.REGISTER_DATA,
    "enable": bus_pb2.REGISTER_ENABLE,
    "clear_at_count": bus_pb2.REGISTER_CLEAR_AT_COUNT,
}
"""REGISTERS maps ring buffer register names to the proto enum."""

BACKDOOR_TARGETS = {
    "tx_memory": bus_pb2.BACKDOOR_TARGET_TX_MEMORY,
    "tx_enable": bus_pb2.BACKDOOR_TARGET_TX_ENABLE,
    "tx_count": bus_pb2.BACKDOOR_TARGET_TX_COUNT,
    "rx_memory": bus_pb2.BACKDOOR_TARGET_RX_MEMORY,
    "rx_enable": bus_pb2.BACKDOOR_TARGET_RX_ENABLE,
    "rx_count": bus_pb2.BACKDOOR_TARGET_RX_COUNT,
}
"""BACKDOOR_TARGETS maps the state names :meth:`Simulator.peek` and ``poke`` accept to the proto enum."""

_HEALTH_STATUS = {v.number: v.name for v in health_pb2.HealthCheckResponse.ServingStatus.DESCRIPTOR.values}

Ops = Sequence[bus_pb2.BusOp]
Batches = Union[Mapping[int, Ops], Iterable[Tuple[int, Ops]]]


class RingsimError(Exception):
    """RingsimError is an error answered by the server (or by gRPC on the way).

    Attributes:
        operation: what the client was doing ("read register", "session run", ...).
        code: the canonical status code, a :class:`grpc.StatusCode`
            (``StatusCode.INVALID_ARGUMENT``, ``StatusCode.FAILED_PRECONDITION``, ...).
        message: the server's message; it starts with the request field it is about.
    """

    def __init__(self, operation: str, code: grpc.StatusCode, message: str):
        super().__init__(operation, code, message)
        self.operation = operation
        self.code = code
        self.message = message

    @property
    def code_name(self) -> str:
        """code_name is the code's canonical name, e.g. "INVALID_ARGUMENT"."""
        return self.code.name

    def __str__(self) -> str:
        return "ringsim %s: %s: %s" % (self.operation, self.code.name, self.message)


def _error(operation: str, err: grpc.RpcError) -> RingsimError:
    """_error converts a gRPC error (a grpc.Call) to a RingsimError."""
    code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    details = err.details() if hasattr(err, "details") else str(err)
    return RingsimError(operation, code or grpc.StatusCode.UNKNOWN, details or "")


@dataclasses.dataclass(frozen=True)
class Access:
    """Access is the outcome of a register or raw bus access.

    Attributes:
        values: the 32-bit words read (reads; fewer than asked after a bus error).
        bus_error: True when the bus answered ERR, as the hardware would (reading the
            write-only clear_at_count register, writing RX data, an unmapped address).
            This is not an exception: it is what the RTL did.
        words_written: the words written before any ERR (writes).
        completed_cycle: the cycle in which the access completed.
        cycle: the next cycle to run after the call.
    """

    values: Tuple[int, ...] = ()
    bus_error: bool = False
    words_written: int = 0
    completed_cycle: int = 0
    cycle: int = 0

    @property
    def value(self) -> int:
        """value is the single word a one-word read returned."""
        if len(self.values) != 1:
            raise ValueError("access returned %d words, not one" % len(self.values))
        return self.values[0]

    def hex(self) -> List[str]:
        """hex returns the words read as 0x-prefixed, 8-digit hex strings."""
        return ["0x%08x" % v for v in self.values]

    def __str__(self) -> str:
        s = "[%s]" % " ".join(self.hex()) if self.values else "written %d" % self.words_written
        return "%s%s completed@%d" % (s, " ERR" if self.bus_error else "", self.completed_cycle)


@dataclasses.dataclass(frozen=True)
class BusResult:
    """BusResult is the outcome of one operation of a batch.

    Attributes:
        cycle: the cycle in which the operation completed (ACK, ERR or last idle cycle).
        bus_error: True when the bus answered ERR; block operations stop at the first ERR.
        value: the (last) word read by read and poll.
        words: the words a read_block read.
        count: the words transferred (blocks) or reads done (poll).
    """

    cycle: int = 0
    bus_error: bool = False
    value: int = 0
    words: Tuple[int, ...] = ()
    count: int = 0

    @classmethod
    def _from_pb(cls, r: bus_pb2.BusResult) -> "BusResult":
        return cls(cycle=r.cycle, bus_error=r.bus_error, value=r.value, words=tuple(r.words), count=r.count)


def split64(words: Iterable[int]) -> List[int]:
    """split64 turns 64-bit words into the 32-bit bus words of the data register, low half
    first (64-bit word i is 32-bit words 2i and 2i+1)."""
    out = []
    for w in words:
        if not 0 <= w < 1 << 64:
            raise ValueError("%#x is not a 64-bit word" % w)
        out += [w & 0xFFFFFFFF, w >> 32]
    return out


def join64(words: Sequence[int]) -> List[int]:
    """join64 is the inverse of split64: pairs of 32-bit words, low half first, to 64-bit words."""
    if len(words) % 2:
        raise ValueError("%d 32-bit words do not make 64-bit words" % len(words))
    return [words[i] | words[i + 1] << 32 for i in range(0, len(words), 2)]


def _name(mapping: Mapping[str, int], value: Union[str, int], what: str) -> int:
    """_name resolves a name (case-insensitive) or a proto enum number from mapping."""
    if isinstance(value, str):
        try:
            return mapping[value.lower()]
        except KeyError:
            raise ValueError("%s %r: want one of %s" % (what, value, ", ".join(mapping))) from None
    if isinstance(value, int) and value in mapping.values():
        return value
    raise ValueError("%s %r: want one of %s" % (what, value, ", ".join(mapping)))


def _index(value: int, what: str) -> int:
    """_index checks that value is a non-negative int (a node, port, index or count)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("%s %r: want a non-negative int" % (what, value))
    return value


def _words(values: Union[int, Iterable[int]]) -> List[int]:
    """_words accepts one word or an iterable of words."""
    if isinstance(values, int):
        return [values]
    return list(values)


def _faults(faults) -> Optional[simulation_pb2.LinkFaults]:
    """_faults accepts None, a LinkFaults message or a mapping with bit_flip, frame_zero."""
    if faults is None:
        return None
    if isinstance(faults, simulation_pb2.LinkFaults):
        return faults
    if isinstance(faults, Mapping):
        unknown = set(faults) - {"bit_flip", "frame_zero"}
        if unknown:
            raise ValueError("faults: unknown keys %s (want bit_flip, frame_zero)" % sorted(unknown))
        return simulation_pb2.LinkFaults(**faults)
    raise ValueError("faults %r: want a mapping with bit_flip and frame_zero" % (faults,))


def _node_batch(node: int, ops: Ops, where: str) -> bus_pb2.NodeBatch:
    ops = list(ops)
    if not ops:
        raise ValueError("%s: empty batch for node %d" % (where, node))
    for i, op in enumerate(ops):
        if not isinstance(op, bus_pb2.BusOp):
            raise ValueError("%s: node %d op %d is %r, not a BusOp (use ringsim.ops)" % (where, node, i, op))
    return bus_pb2.NodeBatch(node=_index(node, "node"), ops=ops)


def _batches(batches: Batches, where: str) -> List[bus_pb2.NodeBatch]:
    items = batches.items() if isinstance(batches, Mapping) else batches
    return [_node_batch(node, ops, where) for node, ops in items]


class Simulator:
    """Simulator is a connection to a ringsim server (``ringsim serve``).

    Make one with :func:`connect`. The unary methods are safe to call from several
    threads (the server serializes all calls of all clients); :attr:`cycle` is then only
    the cycle of the latest answer. Use it as a context manager, or call :meth:`close`.

    Attributes:
        target: the address connected to.
        channel: the grpc.Channel.
        stub: the raw ``SimulatorServiceStub`` (``ringsim.v1.simulator_service_pb2_grpc``).
        timeout: the default deadline in seconds of every call but reset (None: none).
        cycle: the next cycle to run, as of the latest answer that said.
    """

    def __init__(self, channel: grpc.Channel, target: str = "", timeout: Optional[float] = None,
                 owns_channel: bool = False):
        """Wraps an existing channel; close() closes it only if owns_channel."""
        self.target = target
        self.channel = channel
        self.stub = pb_grpc.SimulatorServiceStub(channel)
        self._health = health_pb2_grpc.HealthStub(channel)
        self.timeout = timeout
        self.cycle = 0
        self._owns = owns_channel

    def __enter__(self) -> "Simulator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """close closes the channel if connect made it. It is safe to call twice."""
        if self._owns:
            self._owns = False
            self.channel.close()

    def _call(self, operation: str, method, request, timeout=None):
        try:
            return method(request, timeout=self.timeout if timeout is None else timeout)
        except grpc.RpcError as err:
            raise _error(operation, err) from None

    def _at(self, resp):
        self.cycle = resp.cycle
        return resp

    # Simulation lifecycle.

    def describe(self) -> simulation_pb2.Simulation:
        """describe returns the ``ringsim.v1.Simulation`` message: shape, cycle, nodes
        (release cycles, DNA, busy), links and fault counters, model build, address map,
        limits."""
        s = self._call("describe", self.stub.DescribeSimulation, pb.DescribeSimulationRequest()).simulation
        self.cycle = s.cycle
        return s

    def reset(self, topology="pair", *, depth: int, seed: int = 0, nodes: int = 0, latency: int = 0,
              faults=None, release_cycles: Sequence[int] = (), max_skew: int = 0,
              dna: Sequence[int] = (), clock_hz: float = 0.0, waveforms: bool = False,
              rtl_dir: str = "", disable_assertions: bool = False,
              timeout: float = RESET_TIMEOUT) -> simulation_pb2.Simulation:
        """reset replaces the server's simulation with a new one at cycle 0 and returns its
        description (a ``ringsim.v1.Simulation`` message).

        Args:
            topology: a built-in topology name ("pair", "line", "ring", "mesh", see
                TOPOLOGIES), or a custom topology: a ``CustomTopology`` message or a dict
                in its JSON form, e.g. ``{"nodes": 2, "ports": 1, "links": [{"txNode": 0,
                "rxNode": 1, "latency": 3}]}``.
            depth: the ring buffer depth D in 64-bit words (at least 2).
            seed: fixes every random choice (release cycles, DNA, faults).
            nodes: built-in topologies: the node count; 0 means 2.
            latency: built-in topologies: every link's latency in cycles.
            faults: built-in topologies: every link's initial fault rates, a dict with
                bit_flip and frame_zero (probabilities).
            release_cycles: each node's reset release cycle; empty means seeded.
            max_skew: bounds seeded release cycles; 0 means 4*depth.
            dna: each node's 96-bit device DNA as an int; empty means seeded.
            clock_hz: the link clock; 0 means 125 MHz.
            waveforms: build the model with FST support, so start_waveform works.
            rtl_dir: a directory on the server with node RTL; empty means ringsim's own.
            disable_assertions: build the model without the RTL's assertions.
            timeout: the deadline in seconds; building a model for a new shape takes
                seconds (cached afterwards).
        """
        req = pb.ResetSimulationRequest(
            seed=seed, depth=depth, release_cycles=list(release_cycles), max_skew=max_skew,
            clock_hz=clock_hz, waveforms=waveforms, rtl_dir=rtl_dir,
            disable_assertions=disable_assertions)
        for d in dna:
            if not 0 <= d < 1 << 96:
                raise ValueError("dna %#x is not a 96-bit value" % d)
            req.dna.add(low=d & 0xFFFFFFFF, middle=(d >> 32) & 0xFFFFFFFF, high=d >> 64)
        if isinstance(topology, str):
            req.builtin.CopyFrom(simulation_pb2.BuiltinTopology(
                shape=_name(TOPOLOGIES, topology, "topology"), nodes=nodes, latency=latency,
                faults=_faults(faults)))
        else:
            if nodes or latency or faults is not None:
                raise ValueError("nodes, latency and faults are for built-in topologies; "
                                 "a custom topology sets them per link")
            if isinstance(topology, simulation_pb2.CustomTopology):
                req.custom.CopyFrom(topology)
            elif isinstance(topology, Mapping):
                try:
                    json_format.ParseDict(topology, req.custom)
                except json_format.ParseError as err:
                    raise ValueError("custom topology: %s" % err) from None
            else:
                raise ValueError("topology %r: want a name (%s), a CustomTopology or a dict"
                                 % (topology, ", ".join(TOPOLOGIES)))
        s = self._call("reset", self.stub.ResetSimulation, req, timeout=timeout).simulation
        self.cycle = s.cycle
        return s

    # The clock.

    def step(self, cycles: int) -> int:
        """step runs exactly cycles cycles (at most the server's max_cycles_per_call) and
        returns the next cycle to run."""
        return self._at(self._call("step clock", self.stub.StepClock,
                                   pb.StepClockRequest(cycles=_index(cycles, "cycles")))).cycle

    def run_until(self, cycle: int) -> int:
        """run_until runs until the cycle count reaches cycle (not before the current one)
        and returns it."""
        return self._at(self._call("run until cycle", self.stub.RunUntilCycle,
                                   pb.RunUntilCycleRequest(cycle=_index(cycle, "cycle")))).cycle

    # Registers, raw bus, backdoor.

    def read_register(self, node: int, port: int, buffer: str, register: str, index: int = 0,
                      count: int = 1) -> Access:
        """read_register reads a ring buffer register through node's CPU bus (simulated
        time advances as the RTL dictates).

        Args:
            node, port: the node and its port.
            buffer: "tx" or "rx".
            register: "data", "enable" or "clear_at_count".
            index: the first 32-bit word for "data" (in [0, 2*depth)); 0 otherwise.
            count: the number of 32-bit words for "data"; 1 otherwise.

        Reading the write-only clear_at_count register answers ERR: the result's
        bus_error is True (not an exception).
        """
        r = self._call("read register", self.stub.ReadRegister, pb.ReadRegisterRequest(
            node=_index(node, "node"), port=_index(port, "port"), buffer=_name(BUFFERS, buffer, "buffer"),
            register=_name(REGISTERS, register, "register"), index=_index(index, "index"),
            count=_index(count, "count")))
        self.cycle = r.cycle
        return Access(values=tuple(r.values), bus_error=r.bus_error, completed_cycle=r.completed_cycle, cycle=r.cycle)

    def write_register(self, node: int, port: int, buffer: str, register: str,
                       values: Union[int, Iterable[int]], index: int = 0, byte_mask: int = 0) -> Access:
        """write_register writes a ring buffer register through node's CPU bus.

        Args:
            node, port, buffer, register, index: as for read_register.
            values: one 32-bit word (an int) or several consecutive words for "data"
                (use split64 for 64-bit words).
            byte_mask: the byte lanes of a single-word write (bit k = bits [8k+7:8k]);
                0 means all four.

        Writing RX data answers ERR: the result's bus_error is True.
        """
        r = self._call("write register", self.stub.WriteRegister, pb.WriteRegisterRequest(
            node=_index(node, "node"), port=_index(port, "port"), buffer=_name(BUFFERS, buffer, "buffer"),
            register=_name(REGISTERS, register, "register"), index=_index(index, "index"),
            values=_words(values), byte_mask=byte_mask))
        self.cycle = r.cycle
        return Access(bus_error=r.bus_error, words_written=r.words_written, completed_cycle=r.completed_cycle,
                      cycle=r.cycle)

    def read_bus(self, node: int, address: int, count: int = 1) -> Access:
        """read_bus reads count consecutive 32-bit words at a raw byte address of node's bus
        (4-byte aligned for more than one word; a misaligned or unmapped address answers
        ERR, as the RTL does)."""
        r = self._call("read bus", self.stub.ReadBus, pb.ReadBusRequest(
            node=_index(node, "node"), address=address, count=_index(count, "count")))
        self.cycle = r.cycle
        return Access(values=tuple(r.values), bus_error=r.bus_error, completed_cycle=r.completed_cycle, cycle=r.cycle)

    def write_bus(self, node: int, address: int, values: Union[int, Iterable[int]], byte_mask: int = 0) -> Access:
        """write_bus writes consecutive 32-bit words at a raw byte address of node's bus;
        byte_mask as for write_register."""
        r = self._call("write bus", self.stub.WriteBus, pb.WriteBusRequest(
            node=_index(node, "node"), address=address, values=_words(values), byte_mask=byte_mask))
        self.cycle = r.cycle
        return Access(bus_error=r.bus_error, words_written=r.words_written, completed_cycle=r.completed_cycle,
                      cycle=r.cycle)

    def peek(self, node: int, port: int, target: str, index: int = 0, count: int = 1) -> List[int]:
        """peek reads ring buffer state through the backdoor, without advancing time.

        target is one of BACKDOOR_TARGETS ("tx_memory", "rx_memory": 64-bit words from
        index; "tx_enable", "rx_enable", "tx_count", "rx_count": one value, index 0,
        count 1).
        """
        r = self._call("peek", self.stub.PeekMemory, pb.PeekMemoryRequest(
            node=_index(node, "node"), port=_index(port, "port"),
            target=_name(BACKDOOR_TARGETS, target, "target"), index=_index(index, "index"),
            count=_index(count, "count")))
        return list(r.values)

    def poke(self, node: int, port: int, target: str, values: Union[int, Iterable[int]], index: int = 0) -> None:
        """poke writes ring buffer state through the backdoor, without advancing time
        (memories: 64-bit words from index; enables: one value; counters are read only)."""
        self._call("poke", self.stub.PokeMemory, pb.PokeMemoryRequest(
            node=_index(node, "node"), port=_index(port, "port"),
            target=_name(BACKDOOR_TARGETS, target, "target"), index=_index(index, "index"),
            values=_words(values)))

    # Batches and sessions.

    def execute_batch(self, batches: Batches) -> Dict[int, List[BusResult]]:
        """execute_batch submits one batch per node and runs until all complete, with the
        engine's lockstep semantics.

        Args:
            batches: {node: [op, ...]} or an iterable of (node, [op, ...]) pairs, ops
                made with ringsim.ops; at most one batch per node.

        Returns:
            {node: [BusResult, ...]} in request order, one result per operation.
        """
        req = pb.ExecuteBatchRequest(batches=_batches(batches, "execute batch"))
        resp = self._at(self._call("execute batch", self.stub.ExecuteBatch, req))
        return {r.node: [BusResult._from_pb(x) for x in r.results] for r in resp.results}

    def execute(self, node: int, ops: Ops) -> List[BusResult]:
        """execute runs one batch on node to completion and returns its results."""
        return self.execute_batch([(node, ops)])[node]

    def session(self) -> "Session":
        """session opens a lockstep session (the OpenSession stream); see Session."""
        return Session(self)

    # Faults, waveforms, health.

    def set_link_faults(self, link: int, bit_flip: float = 0.0, frame_zero: float = 0.0) -> simulation_pb2.LinkInfo:
        """set_link_faults sets a link's fault rates (probabilities) from the next cycle on
        and returns the link (a ``ringsim.v1.LinkInfo`` message, with its counters)."""
        return self._call("set link faults", self.stub.SetLinkFaults, pb.SetLinkFaultsRequest(
            link=_index(link, "link"),
            faults=simulation_pb2.LinkFaults(bit_flip=bit_flip, frame_zero=frame_zero))).link

    def start_waveform(self, path: str) -> str:
        """start_waveform starts an FST dump of every node to path on the server's machine
        and returns its absolute path. The simulation must have been reset with
        waveforms=True (else FAILED_PRECONDITION)."""
        return self._call("start waveform", self.stub.StartWaveform, pb.StartWaveformRequest(path=path)).path

    def stop_waveform(self) -> str:
        """stop_waveform closes the FST dump and returns its path ("" if none was open)."""
        return self._at(self._call("stop waveform", self.stub.StopWaveform, pb.StopWaveformRequest())).path

    def health(self, service: str = SERVICE) -> str:
        """health asks the standard health service (grpc.health.v1) about service ("" for
        the server as a whole) and returns the status name: "SERVING", "NOT_SERVING", ..."""
        r = self._call("health check", self._health.Check, health_pb2.HealthCheckRequest(service=service))
        return _HEALTH_STATUS.get(r.status, str(r.status))


_END = object()


class Session:
    """Session is a lockstep session: the bidirectional OpenSession stream.

    :meth:`submit` queues a batch for a node (at most one in flight per node);
    :meth:`run` sends the queued batches with a run command and returns the batches that
    completed; :meth:`wait` runs until every batch in flight completed. While a batch is
    in flight the session owns its node: other callers get FAILED_PRECONDITION for bus
    access to it. When the session ends (close, or a server error, which raises
    RingsimError and ends the stream) batches in flight keep running in simulated time and
    their results are discarded.

    A Session is not safe for concurrent use. Use it as a context manager, or call close.

    Attributes:
        cycle: the next cycle to run, as of the latest run.
    """

    def __init__(self, sim: Simulator):
        self._sim = sim
        self._requests: "queue.Queue" = queue.Queue()
        self._responses = sim.stub.OpenSession(iter(self._requests.get, _END))
        self._pending: List[bus_pb2.NodeBatch] = []
        self._inflight = set()
        self._closed = False
        self.cycle = sim.cycle

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def in_flight(self) -> List[int]:
        """in_flight lists the nodes with a batch submitted and not yet completed."""
        return sorted(self._inflight)

    def submit(self, node: int, ops: Ops) -> None:
        """submit queues a batch of ops (made with ringsim.ops) for node; it is sent with
        the next run."""
        if self._closed:
            raise ValueError("session closed")
        if node in self._inflight:
            raise ValueError("node %d already has a batch in flight in this session" % node)
        self._pending.append(_node_batch(node, ops, "session submit"))
        self._inflight.add(node)

    def _exchange(self, until: int) -> Dict[int, List[BusResult]]:
        """_exchange sends the queued batches with one run message and reads its answer."""
        if self._closed:
            raise ValueError("session closed")
        self._requests.put(pb.OpenSessionRequest(batches=self._pending, run=pb.SessionRun(until_cycle=until)))
        self._pending = []
        try:
            resp = next(self._responses)
        except grpc.RpcError as err:
            self._end()
            raise _error("session run", err) from None
        except StopIteration:
            self._end()
            raise RingsimError("session run", grpc.StatusCode.UNKNOWN, "the server ended the session") from None
        self.cycle = self._sim.cycle = resp.cycle
        done = {}
        for r in resp.completed:
            self._inflight.discard(r.node)
            done[r.node] = [BusResult._from_pb(x) for x in r.results]
        return done

    def run(self, until_cycle: int) -> Dict[int, List[BusResult]]:
        """run sends the queued batches and runs until the cycle count reaches until_cycle
        or, earlier, until some of the session's batches complete (the end of that cycle).

        Returns:
            {node: [BusResult, ...]} of the batches that completed (possibly none).
        """
        done = self._exchange(until_cycle)
        # The server simulates at most max_cycles_per_call cycles per run message.
        while not done and self.cycle < until_cycle:
            done = self._exchange(until_cycle)
        return done

    def wait(self, max_cycles: int = 1 << 30) -> Dict[int, List[BusResult]]:
        """wait sends the queued batches and runs until every batch in flight completed.

        Returns:
            {node: [BusResult, ...]} of every batch that completed.

        Raises:
            TimeoutError: batches are still in flight after max_cycles cycles (they stay
                in flight; run or wait again).
        """
        done = self._exchange(0)  # submits, delivers what already completed, reads the cycle
        until = self.cycle + max_cycles
        while self._inflight and self.cycle < until:
            done.update(self.run(until))
        if self._inflight:
            raise TimeoutError("session: nodes %s still in flight at cycle %d" % (self.in_flight, self.cycle))
        return done

    def _end(self) -> None:
        """_end marks the session closed and ends the request stream (and the gRPC thread
        that reads it)."""
        self._closed = True
        self._requests.put(_END)

    def close(self) -> None:
        """close ends the session; it is safe to call twice. Batches in flight keep
        running on the server and their results are discarded."""
        if self._closed:
            return
        self._end()
        try:
            for _ in self._responses:
                pass
        except grpc.RpcError:
            pass


def connect(target: str = DEFAULT_TARGET, timeout: float = 30.0, call_timeout: Optional[float] = None) -> Simulator:
    """connect opens a connection to a ringsim server and waits until it is ready.

    Args:
        target: "host:port" (e.g. "127.0.0.1:7464", the default) or "unix:/path/to/socket",
            as the Go client accepts.
        timeout: seconds to wait for the server; then RingsimError UNAVAILABLE.
        call_timeout: the default deadline in seconds of every call but reset (None: none).
    """
    channel = grpc.insecure_channel(target, options=[
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ])
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
    except grpc.FutureTimeoutError:
        channel.close()
        raise RingsimError("connect", grpc.StatusCode.UNAVAILABLE,
                           "no ringsim server at %s after %g s" % (target, timeout)) from None
    return Simulator(channel, target=target, timeout=call_timeout, owns_channel=True)
