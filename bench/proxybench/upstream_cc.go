package main

import (
	"net"
	"syscall"
)

// listenConfig returns a ListenConfig whose listener uses congestion
// control cc (e.g. "cubic"); accepted connections inherit it. "" keeps the
// machine's default.
func listenConfig(cc string) net.ListenConfig {
	if cc == "" {
		return net.ListenConfig{}
	}
	return net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptString(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CONGESTION, cc)
		}); err != nil {
			return err
		}
		return serr
	}}
}
