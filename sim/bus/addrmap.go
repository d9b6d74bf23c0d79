package bus

// Node block register offsets (bytes from the node's base address).
const (
	RegMagic      = 0x00 // 0x4D495352, "RSIM" little endian
	RegVersion    = 0x04 // register map version
	RegNodeID     = 0x08
	RegDepth      = 0x0C
	RegPorts      = 0x10
	RegWindowLog2 = 0x14
	RegDNA0       = 0x18 // DNA bits [31:0]
	RegDNA1       = 0x1C // DNA bits [63:32]
	RegDNA2       = 0x20 // DNA bits [95:64]
	RegCycleLo    = 0x28 // cycles since reset, low half; reading it latches the high half
	RegCycleHi    = 0x2C
)

// Magic is the value of RegMagic.
const Magic = 0x4D495352

// MapVersion is the register map version this package describes.
const MapVersion = 1

// Map is a node's address map for a given ring buffer depth and port count. The address
// space is cut into windows of 1 << WindowLog2 bytes: window 0 is the node block, window
// 1+2p the TX ring buffer of port p and window 2+2p its RX ring buffer. Inside a ring buffer
// window the offsets are bittide's: data at 0, enable at 8*Depth, clear_at_count at
// 8*Depth+8.
type Map struct {
	Depth int
	Ports int
}

// WindowLog2 is log2 of the size of each device's window.
func (m Map) WindowLog2() uint {
	need := 8*m.Depth + 16
	w := uint(8)
	for 1<<w < need {
		w++
	}
	return w
}

// TX returns the base address of port p's TX ring buffer.
func (m Map) TX(p int) uint32 { return uint32(1+2*p) << m.WindowLog2() }

// RX returns the base address of port p's RX ring buffer.
func (m Map) RX(p int) uint32 { return uint32(2+2*p) << m.WindowLog2() }

// Data returns the byte offset of 64-bit word i's low half inside a ring buffer.
func (m Map) Data(i int) uint32 { return uint32(8 * i) }

// Enable returns the byte offset of a ring buffer's enable register.
func (m Map) Enable() uint32 { return uint32(8 * m.Depth) }

// ClearAtCount returns the byte offset of an RX ring buffer's clear_at_count register.
func (m Map) ClearAtCount() uint32 { return uint32(8*m.Depth + 8) }
