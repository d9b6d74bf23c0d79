"""Tests of the ringsim Python client against a real `ringsim serve` (see serve.py).

Run from the installed package (scripts/python-test.sh) or from the clone:

    RINGSIM_BIN=bin/ringsim PYTHONPATH=python /usr/bin/python3 -m unittest discover -s python/tests -v

Without grpcio or protobuf the import below fails and so does the run (an error, never a
skip): the tests exist to show that the client works on this machine.
"""

import os
import subprocess
import sys
import tempfile
import unittest

try:
    import ringsim
except ModuleNotFoundError as err:
    if err.name != "ringsim":
        raise
    raise ImportError("the ringsim client is not installed: run scripts/python-test.sh, or put the "
                      "clone's python/ on PYTHONPATH") from err
from ringsim import RingsimError, StatusCode, ops

import serve

DEPTH = 16
LATENCY = 4
MAGIC = 0x4D495352  # rtl/node_regs.sv: the node block's word at address 0

_server = None


def setUpModule():
    global _server
    _server = serve.Server()


def tearDownModule():
    global _server
    s, _server = _server, None
    if s is not None:
        log = s.log()
        code = s.stop()
        if code != 0:
            raise AssertionError("ringsim serve exited with %d after SIGTERM, want 0:\n%s" % (code, log))


class ImportTest(unittest.TestCase):
    def test_missing_grpc_fails_clearly(self):
        pkg_dir = os.path.dirname(os.path.dirname(os.path.abspath(ringsim.__file__)))
        for module in ("grpc", "google.protobuf"):
            with self.subTest(module=module):
                code = "import sys; sys.modules[%r] = None; import ringsim" % module
                env = dict(os.environ, PYTHONPATH=pkg_dir)
                p = subprocess.run([sys.executable, "-c", code], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                out = p.stdout.decode()
                self.assertNotEqual(p.returncode, 0, out)
                self.assertIn("ringsim needs the grpcio and protobuf Python packages", out)
                self.assertIn("apt-get install python3-grpcio python3-protobuf", out)

    def test_words(self):
        words = [0x1122334455667788, 0, (1 << 64) - 1]
        self.assertEqual(ringsim.split64(words[:1]), [0x55667788, 0x11223344])
        self.assertEqual(ringsim.join64(ringsim.split64(words)), words)
        with self.assertRaises(ValueError):
            ringsim.split64([1 << 64])
        with self.assertRaises(ValueError):
            ringsim.join64([1, 2, 3])


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sim = ringsim.connect(_server.target, timeout=30, call_timeout=120)

    @classmethod
    def tearDownClass(cls):
        cls.sim.close()

    def setUp(self):
        self.info = self.sim.reset("pair", depth=DEPTH, seed=1, latency=LATENCY)

    def tx_data_address(self, node=0, port=0):
        return self.info.address_map.ports[port].tx_base

    def test_connect_nowhere(self):
        with self.assertRaises(RingsimError) as cm:
            ringsim.connect("unix:" + os.path.join(tempfile.gettempdir(), "ringsim-none.sock"), timeout=0.5)
        self.assertEqual(cm.exception.code, StatusCode.UNAVAILABLE)

    def test_health(self):
        self.assertEqual(self.sim.health(), "SERVING")
        self.assertEqual(self.sim.health(""), "SERVING")

    def test_reset_and_describe(self):
        i = self.info
        self.assertEqual((i.node_count, i.port_count, i.depth, i.topology_name, i.cycle), (2, 1, DEPTH, "pair", 0))
        self.assertEqual([l.link.latency for l in i.links], [LATENCY, LATENCY])
        # The TX buffer's RAM read adds a cycle to the link latency; with the (seeded)
        # release cycles it says where TX word i lands in the RX buffer.
        self.assertEqual([l.counter_latency for l in i.links], [LATENCY + 1, LATENCY + 1])
        want = [(LATENCY + 1 + i.nodes[l.link.tx_node].release_cycle - i.nodes[l.link.rx_node].release_cycle) % DEPTH
                for l in i.links]
        self.assertEqual([l.rx_index_offset for l in i.links], want)
        d = self.sim.describe()
        self.assertEqual(d.generation, i.generation)
        self.assertEqual(len(d.nodes), 2)
        self.assertTrue(d.model.rtl_hash)

    def test_reset_custom_topology(self):
        i = self.sim.reset({"nodes": 2, "ports": 1, "links": [
            {"txNode": 0, "rxNode": 1, "latency": 3, "bidirectional": True}]}, depth=DEPTH, seed=2)
        self.assertEqual(i.topology_name, "custom")
        self.assertEqual([(l.link.tx_node, l.link.rx_node, l.link.latency) for l in i.links], [(0, 1, 3), (1, 0, 3)])
        with self.assertRaises(ValueError):
            self.sim.reset("torus", depth=DEPTH)

    def test_step_and_run_until(self):
        self.assertEqual(self.sim.step(10), 10)
        self.assertEqual(self.sim.run_until(25), 25)
        self.assertEqual(self.sim.cycle, 25)
        self.assertEqual(self.sim.describe().cycle, 25)
        with self.assertRaises(RingsimError) as cm:
            self.sim.run_until(5)
        self.assertEqual(cm.exception.code, StatusCode.OUT_OF_RANGE)

    def test_frame_through_registers(self):
        # Node 0's TX buffer: a frame of D/2 64-bit words, the rest zero.
        frame = [0x1000_0000_0000_0000 + (i + 1) * 0x0101_0101 for i in range(DEPTH // 2)]
        words64 = frame + [0] * (DEPTH - len(frame))
        w = self.sim.write_register(0, 0, "tx", "data", ringsim.split64(words64))
        self.assertFalse(w.bus_error)
        self.assertEqual(w.words_written, 2 * DEPTH)
        back = self.sim.read_register(0, 0, "tx", "data", count=2 * DEPTH)
        self.assertEqual(ringsim.join64(back.values), words64)
        self.assertEqual(self.sim.peek(0, 0, "tx_memory", count=DEPTH), words64)

        for node, buf in ((0, "tx"), (1, "rx")):
            self.assertFalse(self.sim.write_register(node, 0, buf, "enable", 1).bus_error)
            enable = self.sim.read_register(node, 0, buf, "enable")
            self.assertEqual(enable.hex(), ["0x00000001"])
            self.assertEqual(enable.value, 1)

        release = max(n.release_cycle for n in self.info.nodes)
        self.sim.step(release + DEPTH + LATENCY + 4)
        rx = self.sim.read_register(1, 0, "rx", "data", count=2 * DEPTH)
        self.assertFalse(rx.bus_error)
        got = ringsim.join64(rx.values)
        rotations = [r for r in range(DEPTH) if all(got[(i + r) % DEPTH] == words64[i] for i in range(DEPTH))]
        self.assertTrue(rotations, "frame not in node 1's RX buffer: got %s" % [hex(x) for x in got])
        self.assertEqual(self.sim.peek(1, 0, "rx_memory", count=DEPTH), got)
        self.assertGreater(self.sim.peek(1, 0, "rx_count")[0], 0)

    def test_bus_errors_are_results(self):
        r = self.sim.read_register(1, 0, "rx", "clear_at_count")
        self.assertTrue(r.bus_error)
        w = self.sim.write_register(1, 0, "rx", "data", [1, 2])
        self.assertTrue(w.bus_error)
        self.assertEqual(w.words_written, 0)

    def test_raw_bus(self):
        r = self.sim.read_bus(1, 0, count=4)
        self.assertFalse(r.bus_error)
        self.assertEqual(r.values[0], MAGIC)
        self.assertEqual(r.values[2], 1)  # NODE_ID
        self.assertEqual(r.values[3], DEPTH)
        addr = self.tx_data_address()
        w = self.sim.write_bus(0, addr, [0xCAFEF00D, 0x12345678])
        self.assertEqual((w.bus_error, w.words_written), (False, 2))
        self.assertEqual(self.sim.read_register(0, 0, "tx", "data", count=2).values, (0xCAFEF00D, 0x12345678))
        self.assertEqual(self.sim.write_bus(0, addr, 0xFFFFFFFF, byte_mask=0x1).words_written, 1)
        self.assertEqual(self.sim.read_bus(0, addr).value, 0xCAFEF0FF)
        self.assertTrue(self.sim.write_bus(0, 0, 1).bus_error)  # the node block is read only

    def test_misaligned_single_word_reaches_the_rtl(self):
        # The RTL answers a misaligned address ERR in the cycle it is presented; a misaligned
        # block is refused before it reaches the bus.
        now = self.sim.run_until(max(n.release_cycle for n in self.info.nodes) + 1)
        r = self.sim.read_bus(0, 2)
        self.assertEqual((r.bus_error, r.values, r.completed_cycle), (True, (), now))
        self.assertTrue(self.sim.write_bus(0, self.tx_data_address() + 1, 0xFFFFFFFF).bus_error)
        res = self.sim.execute(1, [ops.read(1), ops.read(0)])
        self.assertEqual([(x.bus_error, x.value) for x in res], [(True, 0), (False, MAGIC)])
        with self.assertRaises(RingsimError) as cm:
            self.sim.read_bus(0, 2, count=2)
        self.assertEqual(cm.exception.code, StatusCode.INVALID_ARGUMENT)
        self.assertTrue(cm.exception.message.startswith("address: 0x2 is not 4-byte aligned"), cm.exception.message)

    def test_peek_poke(self):
        self.sim.poke(0, 0, "tx_memory", [0xAA, 0xBB], index=3)
        self.assertEqual(self.sim.peek(0, 0, "tx_memory", index=3, count=2), [0xAA, 0xBB])
        self.sim.poke(0, 0, "tx_enable", 1)
        self.assertEqual(self.sim.peek(0, 0, "tx_enable"), [1])
        self.assertEqual(self.sim.cycle, 0)  # no time passed

    def test_execute_batch(self):
        res = self.sim.execute_batch({0: [ops.read(8), ops.idle(10)], 1: [ops.read(8), ops.read_block(0, 2)]})
        self.assertEqual(list(res), [0, 1])
        self.assertEqual(res[0][0].value, 0)
        self.assertEqual(res[0][1].cycle, res[0][0].cycle + 10)
        self.assertEqual(res[1][0].value, 1)
        self.assertEqual(res[1][1].words, (MAGIC, 1))
        self.assertEqual(self.sim.cycle, max(r[-1].cycle for r in res.values()) + 1)

        addr = self.tx_data_address()
        one = self.sim.execute(0, [ops.write_block(addr, [5, 6, 7]), ops.write(addr, 0xFF00, byte_mask=0x2),
                                   ops.read_block(addr, 3), ops.poll(0, MAGIC, max_reads=3)])
        self.assertEqual(one[2].words, (0xFF05, 6, 7))
        self.assertEqual((one[3].value, one[3].count), (MAGIC, 1))
        with self.assertRaises(ValueError):
            self.sim.execute(0, [])

    def test_session(self):
        addr = self.tx_data_address()
        with self.sim.session() as s:
            s.submit(0, [ops.write_block(addr, [1, 2, 3, 4]), ops.read_block(addr, 4)])
            s.submit(1, [ops.read(0), ops.idle(200)])
            self.assertEqual(s.in_flight, [0, 1])
            done = s.wait()
            self.assertEqual(sorted(done), [0, 1])
            self.assertEqual(done[0][1].words, (1, 2, 3, 4))
            self.assertEqual(done[1][0].value, MAGIC)
            self.assertEqual(s.in_flight, [])
            self.assertEqual(s.cycle, done[1][1].cycle + 1)

            # While its batch is in flight the session owns the node.
            s.submit(1, [ops.idle(1000)])
            self.assertEqual(s.run(s.cycle + 10), {})
            with self.assertRaises(RingsimError) as cm:
                self.sim.read_bus(1, 0)
            self.assertEqual(cm.exception.code, StatusCode.FAILED_PRECONDITION)
            with self.assertRaises(TimeoutError):
                s.wait(max_cycles=10)
            self.assertEqual(s.in_flight, [1])
            self.assertEqual(list(s.wait()), [1])
            self.assertEqual(self.sim.read_bus(1, 0).value, MAGIC)

    def test_session_error_ends_it(self):
        with self.sim.session() as s:
            s.submit(5, [ops.read(0)])
            with self.assertRaises(RingsimError) as cm:
                s.run(100)
            self.assertEqual(cm.exception.code, StatusCode.INVALID_ARGUMENT)
            with self.assertRaises(ValueError):
                s.run(100)

    def test_invalid_argument(self):
        with self.assertRaises(RingsimError) as cm:
            self.sim.read_register(7, 0, "rx", "data")
        e = cm.exception
        self.assertEqual(e.code, StatusCode.INVALID_ARGUMENT)
        self.assertEqual(e.code_name, "INVALID_ARGUMENT")
        self.assertTrue(e.message.startswith("node"), e.message)
        self.assertTrue(str(e).startswith("ringsim read register: INVALID_ARGUMENT: node"), str(e))
        with self.assertRaises(RingsimError) as cm:
            self.sim.reset("pair", depth=1)
        self.assertEqual(cm.exception.code, StatusCode.INVALID_ARGUMENT)

    def test_client_side_errors(self):
        tests = [
            ("unknown buffer", lambda: self.sim.read_register(0, 0, "up", "data")),
            ("unknown register", lambda: self.sim.read_register(0, 0, "rx", "status")),
            ("negative node", lambda: self.sim.read_register(-1, 0, "rx", "data")),
            ("unknown target", lambda: self.sim.peek(0, 0, "tx_counter")),
            ("bad byte mask", lambda: ops.write(0, 0, byte_mask=0x10)),
            ("not an op", lambda: self.sim.execute(0, [("read", 0)])),
        ]
        for name, call in tests:
            with self.subTest(name), self.assertRaises(ValueError):
                call()

    def test_link_faults(self):
        link = self.sim.set_link_faults(0, bit_flip=0.25)
        self.assertEqual((link.index, link.link.faults.bit_flip, link.link.faults.frame_zero), (0, 0.25, 0.0))
        self.assertEqual(self.sim.describe().links[0].link.faults.bit_flip, 0.25)
        with self.assertRaises(RingsimError) as cm:
            self.sim.set_link_faults(0, bit_flip=2)
        self.assertEqual(cm.exception.code, StatusCode.INVALID_ARGUMENT)

    def test_waveforms(self):
        with self.assertRaises(RingsimError) as cm:
            self.sim.start_waveform("never.fst")
        self.assertEqual(cm.exception.code, StatusCode.FAILED_PRECONDITION)
        self.assertEqual(self.sim.stop_waveform(), "")

        self.sim.reset("pair", depth=DEPTH, seed=1, latency=LATENCY, waveforms=True)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "dump.fst")
            self.assertEqual(self.sim.start_waveform(path), path)
            self.sim.step(100)
            self.assertEqual(self.sim.stop_waveform(), path)
            self.assertGreater(os.path.getsize(path), 0)


class BeforeResetTest(unittest.TestCase):
    """A server of its own: the shared one may already have a simulation."""

    def test_failed_precondition(self):
        s = serve.Server(binary=_server.bin)
        try:
            with ringsim.connect(s.target) as sim:
                self.assertEqual(sim.health(), "SERVING")
                with self.assertRaises(RingsimError) as cm:
                    sim.describe()
                self.assertEqual(cm.exception.code, StatusCode.FAILED_PRECONDITION)
        finally:
            self.assertEqual(s.stop(), 0)


if __name__ == "__main__":
    unittest.main()
