// SPDX-License-Identifier: Apache-2.0
//
// rs_printf.h is force-included into every C++ file of a ringsim model build: Verilator's
// runtime and the generated model print through VL_PRINTF, which the build points at
// rs_vl_printf so that RTL messages reach the Go engine instead of the process's stdout.
#ifndef RINGSIM_RS_PRINTF_H_
#define RINGSIM_RS_PRINTF_H_
#ifdef __cplusplus
extern "C"
#endif
    int
    rs_vl_printf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
#endif  // RINGSIM_RS_PRINTF_H_
