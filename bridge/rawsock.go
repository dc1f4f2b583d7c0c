//go:build linux

package bridge

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// rawSock reads and writes a socket with raw system calls, through the
// connection's own poller (syscall.RawConn): the same non-blocking read or
// write net.Conn makes, the same wait for readiness, deadlines and Close,
// but without the runtime's entersyscall/exitsyscall around each call.
//
// Why: every proxied request is four socket calls, and on loopback a write
// runs the receiver's whole TCP path, tens of microseconds on a virtual
// machine. A goroutine in a "blocking" syscall that long has its P taken
// by sysmon and handed to another thread, which the goroutine must get
// back afterwards: perf showed sysmon, P hand-offs and the syscall wrappers
// at about a fifth of the bridge's user CPU under wrk, work nginx does not
// do. A non-blocking socket call never blocks, so it need not give up its
// P. (The runtime itself makes short calls the same way.)
//
// One reader and one writer at a time, as bufio gives it: the read and the
// write each have their own fields.
type rawSock struct {
	conn net.Conn
	raw  syscall.RawConn

	rp      []byte
	rn      int
	rerr    error
	wp      []byte
	wn      int
	werr    error
	readFn  func(fd uintptr) bool
	writeFn func(fd uintptr) bool
}

// newRawSock wraps c; a connection that is not a socket (or a test's
// net.Pipe) is used as it is.
func newRawSock(c net.Conn) io.ReadWriter {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	s := &rawSock{conn: c, raw: raw}
	s.readFn, s.writeFn = s.readFD, s.writeFD
	return s
}

func (s *rawSock) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.rp, s.rn, s.rerr = p, 0, nil
	err := s.raw.Read(s.readFn)
	n, rerr := s.rn, s.rerr
	s.rp = nil
	if err != nil {
		return 0, s.opError("read", err)
	}
	if rerr != nil {
		return 0, s.opError("read", os.NewSyscallError("read", rerr))
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// readFD is one read attempt; false means "wait until readable".
func (s *rawSock) readFD(fd uintptr) bool {
	for {
		r, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(unsafe.SliceData(s.rp))), uintptr(len(s.rp)))
		switch errno {
		case 0:
			s.rn = int(r)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		s.rerr = errno
		return true
	}
}

func (s *rawSock) Write(p []byte) (int, error) {
	s.wp, s.wn, s.werr = p, 0, nil
	err := s.raw.Write(s.writeFn)
	n, werr := s.wn, s.werr
	s.wp = nil
	if err == nil && werr != nil {
		err = os.NewSyscallError("write", werr)
	}
	if err != nil {
		return n, s.opError("write", err)
	}
	return n, nil
}

// writeFD writes what is left of the buffer; false means "wait until
// writable" (the socket's send buffer is full).
func (s *rawSock) writeFD(fd uintptr) bool {
	for s.wn < len(s.wp) {
		rest := s.wp[s.wn:]
		r, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(unsafe.SliceData(rest))), uintptr(len(rest)))
		switch errno {
		case 0:
			s.wn += int(r)
			continue
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		s.werr = errno
		return true
	}
	return true
}

// opError words an error as net.Conn's Read and Write do, so that callers'
// checks (timeouts, resets, net.ErrClosed) see the same thing.
func (s *rawSock) opError(op string, err error) error {
	if oe, ok := err.(*net.OpError); ok {
		err = oe.Err // RawConn's "raw-read" wrapping of a poller error
	}
	return &net.OpError{Op: op, Net: "tcp", Source: s.conn.LocalAddr(), Addr: s.conn.RemoteAddr(), Err: err}
}
