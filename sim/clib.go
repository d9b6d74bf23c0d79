package sim

/*
#cgo CFLAGS: -I${SRCDIR}/internal/harness/csrc
#cgo LDFLAGS: -ldl
#include "rslib.h"
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

// lib is a loaded model shared object. Loaded models stay loaded for the life of the
// process (dlclose of C++ code with thread-locals is not safe).
type lib struct {
	path  string
	c     *C.rs_lib // C memory: the function table
	depth int
	ports int
	trace bool
}

var (
	libsMu sync.Mutex
	libs   = map[string]*lib{} // protected by libsMu
)

func loadLib(path string) (*lib, error) {
	libsMu.Lock()
	defer libsMu.Unlock()
	if l, ok := libs[path]; ok {
		return l, nil
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	tab := (*C.rs_lib)(C.calloc(1, C.sizeof_rs_lib))
	if msg := C.rs_lib_open(cpath, tab); msg != nil {
		C.free(unsafe.Pointer(tab))
		return nil, fmt.Errorf("load model %s: %s", path, C.GoString(msg))
	}
	if v := C.rsl_abi_version(tab); v != C.RS_ABI_VERSION {
		return nil, fmt.Errorf("load model %s: harness ABI %d, want %d (stale cache?)", path, v, C.RS_ABI_VERSION)
	}
	l := &lib{
		path:  path,
		c:     tab,
		depth: int(C.rsl_model_depth(tab)),
		ports: int(C.rsl_model_ports(tab)),
		trace: C.rsl_model_has_trace(tab) != 0,
	}
	libs[path] = l
	return l, nil
}
