package main

import (
	"context"
	"net"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestListenConfigSetsCongestionControl checks that --upstream-cc reaches the
// connections the upstream accepts (they inherit the listener's), over real
// loopback TCP. Reno is built into every Linux kernel and is nobody's
// default, so the check cannot pass by accident.
func TestListenConfigSetsCongestionControl(t *testing.T) {
	lc := listenConfig("reno")
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if got := congestionOf(t, server); got != "reno" {
		t.Errorf("accepted connection uses %q; want reno", got)
	}
	if got, def := congestionOf(t, client), defaultCongestionControl(); got != def {
		t.Errorf("the dialling side uses %q; want the machine's default %q", got, def)
	}

	bad := listenConfig("no-such-algorithm")
	if ln, err := bad.Listen(context.Background(), "tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
		t.Error("an unknown congestion control was accepted")
	}
}

func congestionOf(t *testing.T, c net.Conn) string {
	t.Helper()
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var cc string
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		cc, gerr = unix.GetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION)
	}); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return cc
}
