package bridge

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// tcpPair is a real loopback connection: the raw socket calls are the
// point, so a net.Pipe would test nothing.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// rawSock must behave as net.Conn does for everything the bridge checks:
// data both ways (a write larger than the socket buffers waits for the
// reader), EOF, deadlines as timeouts, Close as net.ErrClosed, a reset as a
// read/write OpError.
func TestRawSockBehavesAsConn(t *testing.T) {
	client, server := tcpPair(t)
	rc, rs := newRawSock(client), newRawSock(server)
	if _, ok := rc.(*rawSock); !ok {
		t.Fatalf("newRawSock(TCP) = %T; want *rawSock", rc)
	}

	// 8 MiB is far more than loopback's socket buffers: the write must wait
	// for writability, more than once, and still deliver every byte.
	big := bytes.Repeat([]byte("0123456789abcdef"), 512<<10)
	done := make(chan error, 1)
	go func() {
		n, err := rc.Write(big)
		if err == nil && n != len(big) {
			err = io.ErrShortWrite
		}
		done <- err
	}()
	got, err := io.ReadAll(io.LimitReader(rs, int64(len(big))))
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("read %d bytes (err %v); want the %d written", len(got), err, len(big))
	}
	if err := <-done; err != nil {
		t.Fatalf("write: %v", err)
	}

	// A read deadline is a timeout error, as net.Conn's.
	_ = server.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := rs.Read(make([]byte, 1)); !isTimeout(err) {
		t.Fatalf("read past the deadline: %v; want a timeout", err)
	}
	_ = server.SetReadDeadline(time.Time{})

	// The peer closing is EOF.
	client.Close()
	if n, err := rs.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("read after the peer closed: %d, %v; want 0, EOF", n, err)
	}

	// Our own Close is net.ErrClosed, for reads and writes.
	server.Close()
	if _, err := rs.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after Close: %v; want net.ErrClosed", err)
	}
	if _, err := rs.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v; want net.ErrClosed", err)
	}
}

// A connection the peer reset fails with a read or write OpError, which is
// how isStale recognises an idle upstream connection the upstream closed.
func TestRawSockReset(t *testing.T) {
	client, server := tcpPair(t)
	_ = server.(*net.TCPConn).SetLinger(0) // Close sends RST
	server.Close()
	rc := newRawSock(client)
	time.Sleep(20 * time.Millisecond)
	_, err := rc.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	if err == nil {
		_, err = rc.Read(make([]byte, 16))
	}
	if err == nil || !isConnReset(err) {
		t.Fatalf("using a reset connection: %v; want a read or write OpError", err)
	}
}
