//go:build !linux

package bridge

import (
	"io"
	"net"
)

// newRawSock is net.Conn itself outside Linux (rawsock.go says why Linux
// gets raw calls).
func newRawSock(c net.Conn) io.ReadWriter { return c }
