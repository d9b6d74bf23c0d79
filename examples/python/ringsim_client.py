#!/usr/bin/python3
"""Script the ringsim simulator from Python over gRPC.

Resets a two-node simulation, writes a frame into node 0's TX ring buffer through the
node's CPU bus, enables node 0's TX and node 1's RX buffer, steps the clock and reads the
frame back from node 1's RX buffer. Exits non-zero if the frame did not arrive.

Uses the ringsim client package in python/ (its stubs are generated and committed): the
installed one if there is one, else the clone's copy. Needs Debian's python3-grpcio and
python3-protobuf (use /usr/bin/python3).

    ringsim serve --listen unix:/tmp/ringsim.sock &
    /usr/bin/python3 examples/python/ringsim_client.py --target unix:/tmp/ringsim.sock
"""

import argparse
import os
import sys

try:
    import ringsim
except ModuleNotFoundError as err:
    if err.name != "ringsim":
        raise
    sys.path.insert(0, os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python")))
    import ringsim


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default=ringsim.DEFAULT_TARGET, help="server address (host:port or unix:/path)")
    ap.add_argument("--depth", type=int, default=16, help="ring buffer depth in 64-bit words")
    args = ap.parse_args()
    with ringsim.connect(args.target, timeout=30) as sim:
        return run(sim, args.depth)


def run(sim, depth):
    latency = 4
    # A pair: node 0's TX port feeds node 1's RX port. Building a model for a new depth takes
    # a few seconds once; models are cached.
    s = sim.reset("pair", depth=depth, seed=1, latency=latency)
    print("simulation: %d nodes, depth %d, %s, RTL %s, cycle %d"
          % (s.node_count, s.depth, s.model.verilator_version, s.model.rtl_hash[:12], s.cycle))

    # The frame fills half of node 0's TX buffer; the rest is zero so the frame is easy to
    # find. The data register holds 64-bit words as pairs of 32-bit bus words, low half first.
    frame = [0x1000_0000_0000_0000 + (i + 1) * 0x0101_0101 for i in range(depth // 2)]
    words64 = frame + [0] * (depth - len(frame))
    w = sim.write_register(0, 0, "tx", "data", ringsim.split64(words64))
    check(not w.bus_error and w.words_written == 2 * depth, "write TX data: %s" % w)

    for node, buf in ((0, "tx"), (1, "rx")):
        r = sim.write_register(node, 0, buf, "enable", 1)
        check(not r.bus_error, "enable node %d %s: %s" % (node, buf, r))

    # Wait until the nodes are out of reset, a full rotation has gone round and the link
    # latency has passed.
    release = max(n.release_cycle for n in s.nodes)
    print("stepped to cycle %d" % sim.step(release + depth + latency + 4))

    rx = sim.read_register(1, 0, "rx", "data", count=2 * depth)
    check(not rx.bus_error and len(rx.values) == 2 * depth, "read RX data: %s" % rx)
    got = ringsim.join64(rx.values)

    # Node 1's RX buffer holds node 0's TX buffer rotated by the unknown start offset.
    for r in range(depth):
        if all(got[(i + r) % depth] == words64[i] for i in range(depth)):
            print("frame of %d words arrived at RX index %d (completed in cycle %d)"
                  % (len(frame), r, rx.completed_cycle))
            break
    else:
        print("FAIL: the frame is not in node 1's RX buffer", file=sys.stderr)
        print("  sent %s" % [hex(x) for x in words64], file=sys.stderr)
        print("  got  %s" % [hex(x) for x in got], file=sys.stderr)
        return 1

    # Illegal accesses answer with a bus error in the result, not an exception.
    e = sim.read_register(1, 0, "rx", "clear_at_count")
    check(e.bus_error, "reading write-only clear_at_count should answer ERR: %s" % e)

    # Bad arguments are errors with canonical codes.
    try:
        sim.read_register(7, 0, "rx", "data")
        check(False, "node 7 should be INVALID_ARGUMENT")
    except ringsim.RingsimError as err:
        check(err.code == ringsim.StatusCode.INVALID_ARGUMENT, "node 7: %s" % err)
        print("node 7 -> %s: %s" % (err.code_name, err.message))
    print("ok")
    return 0


def check(cond, msg):
    if not cond:
        print("FAIL: " + msg, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    sys.exit(main())
