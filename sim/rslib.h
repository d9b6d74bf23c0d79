// rslib.h: the Go engine's view of a loaded model: a table of the rs_api.h entry points
// found with dlsym, and inline trampolines cgo can call (Go cannot call C function pointers).
#ifndef RINGSIM_RSLIB_H_
#define RINGSIM_RSLIB_H_
#include <dlfcn.h>
#include <stdlib.h>
#include "rs_api.h"

// rs_lib holds the entry points of one loaded model (see rs_api.h).
typedef struct {
	uint32_t (*abi_version)(void);
	uint32_t (*model_depth)(void);
	uint32_t (*model_ports)(void);
	int (*model_has_trace)(void);
	rs_sim* (*new_)(const rs_config*, char*, size_t);
	void (*free_)(rs_sim*);
	const char* (*error)(rs_sim*);
	int (*stop_info)(rs_sim*, rs_stop*);
	uint64_t (*cycle)(rs_sim*);
	int (*submit)(rs_sim*, uint32_t, const rs_op*, uint32_t, const uint32_t*, uint32_t);
	int64_t (*run)(rs_sim*, uint64_t, uint64_t*);
	int (*take)(rs_sim*, uint32_t, rs_result*, uint32_t, uint32_t*, uint32_t);
	int (*set_faults)(rs_sim*, uint32_t, double, double);
	int (*reseed_faults)(rs_sim*, uint64_t);
	int (*fault_counts)(rs_sim*, uint32_t, uint64_t*, uint64_t*);
	int (*peek)(rs_sim*, uint32_t, uint32_t, uint32_t, uint32_t, uint64_t*);
	int (*poke)(rs_sim*, uint32_t, uint32_t, uint32_t, uint32_t, uint64_t);
	int (*drive)(rs_sim*, uint32_t, uint32_t, const uint64_t*, uint32_t);
	int (*record)(rs_sim*, uint32_t, uint32_t, uint32_t);
	int64_t (*recorded)(rs_sim*, uint32_t, uint32_t, uint64_t*, uint32_t);
	int (*trace_open)(rs_sim*, const char*);
	int (*trace_close)(rs_sim*);
	int (*link_state)(rs_sim*, uint32_t, rs_link_status*);
	int (*node_clock)(rs_sim*, uint32_t, rs_clock_status*);
	int64_t (*events)(rs_sim*, uint64_t, rs_event*, uint32_t);
	uint32_t (*threads)(rs_sim*);
	uint64_t (*parallel_cycles)(rs_sim*);
	int64_t (*save)(rs_sim*);
	int (*save_copy)(rs_sim*, uint8_t*, size_t);
	int (*restore)(rs_sim*, const uint8_t*, size_t);
} rs_lib;

static inline const char* rs_lib_open(const char* path, rs_lib* l) {
	void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) return dlerror();
#define RS_SYM(field, name) \
	if (!(*(void**)(&l->field) = dlsym(h, name))) return dlerror();
	RS_SYM(abi_version, "rs_abi_version")
	RS_SYM(model_depth, "rs_model_depth")
	RS_SYM(model_ports, "rs_model_ports")
	RS_SYM(model_has_trace, "rs_model_has_trace")
	RS_SYM(new_, "rs_new")
	RS_SYM(free_, "rs_free")
	RS_SYM(error, "rs_error")
	RS_SYM(stop_info, "rs_stop_info")
	RS_SYM(cycle, "rs_cycle")
	RS_SYM(submit, "rs_submit")
	RS_SYM(run, "rs_run")
	RS_SYM(take, "rs_take")
	RS_SYM(set_faults, "rs_set_faults")
	RS_SYM(reseed_faults, "rs_reseed_faults")
	RS_SYM(fault_counts, "rs_fault_counts")
	RS_SYM(peek, "rs_peek")
	RS_SYM(poke, "rs_poke")
	RS_SYM(drive, "rs_drive")
	RS_SYM(record, "rs_record")
	RS_SYM(recorded, "rs_recorded")
	RS_SYM(trace_open, "rs_trace_open")
	RS_SYM(trace_close, "rs_trace_close")
	RS_SYM(link_state, "rs_link_state")
	RS_SYM(node_clock, "rs_node_clock")
	RS_SYM(events, "rs_events")
	RS_SYM(threads, "rs_threads")
	RS_SYM(parallel_cycles, "rs_parallel_cycles")
	RS_SYM(save, "rs_save")
	RS_SYM(save_copy, "rs_save_copy")
	RS_SYM(restore, "rs_restore")
#undef RS_SYM
	return NULL;
}

static inline uint32_t rsl_abi_version(rs_lib* l) { return l->abi_version(); }
static inline uint32_t rsl_model_depth(rs_lib* l) { return l->model_depth(); }
static inline uint32_t rsl_model_ports(rs_lib* l) { return l->model_ports(); }
static inline int rsl_model_has_trace(rs_lib* l) { return l->model_has_trace(); }
static inline rs_sim* rsl_new(rs_lib* l, const rs_config* c, char* e, size_t n) { return l->new_(c, e, n); }
static inline void rsl_free(rs_lib* l, rs_sim* s) { l->free_(s); }
static inline const char* rsl_error(rs_lib* l, rs_sim* s) { return l->error(s); }
static inline int rsl_stop_info(rs_lib* l, rs_sim* s, rs_stop* out) { return l->stop_info(s, out); }
static inline int rsl_submit(rs_lib* l, rs_sim* s, uint32_t node, const rs_op* ops, uint32_t nops, const uint32_t* w, uint32_t nw) { return l->submit(s, node, ops, nops, w, nw); }
static inline int64_t rsl_run(rs_lib* l, rs_sim* s, uint64_t until, uint64_t* done) { return l->run(s, until, done); }
static inline int rsl_take(rs_lib* l, rs_sim* s, uint32_t node, rs_result* r, uint32_t nr, uint32_t* w, uint32_t nw) { return l->take(s, node, r, nr, w, nw); }
static inline int rsl_set_faults(rs_lib* l, rs_sim* s, uint32_t link, double f, double z) { return l->set_faults(s, link, f, z); }
static inline int rsl_reseed_faults(rs_lib* l, rs_sim* s, uint64_t seed) { return l->reseed_faults(s, seed); }
static inline int rsl_fault_counts(rs_lib* l, rs_sim* s, uint32_t link, uint64_t* f, uint64_t* z) { return l->fault_counts(s, link, f, z); }
static inline int rsl_link_state(rs_lib* l, rs_sim* s, uint32_t link, rs_link_status* o) { return l->link_state(s, link, o); }
static inline int rsl_node_clock(rs_lib* l, rs_sim* s, uint32_t node, rs_clock_status* o) { return l->node_clock(s, node, o); }
static inline int64_t rsl_events(rs_lib* l, rs_sim* s, uint64_t from, rs_event* o, uint32_t n) { return l->events(s, from, o, n); }
static inline int rsl_peek(rs_lib* l, rs_sim* s, uint32_t n, uint32_t p, uint32_t t, uint32_t i, uint64_t* v) { return l->peek(s, n, p, t, i, v); }
static inline int rsl_poke(rs_lib* l, rs_sim* s, uint32_t n, uint32_t p, uint32_t t, uint32_t i, uint64_t v) { return l->poke(s, n, p, t, i, v); }
static inline int rsl_drive(rs_lib* l, rs_sim* s, uint32_t n, uint32_t p, const uint64_t* f, uint32_t k) { return l->drive(s, n, p, f, k); }
static inline int rsl_record(rs_lib* l, rs_sim* s, uint32_t n, uint32_t p, uint32_t k) { return l->record(s, n, p, k); }
static inline int64_t rsl_recorded(rs_lib* l, rs_sim* s, uint32_t n, uint32_t p, uint64_t* f, uint32_t k) { return l->recorded(s, n, p, f, k); }
static inline int rsl_trace_open(rs_lib* l, rs_sim* s, const char* path) { return l->trace_open(s, path); }
static inline uint64_t rsl_parallel_cycles(rs_lib* l, rs_sim* s) { return l->parallel_cycles(s); }
static inline uint32_t rsl_threads(rs_lib* l, rs_sim* s) { return l->threads(s); }
static inline int64_t rsl_save(rs_lib* l, rs_sim* s) { return l->save(s); }
static inline int rsl_save_copy(rs_lib* l, rs_sim* s, uint8_t* b, size_t n) { return l->save_copy(s, b, n); }
static inline int rsl_restore(rs_lib* l, rs_sim* s, const uint8_t* b, size_t n) { return l->restore(s, b, n); }
static inline uint64_t rsl_cycle(rs_lib* l, rs_sim* s) { return l->cycle(s); }
static inline int rsl_trace_close(rs_lib* l, rs_sim* s) { return l->trace_close(s); }
#endif  // RINGSIM_RSLIB_H_
