package netstack

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand"
	randv2 "math/rand/v2"
	"sync"
)

// seedStream derives an independent 32-byte seed for one use of the stack seed.
func seedStream(seed uint64, use string) [32]byte {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], seed)
	h := sha256.New()
	h.Write([]byte("ringsim/netstack/seed/v1/" + use + "/"))
	h.Write(b[:])
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// lockedReader is a deterministic io.Reader (ChaCha8 keyed by the seed) for
// stack.Options.SecureRNG, safe for concurrent use.
type lockedReader struct {
	mu sync.Mutex
	r  *randv2.ChaCha8 // protected by mu
}

func newSecureRNG(seed uint64) *lockedReader {
	return &lockedReader{r: randv2.NewChaCha8(seedStream(seed, "secure"))}
}

// Read fills p with pseudo-random bytes; it never fails.
func (r *lockedReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.r.Read(p)
}

// lockedSource is a math/rand.Source for stack.Options.RandSource, which gVisor
// requires to be safe for concurrent use.
type lockedSource struct {
	mu  sync.Mutex
	src rand.Source // protected by mu
}

func newRandSource(seed uint64) *lockedSource {
	s := seedStream(seed, "insecure")
	return &lockedSource{src: rand.NewSource(int64(binary.LittleEndian.Uint64(s[:8])))}
}

// Int63 implements rand.Source.Int63.
func (s *lockedSource) Int63() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.src.Int63()
}

// Seed implements rand.Source.Seed.
func (s *lockedSource) Seed(seed int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.src.Seed(seed)
}
