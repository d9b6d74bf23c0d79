// SPDX-License-Identifier: Apache-2.0
//
// rs_api.h: the narrow C interface between ringsim's Go engine and the C++ harness that
// owns the Verilated node models. The harness is compiled with the model into a shared
// object; Go loads it with dlopen and calls these functions through pointers. Everything
// per cycle (clocking, links, faults, the per-node bus masters) happens on this side, so a
// call crosses from Go to C++ once per batch of cycles, never once per cycle.
//
// Handles are opaque. No function keeps a pointer to caller memory after it returns.
// A handle may be used from one thread at a time.

#ifndef RINGSIM_RS_API_H_
#define RINGSIM_RS_API_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// RS_ABI_VERSION changes whenever a struct or signature below changes.
#define RS_ABI_VERSION 6

// Bus operation kinds (rs_op.kind).
enum {
  RS_OP_READ = 1,         // 32-bit read of addr
  RS_OP_WRITE = 2,        // 32-bit write of data to addr with byte mask sel
  RS_OP_READ_BLOCK = 3,   // count back-to-back 32-bit reads from addr, addr+4, ...
  RS_OP_WRITE_BLOCK = 4,  // count back-to-back 32-bit writes (mask 0xF) of data words
  RS_OP_IDLE = 5,         // the CPU does no bus access for count cycles (count >= 1)
  RS_OP_POLL = 6,         // read addr until ((value & mask) == data) == (sel == RS_POLL_EQ),
                          // at most count reads, interval idle cycles between reads
};

// Poll conditions (rs_op.sel of RS_OP_POLL).
enum {
  RS_POLL_EQ = 1,  // until (value & mask) == data
  RS_POLL_NE = 2,  // until (value & mask) != data
};

// Backdoor targets (rs_peek / rs_poke).
enum {
  RS_BD_TX_MEM = 1,
  RS_BD_TX_ENABLE = 2,
  RS_BD_TX_COUNT = 3,  // read only
  RS_BD_RX_MEM = 4,
  RS_BD_RX_ENABLE = 5,
  RS_BD_RX_COUNT = 6,  // read only
};

// Return codes.
enum {
  RS_OK = 0,
  RS_EINVAL = -1,     // bad argument; rs_error says which
  RS_EBUSY = -2,      // the node still has a batch in flight
  RS_ESTOPPED = -3,   // the simulation stopped (an assertion, $fatal, a bus timeout);
                      // rs_stop_info says why
  RS_ENOTSUP = -4,    // the model does not support this (no trace, no backdoor variable)
  RS_EIO = -5,        // file error (waveform)
};

// Why a simulation stopped (rs_stop.kind).
enum {
  RS_STOP_NONE = 0,         // it has not stopped
  RS_STOP_ASSERTION = 1,    // a named assertion (rtl/ringsim_assert.svh) failed: name, file,
                            // line, scope and message come from the assertion itself
  RS_STOP_ERROR = 2,        // $error, $fatal or $stop, or an assertion without a name
                            // (Verilator 5.006 reports these alike); message is its output
  RS_STOP_FINISH = 3,       // $finish
  RS_STOP_BUS_TIMEOUT = 4,  // a bus access got neither ACK nor ERR within the cycles the
                            // SPEC allows (rs_regmap.h, RS_BUS_SLACK)
  RS_STOP_FATAL = 5,        // Verilator's runtime gave up (a loop that did not converge)
};

// Where an assertion is (rs_stop.device).
enum {
  RS_DEV_NONE = 0,  // not in a ring buffer, or unknown
  RS_DEV_TX = 1,
  RS_DEV_RX = 2,
};

// RS_BUS_SLACK bounds the answer to every access: within RS_BUS_SLACK cycles after the
// cycle it is presented in (the SPEC answers in 0 cycles, data reads in 1), except
// clear_at_count, which may stall up to D-1 (rs_regmap.h has each register's latency). An
// access not answered by then stops the simulation with RS_STOP_BUS_TIMEOUT. An answer that
// is late but within the bound stays a timing difference the conformance checks report at
// its exact cycle.
#define RS_BUS_SLACK 2

typedef struct rs_sim rs_sim;

typedef struct rs_link {
  uint32_t src_node, src_port;  // TX side
  uint32_t dst_node, dst_port;  // RX side
  uint32_t latency;             // cycles from TX output to RX input (0 allowed)
  uint32_t reserved;
} rs_link;

// A scheduled link flap (real link): the link is down from cycle down to cycle up.
typedef struct rs_flap {
  uint32_t link;
  uint32_t reserved;
  uint64_t down, up;  // nominal cycles
} rs_flap;

// The real link (SPEC section 8). Times are nominal cycles (global time); a node's own
// cycles are its clock's edges.
typedef struct rs_real {
  const double* ppm;         // per node: initial frequency offset in ppm
  const double* drift;       // per node: drift in ppm per simulated second (NULL: none)
  const uint64_t* up;        // per link: the cycle it comes up
  const rs_flap* flaps;
  uint32_t nflaps;
  uint32_t eb_depth;         // elastic buffer frames (a power of two)
  uint32_t control;          // 1: clock control on
  uint32_t settled;          // 1: start converged (equal frequencies, centred buffers)
  double step_ppb;           // clock control's step
  double gain;               // clock control's gain
  uint64_t update_cycles;    // clock control's period in a node's own cycles
  uint32_t rx_random;        // 1: RX ring buffer memory starts seeded-random
  uint32_t nodata_random;    // 1: a no-data cycle writes a seeded-random word (else 0)
} rs_real;

typedef struct rs_config {
  uint32_t nodes;
  uint32_t nlinks;
  const rs_link* links;
  const uint64_t* reset_release;  // per node: first cycle out of reset
  const uint32_t* dna;            // per node: 3 words, bits [31:0], [63:32], [95:64]
  uint64_t seed;                  // seeds the fault injectors and the real link's randomness
  uint64_t clock_period_ps;       // waveform time per cycle (nominal)
  const rs_real* real;            // NULL: the ideal link
  // threads: how many threads clock the nodes (0 or 1: the caller's only). More than one
  // needs every link's latency >= 1 (the lookahead); the real link, waveform models and
  // drives/records run on one thread. Results are the same for any count.
  uint32_t threads;
  uint32_t reserved;
} rs_config;

typedef struct rs_op {
  uint32_t kind;
  uint32_t addr;      // byte address (blocks: 4-byte aligned; a misaligned single access
                      // reaches the RTL, which answers ERR)
  uint32_t data;      // RS_OP_WRITE data; RS_OP_POLL reference value
  uint32_t sel;       // RS_OP_WRITE byte mask (bit k = byte lane k); RS_OP_POLL condition
  uint32_t count;     // block length in words, idle cycles, or the most reads of a poll
  uint32_t off;       // block ops: index of the first word in the batch's word buffer
  uint32_t mask;      // RS_OP_POLL: bits of the value compared
  uint32_t interval;  // RS_OP_POLL: idle cycles between reads
} rs_op;

typedef struct rs_stop {
  uint32_t kind;    // RS_STOP_*
  int32_t node;     // the node whose RTL or bus stopped the simulation; -1 if unknown
  int32_t port;     // RS_STOP_ASSERTION in a ring buffer: its port; -1 otherwise
  uint32_t device;  // RS_STOP_ASSERTION: RS_DEV_*
  uint64_t cycle;   // the cycle in which the simulation stopped (global time)
  uint64_t local_cycle;  // the real link: the stopping node's own cycle (0 on the ideal link)
  // RS_STOP_BUS_TIMEOUT: the access, the cycle it was first presented in, and the most
  // cycles after that in which the SPEC answers it (the harness stopped in cycle
  // presented + max(latency, RS_BUS_SLACK)).
  uint64_t presented;
  uint64_t latency;
  uint32_t addr;
  uint32_t write;    // 1 for a write
  uint32_t data;     // write data
  uint32_t sel;      // write byte mask
  uint32_t line;     // source line; 0 if unknown
  uint32_t reserved;
  char name[128];    // RS_STOP_ASSERTION: the assertion's name
  char file[256];    // source file; "" if unknown
  char scope[256];   // RS_STOP_ASSERTION: the hierarchical scope of the assertion
  char message[1024];
} rs_stop;

typedef struct rs_result {
  uint64_t cycle;  // the cycle in which the operation completed (ACK, ERR or last idle):
                   // global time in nominal cycles
  uint64_t local;  // the same in the node's own cycles (equal to cycle on the ideal link)
  uint32_t data;   // RS_OP_READ, RS_OP_POLL: the (last) word read
  uint32_t err;    // 1 if the bus answered ERR (block ops and polls stop at the first ERR)
  uint32_t words;  // block ops: words transferred; polls: reads done
  uint32_t reserved;
} rs_result;

// A link's status on the real link (rs_link_state).
typedef struct rs_link_status {
  uint32_t up;          // 1: the link is up
  uint32_t captured;    // 1: UGN capture took this link-up's first frame
  int32_t occupancy;    // elastic buffer frames
  uint32_t underflow;   // sticky flags, as firmware sees them
  uint32_t overflow;
  int32_t ac_total;     // the auto-centre's total adjustments
  uint64_t ugn_local;   // the receiver's counter at capture
  uint64_t ugn_remote;  // the captured frame: the sender's counter
  uint64_t inserted;    // no-data cycles a fill inserted (frames the harness inserted)
  uint64_t drained;     // frames a drain dropped
  uint64_t lost;        // frames lost to a full buffer
  uint64_t empty;       // reads of an empty (primed) buffer
  uint64_t adjustments; // adjustments applied (auto-centre and manual)
  int64_t shift;        // net frame shift since the last link-up: fills - drains - lost + empties
  int64_t ddc;          // domain difference: frames sent minus receiver cycles since link-up
  uint64_t up_cycle;    // the nominal cycle of the last link-up
} rs_link_status;

// A node's clock on the real link (rs_node_clock).
typedef struct rs_clock_status {
  double ppm;           // current frequency offset
  int64_t requests;     // clock control's net speed-up requests
  uint64_t local;       // the node's own cycles so far
  uint64_t period;      // nominal cycles per own cycle, 32.32 fixed point
  uint64_t phase;       // the time of the node's first edge, 32.32 (below one cycle)
  uint64_t released;    // the own cycle the node left reset
} rs_clock_status;

// Events the real link records (rs_events): adjustments, link ups and downs, clock samples.
enum {
  RS_EV_ADJUST = 1,     // node, port: frames (signed), source 0 auto-centre, 1 firmware
  RS_EV_LINK_UP = 2,    // link index in port
  RS_EV_LINK_DOWN = 3,
  RS_EV_CLOCK = 4,      // node: ppm (every clock-control period)
};

typedef struct rs_event {
  uint64_t cycle;       // nominal cycle
  uint64_t local;       // the node's own cycle (ADJUST, CLOCK)
  uint32_t kind;
  uint32_t node;
  uint32_t port;        // ADJUST: port; LINK_*: link index
  int32_t frames;       // ADJUST: signed frame count
  uint32_t source;      // ADJUST: 0 auto-centre, 1 firmware (eb_adjust)
  uint32_t reserved;
  double ppm;           // CLOCK
} rs_event;

// Model facts, fixed when the shared object was built.
uint32_t rs_abi_version(void);
uint32_t rs_model_depth(void);
uint32_t rs_model_ports(void);
int rs_model_has_trace(void);

// rs_new creates a simulation; on failure it returns NULL and writes a message to err.
rs_sim* rs_new(const rs_config* cfg, char* err, size_t errlen);

// rs_save serializes the simulation (every model and the harness) into the handle and
// returns its size; rs_save_copy copies it out (n must be that size) and drops it.
// rs_restore loads a checkpoint into a new simulation (cycle 0) made with the same
// configuration; on failure the handle is unusable.
int64_t rs_save(rs_sim* s);
int rs_save_copy(rs_sim* s, uint8_t* buf, size_t n);
int rs_restore(rs_sim* s, const uint8_t* buf, size_t n);
// rs_threads returns how many threads clock the nodes; rs_parallel_cycles how many cycles
// so far ran with the nodes split across them (the rest ran on the caller's thread).
uint32_t rs_threads(rs_sim* s);
uint64_t rs_parallel_cycles(rs_sim* s);
void rs_free(rs_sim* s);

// rs_error returns the last error or RTL stop message ("" if none). Valid until the next
// call on the handle.
const char* rs_error(rs_sim* s);

// rs_stop_info copies out why the simulation stopped (kind RS_STOP_NONE if it has not).
// The first stop is kept: later calls return the same.
int rs_stop_info(rs_sim* s, rs_stop* out);

uint64_t rs_cycle(rs_sim* s);

// rs_submit queues a batch for a node's bus master. words holds RS_OP_WRITE_BLOCK data and
// receives RS_OP_READ_BLOCK data (nwords entries, addressed by rs_op.off). The batch starts
// in the first cycle the master is free and the node is out of reset.
int rs_submit(rs_sim* s, uint32_t node, const rs_op* ops, uint32_t nops, const uint32_t* words,
              uint32_t nwords);

// rs_run runs cycles until `until` (exclusive) or until the end of a cycle in which some
// node's batch completed. done receives one bit per node whose batch completed ((nodes+63)/64
// words). Returns the number of cycles run, or a negative code.
int64_t rs_run(rs_sim* s, uint64_t until, uint64_t* done);

// rs_take copies a completed batch's results (nops entries) and word buffer (nwords) out
// and frees the master for the next batch.
int rs_take(rs_sim* s, uint32_t node, rs_result* results, uint32_t nops, uint32_t* words,
            uint32_t nwords);

// rs_set_faults sets a link's fault rates: independent bit flips per bit, and whole-frame
// zeroing per 64-bit frame. Takes effect from the next cycle.
int rs_set_faults(rs_sim* s, uint32_t link, double bit_flip, double frame_zero);

// rs_reseed_faults seeds every link's fault injector afresh from seed (its rates kept), as
// at reset with that seed: what happens to the frames from the next cycle on depends on it.
int rs_reseed_faults(rs_sim* s, uint64_t seed);

// rs_fault_counts reports how many bits were flipped and frames zeroed on a link.
int rs_fault_counts(rs_sim* s, uint32_t link, uint64_t* flips, uint64_t* zeroed);

// rs_link_state reports a link's receiving end on the real link (RS_ENOTSUP on the ideal one).
int rs_link_state(rs_sim* s, uint32_t link, rs_link_status* out);

// rs_node_clock reports a node's clock on the real link (RS_ENOTSUP on the ideal one).
int rs_node_clock(rs_sim* s, uint32_t node, rs_clock_status* out);

// rs_events copies up to n events from index `from` on (they are kept in order); returns how
// many it copied.
int64_t rs_events(rs_sim* s, uint64_t from, rs_event* out, uint32_t n);

// rs_peek / rs_poke access ring buffer state without advancing time. index is the word for
// the *_MEM targets and ignored otherwise.
int rs_peek(rs_sim* s, uint32_t node, uint32_t port, uint32_t target, uint32_t index,
            uint64_t* value);
int rs_poke(rs_sim* s, uint32_t node, uint32_t port, uint32_t target, uint32_t index,
            uint64_t value);

// rs_drive overrides a port's RX input for the next n cycles with frames (copied).
int rs_drive(rs_sim* s, uint32_t node, uint32_t port, const uint64_t* frames, uint32_t n);
// rs_record records a port's TX output for the next n cycles; rs_recorded copies it out
// (up to n frames; returns how many were recorded).
int rs_record(rs_sim* s, uint32_t node, uint32_t port, uint32_t n);
int64_t rs_recorded(rs_sim* s, uint32_t node, uint32_t port, uint64_t* frames, uint32_t n);

// rs_trace_open starts an FST waveform dump of every node to path; rs_trace_close ends it.
int rs_trace_open(rs_sim* s, const char* path);
int rs_trace_close(rs_sim* s);

#ifdef __cplusplus
}
#endif

#endif  // RINGSIM_RS_API_H_
