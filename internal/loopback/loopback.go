// Package loopback picks addresses on 127.0.0.1 for the processes and
// containers the bench, the cluster and the tests start: one helper, so
// that every caller picks them the same way.
package loopback

import "net"

// FreeAddr returns a 127.0.0.1 address (host:port) whose port was free a
// moment ago. Another process may take it before the caller listens; the
// callers accept that race, as a fixed port would be worse.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
