// Package e2e is a black-box end-to-end test suite of Duet's WebSocket protocol.
//
// The tests are written from docs/protocol.md alone, as the author of a client would read it:
// they build the real binary with the race detector, start one server process per test on a
// loopback port, and talk to it over real WebSockets in both dialects (seed `X`/`X` and
// `X_REQ`/`X_RESP`). They never look inside the server's packages.
//
// Run them with:
//
//	go test -race -count=1 ./e2e/
package e2e
