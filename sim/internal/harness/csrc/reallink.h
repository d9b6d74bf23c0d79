// SPDX-License-Identifier: Apache-2.0
//
// reallink.h: the real link of SPEC section 8, included by harness.cpp. Each node has its
// own clock; the harness advances global time and clocks each node at its own edges, in
// time order (ties: the lower node first). Each link direction carries, after it comes up,
// the sender's cycle counter as its first frame and then the TX ring buffer's frames, with
// a fixed latency in global time, into an elastic buffer at the receiving port, written in
// the sender's clock and read in the receiver's. The receiving node's RX input is the
// elastic buffer's output: a frame, or a made-up word in a cycle with no data (an empty
// buffer, a fill, a link that is down). The buffer's registers and UGN capture's are in the
// RTL wrapper (rtl/ringsim_top.sv); this file drives its status inputs and reads its
// control outputs at every edge.
//
// Time is a 64.32 fixed-point count of nominal cycles (unsigned __int128): a node's period
// is 1 / (1 + ppm * 1e-6) nominal cycles, exact to 2^-32 of a cycle (0.23 ppb), so clock
// control's 10 ppb steps are represented and everything stays integer and deterministic.
//
// Upstream facts (bittide-hardware main 26adae95): elastic buffer depth 32
// (GenericDemo/Core.hs:100), data_count relative to the centre (ElasticBuffer.hs:172-180),
// fills insert no-data cycles and drains drop incoming frames (ElasticBuffer.hs:41-44),
// auto-centre corrects by minus the count and then waits 256 cycles (AutoCenter.hs:95-103),
// the sender's first sampling frame is its counter (CaptureUgn.hs:125-143), capture after
// the elastic buffer (Core.hs:275-325), clock control steps 10 ppb every 200 us towards
// gain * sum of domain-difference counters (callisto.rs:68-82, ClockControl/Config.hs:62).

#ifndef RINGSIM_REALLINK_H_
#define RINGSIM_REALLINK_H_

namespace {

using t128 = unsigned __int128;
constexpr int kFrac = 32;
inline t128 at_cycle(uint64_t c) { return (t128)c << kFrac; }
inline uint64_t whole(t128 t) { return (uint64_t)(t >> kFrac); }

// NodeClock is one node's oscillator and its clock control.
struct NodeClock {
  double base_ppm = 0;   // the oscillator's offset at time 0
  double drift = 0;      // ppm per simulated second
  double ppm = 0;        // the current offset
  int64_t requests = 0;  // clock control's net speed-up requests
  double bias = 0;       // settled start: the domain difference the controller holds
  uint64_t period = 0;   // nominal cycles per own cycle, 32.32
  t128 next = 0;         // the next edge
  uint64_t phase = 0;    // the first edge's time (below one nominal cycle)
  uint64_t local = 0;    // own cycles so far (the edge being processed is number `local`)
  uint64_t rel_local = 0;  // the own cycle the node left reset (its counter's zero)
  bool released = false;
  uint64_t next_update = 0;  // the own cycle of the next clock-control update

  void set_period() {
    period = (uint64_t)std::llround(4294967296.0 / (1.0 + ppm * 1e-6));
  }
  // counter is the node's cycle counter (node_regs CYCLE) in own cycle k.
  uint64_t counter(uint64_t k) const { return released && k >= rel_local ? k - rel_local : 0; }
};

// InFlight is a frame on its way, with the low 64 bits of its arrival time. Every edge that
// compares an arrival with its own time is within 2^31 nominal cycles of it (the latency is
// at most 2^24 cycles, and a receiver takes its arrivals at its next edge), so the wrapping
// difference compares exactly (arrived); half the bytes of a 128-bit time keep more of
// the queues in L1.
struct InFlight {
  uint64_t at;
  uint64_t frame;
};

inline bool arrived(const InFlight& f, t128 t) { return (int64_t)(f.at - (uint64_t)t) <= 0; }

// RealLinkState is one link direction's real-link state: in flight, the receiver's elastic
// buffer with its auto-centre, and UGN capture. Laid out by use, a cache line each: what
// the sender's edge touches (with the queue), what the receiver's edge touches, the status
// the wrapper last saw, then what only events change. An edge of the 8-node mesh touches
// 56 of these between two evaluations that evict them from L1; a layout that spread the hot
// fields over one more line cost a tenth of the real link's speed.
struct alignas(64) RealLinkState {
  // The sender's edge, and the queue the receiver reads.
  std::vector<InFlight> q;  // in flight, oldest first
  size_t qh = 0, qn = 0;
  uint64_t latency = 0;
  // The link's ports at either end, and its Link::faulty, kept here so that an edge reads
  // the link's real-link state only.
  uint32_t src_port = 0, dst_port = 0;
  bool up = false;
  bool first = false;   // the sender's next frame is its counter (the first sampling cycle)
  bool faulty = false;
  bool primed = false;  // reads start once the buffer filled to its centre
  bool captured = false;  // UGN capture took this link-up's first frame
  bool ac_enable = false;  // auto-centre (its enable and margin are the wrapper's registers)
  bool shown_valid = false;
  // The receiver's edge: the elastic buffer.
  std::vector<uint64_t> fifo;
  uint32_t rd = 0, occ = 0;
  int64_t fill = 0;     // pending no-data cycles to insert
  int64_t drain = 0;    // pending incoming frames to drop
  int64_t ddc = 0;
  uint32_t wait = 0;
  // ver changes with every change of a status input other than the occupancy and idle
  // (flags, totals, link up, capture), so that an edge compares only those two.
  uint32_t ver = 0;
  // What the harness last wrote to the wrapper's status inputs for this link: they are
  // written only when they change (most edges change nothing; writing them all cost a
  // tenth of the real link's speed). Not saved in checkpoints: a restore writes them all.
  struct Status {
    uint32_t ver = 0;
    int32_t count = 0, ac_total = 0;
    bool under = false, over = false, idle = false, up = false, captured = false;
    uint64_t ugn_local = 0, ugn_remote = 0;
  } shown;
  uint32_t margin = 2;
  int32_t ac_total = 0;
  bool underflow = false, overflow = false;
  // Changed by events only: UGN capture, and what the harness did to the frame relation
  // (the report's truth).
  uint64_t ugn_local = 0, ugn_remote = 0;
  uint64_t inserted = 0, drained = 0, lost = 0, empty = 0, adjustments = 0;
  int64_t shift = 0;
  uint64_t up_cycle = 0;

  // push appends a frame in flight. The queue's size is a power of two, so that indexes
  // wrap with a mask (a division per frame cost a sixth of the real link's speed).
  void push(t128 at, uint64_t f) {
    if (qn == q.size()) {  // grow, keeping order
      std::vector<InFlight> g(std::max<size_t>(16, 2 * q.size()));
      for (size_t i = 0; i < qn; ++i) g[i] = q[(qh + i) & (q.size() - 1)];
      q.swap(g);
      qh = 0;
    }
    q[(qh + qn) & (q.size() - 1)] = {(uint64_t)at, f};
    ++qn;
  }
  void reset_buffer() {
    qh = qn = 0;
    rd = occ = 0;
    primed = false;
    fill = drain = 0;
    wait = 0;
  }
};

// A link transition (real link): up at `at`, or down.
struct Transition {
  t128 at;
  uint32_t link;
  bool up;
};

}  // namespace

#endif  // RINGSIM_REALLINK_H_
