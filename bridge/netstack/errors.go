package netstack

import (
	"errors"
	"fmt"

	"gvisor.dev/gvisor/pkg/tcpip"
)

// Errors returned by this package. gVisor's tcpip.Error values are converted
// to these at the package boundary; test with errors.Is.
var (
	// ErrWouldBlock means a non-blocking operation cannot make progress now:
	// nothing to read, no send buffer space, no pending connection, or the
	// handshake has not completed. Try again after the next Barrier.
	ErrWouldBlock = errors.New("operation would block")
	// ErrClosed means the stack, listener or connection (for sending) is closed.
	ErrClosed = errors.New("closed")
	// ErrInvalidArgument means an argument was malformed or inconsistent
	// (address family, zero port, missing clock).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrAddressInUse means the local address and port are already taken.
	ErrAddressInUse = errors.New("address in use")
	// ErrUnreachable means there is no route to the remote address.
	ErrUnreachable = errors.New("network unreachable")
	// ErrConnectionRefused means the peer answered the SYN with a RST.
	ErrConnectionRefused = errors.New("connection refused")
	// ErrConnectionReset means the peer reset an established connection.
	ErrConnectionReset = errors.New("connection reset")
	// ErrConnectionAborted means the connection was aborted locally.
	ErrConnectionAborted = errors.New("connection aborted")
	// ErrTimeout means the connection timed out (too many retransmissions).
	ErrTimeout = errors.New("connection timed out")
	// ErrNotConnected means the connection is not (or no longer) connected.
	ErrNotConnected = errors.New("not connected")
	// ErrNetstack is any other gVisor error.
	ErrNetstack = errors.New("netstack error")
)

// convertError turns a gVisor tcpip.Error into a Go error wrapping one of the
// sentinel errors above, with the operation named in op. It returns nil for a
// nil err.
func convertError(op string, err tcpip.Error) error {
	if err == nil {
		return nil
	}
	var sentinel error
	switch err.(type) {
	case *tcpip.ErrWouldBlock, *tcpip.ErrConnectStarted, *tcpip.ErrAlreadyConnecting:
		sentinel = ErrWouldBlock
	case *tcpip.ErrClosedForSend, *tcpip.ErrClosedForReceive, *tcpip.ErrInvalidEndpointState:
		sentinel = ErrClosed
	case *tcpip.ErrBadAddress, *tcpip.ErrBadLocalAddress, *tcpip.ErrInvalidOptionValue,
		*tcpip.ErrUnknownDevice, *tcpip.ErrUnknownNICID, *tcpip.ErrUnknownProtocol,
		*tcpip.ErrDuplicateAddress, *tcpip.ErrDuplicateNICID, *tcpip.ErrInvalidNICID,
		*tcpip.ErrAddressFamilyNotSupported, *tcpip.ErrAlreadyBound:
		sentinel = ErrInvalidArgument
	case *tcpip.ErrPortInUse, *tcpip.ErrNoPortAvailable:
		sentinel = ErrAddressInUse
	case *tcpip.ErrNetworkUnreachable, *tcpip.ErrHostUnreachable, *tcpip.ErrHostDown,
		*tcpip.ErrNoNet:
		sentinel = ErrUnreachable
	case *tcpip.ErrConnectionRefused:
		sentinel = ErrConnectionRefused
	case *tcpip.ErrConnectionReset:
		sentinel = ErrConnectionReset
	case *tcpip.ErrConnectionAborted, *tcpip.ErrAborted:
		sentinel = ErrConnectionAborted
	case *tcpip.ErrTimeout:
		sentinel = ErrTimeout
	case *tcpip.ErrNotConnected:
		sentinel = ErrNotConnected
	default:
		sentinel = ErrNetstack
	}
	return fmt.Errorf("%s: %w (gvisor: %s)", op, sentinel, err)
}
