// Package bus defines the CPU bus operations a simulated ringsim node executes, their
// results, and the node's address map.
//
// A node's CPU port is a 32-bit little-endian Wishbone (classic) slave. Operations run one
// after another: an operation starts in the cycle after the previous one completed. Writes
// and register reads complete in the cycle they are presented; ring buffer data reads one
// cycle later; a clear_at_count write holds the bus until the RX counter matches.
package bus

import (
	"errors"
	"fmt"
)

// Kind is the kind of a bus operation.
type Kind uint8

// The operation kinds.
const (
	KindRead       Kind = iota + 1 // one 32-bit read
	KindWrite                      // one 32-bit write with a byte mask
	KindReadBlock                  // Count back-to-back 32-bit reads at Addr, Addr+4, ...
	KindWriteBlock                 // len(Words) back-to-back 32-bit writes, all bytes
	KindIdle                       // no bus access for Count cycles (the CPU computing)
	KindPoll                       // read Addr until a condition holds (a CPU spin loop)
)

// Cond is the condition that ends a poll.
type Cond uint8

// The poll conditions, on the word read masked with Op.PollMask.
const (
	UntilEqual    Cond = iota + 1 // stop when value&PollMask == Value
	UntilNotEqual                 // stop when value&PollMask != Value
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case KindRead:
		return "read"
	case KindWrite:
		return "write"
	case KindReadBlock:
		return "read-block"
	case KindWriteBlock:
		return "write-block"
	case KindIdle:
		return "idle"
	case KindPoll:
		return "poll"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Limits on one batch, shared by the engine and the gRPC server.
const (
	MaxBatchOps   = 1 << 20 // operations per batch
	MaxBatchWords = 1 << 20 // block words per batch
	MaxIdle       = 1<<32 - 1
)

// Errors returned by Validate.
var (
	ErrBadKind    = errors.New("unknown operation kind")
	ErrMisaligned = errors.New("block address is not 4-byte aligned")
	ErrEmptyBlock = errors.New("block of zero words")
	ErrZeroIdle   = errors.New("idle for zero cycles")
	ErrBadMask    = errors.New("byte mask has bits above 0xF")
	ErrAddrWrap   = errors.New("block runs past the end of the address space")
	ErrZeroPoll   = errors.New("poll of zero reads")
	ErrBadCond    = errors.New("unknown poll condition")
)

// Op is one bus operation of a node's CPU.
type Op struct {
	Kind  Kind
	Addr  uint32   // byte address; 4-byte aligned for blocks (see Validate)
	Value uint32   // KindWrite: the word to write
	Mask  uint8    // KindWrite: byte lanes to write (bit k = bits [8k+7:8k])
	Count uint32   // KindReadBlock: words to read; KindIdle: cycles; KindPoll: most reads
	Words []uint32 // KindWriteBlock: the words to write

	// KindPoll: the loop `do { v = read(Addr) } while (!Cond(v&PollMask, Value))`, with
	// Interval idle cycles between reads (the loop's own instructions), at most Count reads.
	Cond     Cond
	PollMask uint32
	Interval uint32
}

// Read returns a 32-bit read of addr.
func Read(addr uint32) Op { return Op{Kind: KindRead, Addr: addr} }

// Write returns a 32-bit write of v to addr (all four bytes).
func Write(addr, v uint32) Op { return Op{Kind: KindWrite, Addr: addr, Value: v, Mask: 0xF} }

// WriteMasked returns a 32-bit write of the byte lanes of v selected by mask.
func WriteMasked(addr, v uint32, mask uint8) Op {
	return Op{Kind: KindWrite, Addr: addr, Value: v, Mask: mask}
}

// ReadBlock returns n back-to-back reads starting at addr.
func ReadBlock(addr uint32, n int) Op { return Op{Kind: KindReadBlock, Addr: addr, Count: uint32(n)} }

// WriteBlock returns back-to-back writes of words starting at addr. The slice is not
// copied until the batch is submitted.
func WriteBlock(addr uint32, words []uint32) Op {
	return Op{Kind: KindWriteBlock, Addr: addr, Words: words}
}

// Idle returns an operation that keeps the CPU off the bus for n cycles (n >= 1).
func Idle(n uint32) Op { return Op{Kind: KindIdle, Count: n} }

// Poll returns a spin loop on addr: it reads until cond(value&mask, v) holds, at most
// maxReads times, idling interval cycles between reads.
func Poll(addr uint32, cond Cond, mask, v uint32, interval, maxReads uint32) Op {
	return Op{Kind: KindPoll, Addr: addr, Cond: cond, PollMask: mask, Value: v,
		Interval: interval, Count: maxReads}
}

// Validate reports whether the operation is well formed. It does not check that the
// address is mapped, nor that a single read, write or poll is 4-byte aligned: those
// reach the bus as they are, and the RTL answers an unmapped or misaligned address with
// ERR. Blocks must start aligned (ErrMisaligned) and end inside the 32-bit address space
// (ErrAddrWrap).
func (o Op) Validate() error {
	switch o.Kind {
	case KindRead, KindWrite:
		if o.Mask > 0xF {
			return fmt.Errorf("%v at %#x: %w", o.Kind, o.Addr, ErrBadMask)
		}
	case KindReadBlock, KindWriteBlock:
		n := uint64(o.Count)
		if o.Kind == KindWriteBlock {
			n = uint64(len(o.Words))
		}
		if o.Addr%4 != 0 {
			return fmt.Errorf("%v at %#x: %w (only single reads, writes and polls may be misaligned)", o.Kind, o.Addr, ErrMisaligned)
		}
		if n == 0 {
			return fmt.Errorf("%v at %#x: %w", o.Kind, o.Addr, ErrEmptyBlock)
		}
		if uint64(o.Addr)+4*(n-1) > 0xFFFFFFFF {
			return fmt.Errorf("%v at %#x: %w", o.Kind, o.Addr, ErrAddrWrap)
		}
	case KindIdle:
		if o.Count == 0 {
			return ErrZeroIdle
		}
	case KindPoll:
		if o.Count == 0 {
			return fmt.Errorf("%v at %#x: %w", o.Kind, o.Addr, ErrZeroPoll)
		}
		if o.Cond != UntilEqual && o.Cond != UntilNotEqual {
			return fmt.Errorf("%v at %#x: %w %d", o.Kind, o.Addr, ErrBadCond, o.Cond)
		}
	default:
		return fmt.Errorf("%w: %d", ErrBadKind, uint8(o.Kind))
	}
	return nil
}

// BlockWords is the number of words the operation moves (0 for single operations).
func (o Op) BlockWords() int {
	switch o.Kind {
	case KindReadBlock:
		return int(o.Count)
	case KindWriteBlock:
		return len(o.Words)
	}
	return 0
}

// Result is the outcome of one operation.
type Result struct {
	Cycle uint64   // global cycle in which the operation completed (ACK, ERR or last idle cycle)
	Local uint64   // the same in the node's own cycles: equal to Cycle on the ideal link
	Err   bool     // the bus answered ERR; block operations stop at the first ERR
	Value uint32   // KindRead, KindPoll: the (last) word read
	Words []uint32 // KindReadBlock: the words read (fewer than asked after an ERR)
	N     int      // block operations: words transferred; KindPoll: reads done
}

// Errors returned by ValidateBatch.
var (
	ErrEmptyBatch   = errors.New("empty batch")
	ErrBatchTooLong = errors.New("batch too large")
)

// ValidateBatch checks a batch against Validate and the batch limits and returns the
// number of block words it moves.
func ValidateBatch(ops []Op) (words int, err error) {
	if len(ops) == 0 {
		return 0, ErrEmptyBatch
	}
	if len(ops) > MaxBatchOps {
		return 0, fmt.Errorf("%w: %d operations, limit %d", ErrBatchTooLong, len(ops), MaxBatchOps)
	}
	for i, op := range ops {
		if err := op.Validate(); err != nil {
			return 0, fmt.Errorf("op %d: %w", i, err)
		}
		words += op.BlockWords()
	}
	if words > MaxBatchWords {
		return 0, fmt.Errorf("%w: %d block words, limit %d", ErrBatchTooLong, words, MaxBatchWords)
	}
	return words, nil
}
