#!/usr/bin/python3
"""Script the ringsim simulator from Python over gRPC.

Resets a two-node simulation, writes a frame into node 0's TX ring buffer through the
node's CPU bus, enables node 0's TX and node 1's RX buffer, steps the clock and reads the
frame back from node 1's RX buffer. Exits non-zero if the frame did not arrive.

Needs Debian's python3-grpcio and python3-grpc-tools (use /usr/bin/python3): the stubs
are generated at run time from proto/ into a temporary directory.

    ringsim serve --listen unix:/tmp/ringsim.sock &
    /usr/bin/python3 examples/python/ringsim_client.py --target unix:/tmp/ringsim.sock
"""

import argparse
import importlib
import os
import shutil
import sys
import tempfile

import grpc
from grpc_tools import protoc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "proto"))


def load_stubs(proto_root, out_dir):
    """Generates the Python stubs of ringsim.v1 into out_dir and imports them."""
    pkg = os.path.join(proto_root, "ringsim", "v1")
    files = sorted(os.path.join("ringsim", "v1", f) for f in os.listdir(pkg) if f.endswith(".proto"))
    rc = protoc.main(["grpc_tools.protoc", "-I" + proto_root, "--python_out=" + out_dir,
                      "--grpc_python_out=" + out_dir] + files)
    if rc != 0:
        sys.exit("protoc failed with %d" % rc)
    sys.path.insert(0, out_dir)
    pb = importlib.import_module("ringsim.v1.simulator_service_pb2")
    rpc = importlib.import_module("ringsim.v1.simulator_service_pb2_grpc")
    bus = importlib.import_module("ringsim.v1.bus_pb2")
    topo = importlib.import_module("ringsim.v1.simulation_pb2")
    return pb, rpc, bus, topo


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default="127.0.0.1:7464", help="server address (host:port or unix:/path)")
    ap.add_argument("--proto", default=PROTO_ROOT, help="directory holding ringsim/v1/*.proto")
    ap.add_argument("--depth", type=int, default=16, help="ring buffer depth in 64-bit words")
    args = ap.parse_args()

    out = tempfile.mkdtemp(prefix="ringsim-stubs-")
    try:
        pb, rpc, bus, topo = load_stubs(args.proto, out)
        with grpc.insecure_channel(args.target) as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
            return run(rpc.SimulatorServiceStub(channel), pb, bus, topo, args.depth)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def run(sim, pb, bus, topo, depth):
    latency = 4
    # A pair: node 0's TX port feeds node 1's RX port. Building a model for a new depth takes
    # about 15 s once; models are cached.
    reset = sim.ResetSimulation(pb.ResetSimulationRequest(
        seed=1, depth=depth,
        builtin=topo.BuiltinTopology(shape=topo.TOPOLOGY_SHAPE_PAIR, latency=latency),
    ), timeout=600)
    s = reset.simulation
    print("simulation: %d nodes, depth %d, %s, RTL %s, cycle %d"
          % (s.node_count, s.depth, s.model.verilator_version, s.model.rtl_hash[:12], s.cycle))

    # The frame fills node 0's TX buffer: 64-bit words, written as pairs of 32-bit bus words
    # (low half first). The rest of the buffer is zero so the frame is easy to find.
    frame = [0x1000_0000_0000_0000 + (i + 1) * 0x0101_0101 for i in range(depth // 2)]
    words64 = frame + [0] * (depth - len(frame))
    words32 = []
    for w in words64:
        words32 += [w & 0xFFFFFFFF, w >> 32]
    w = sim.WriteRegister(pb.WriteRegisterRequest(
        node=0, port=0, buffer=bus.RING_BUFFER_TX, register=bus.REGISTER_DATA, index=0, values=words32))
    check(not w.bus_error and w.words_written == len(words32), "write TX data: %s" % w)

    for node, buf in ((0, bus.RING_BUFFER_TX), (1, bus.RING_BUFFER_RX)):
        r = sim.WriteRegister(pb.WriteRegisterRequest(
            node=node, port=0, buffer=buf, register=bus.REGISTER_ENABLE, values=[1]))
        check(not r.bus_error, "enable node %d: %s" % (node, r))

    # Wait until the node is out of reset, a full rotation has gone round and the link
    # latency has passed.
    release = max(n.release_cycle for n in s.nodes)
    step = sim.StepClock(pb.StepClockRequest(cycles=release + depth + latency + 4))
    print("stepped to cycle %d" % step.cycle)

    rx = sim.ReadRegister(pb.ReadRegisterRequest(
        node=1, port=0, buffer=bus.RING_BUFFER_RX, register=bus.REGISTER_DATA, index=0, count=2 * depth))
    check(not rx.bus_error and len(rx.values) == 2 * depth, "read RX data: %s" % rx)
    got = [rx.values[2 * i] | rx.values[2 * i + 1] << 32 for i in range(depth)]

    # Node 1's RX buffer holds node 0's TX buffer rotated by the unknown start offset.
    for r in range(depth):
        if all(got[(i + r) % depth] == words64[i] for i in range(depth)):
            print("frame of %d words arrived at RX index %d (completed in cycle %d)" % (len(frame), r, rx.completed_cycle))
            break
    else:
        print("FAIL: the frame is not in node 1's RX buffer", file=sys.stderr)
        print("  sent %s" % [hex(x) for x in words64], file=sys.stderr)
        print("  got  %s" % [hex(x) for x in got], file=sys.stderr)
        return 1

    # Illegal accesses answer with a bus error in the result, not an RPC error.
    e = sim.ReadRegister(pb.ReadRegisterRequest(
        node=1, port=0, buffer=bus.RING_BUFFER_RX, register=bus.REGISTER_CLEAR_AT_COUNT))
    check(e.bus_error, "reading write-only clear_at_count should answer ERR: %s" % e)

    # Bad arguments are RPC errors with canonical codes.
    try:
        sim.ReadRegister(pb.ReadRegisterRequest(node=7, buffer=bus.RING_BUFFER_RX, register=bus.REGISTER_DATA))
        check(False, "node 7 should be INVALID_ARGUMENT")
    except grpc.RpcError as err:
        check(err.code() == grpc.StatusCode.INVALID_ARGUMENT, "node 7: %s" % err)
        print("node 7 -> %s: %s" % (err.code().name, err.details()))
    print("ok")
    return 0


def check(cond, msg):
    if not cond:
        print("FAIL: " + msg, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    sys.exit(main())
