// Package app holds the software that runs over the firmware's TCP connections
// (bridge.App): the main job's Transfer, and upstream's scenarios, Hello (TCP simultaneous
// open with greetings) and Exchange (DNA and port exchange with the manager's report).
package app

import "errors"

// Errors the scenario apps (Hello, Exchange) wrap when a peer sends a message that does not
// decode or that the protocol does not allow at that point.
var (
	ErrMalformed  = errors.New("malformed message")
	ErrUnexpected = errors.New("unexpected data from peer")
)
