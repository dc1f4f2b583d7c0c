package bridge

import (
	"io"
	"time"
)

// maxDiscard is how much unread request body is skipped to keep the
// connection (net/http's maxPostHandlerReadBytes).
const maxDiscard = 256 << 10

// fastBody is a fast-server request's body: exactly Content-Length bytes
// from the connection's reader. Reused across the connection's requests.
type fastBody struct {
	c    *fastConn
	n    int64 // bytes left
	ctx  *reqCtx
	read bool // reached the end once: the watch is armed
}

func (b *fastBody) reset(n int64, ctx *reqCtx) {
	b.n, b.ctx, b.read = n, ctx, false
}

func (b *fastBody) remaining() int64 { return b.n }

// Buffered reports whether the rest of the body is already read from the
// connection: reading it cannot block, so it needs no deadline.
func (b *fastBody) Buffered() bool { return b.n <= int64(b.c.br.Buffered()) }

func (b *fastBody) Read(p []byte) (int, error) {
	if b.n <= 0 {
		b.hitEOF()
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.c.br.Read(p)
	b.n -= int64(n)
	if b.n == 0 {
		b.hitEOF()
		return n, io.EOF
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// discard skips the rest of the body, within timeout, if it is at most
// maxDiscard; false means the connection must close.
func (b *fastBody) discard(timeout time.Duration) bool {
	if b.n > maxDiscard {
		return false
	}
	_ = b.c.nc.SetReadDeadline(time.Now().Add(timeout))
	_, err := io.Copy(io.Discard, b)
	_ = b.c.nc.SetReadDeadline(time.Time{})
	return err == nil && b.n == 0
}

// Close leaves unread bytes unread: the connection then closes after the
// response (serveRequest), as the bridge's error paths expect.
func (b *fastBody) Close() error { return nil }

func (b *fastBody) hitEOF() {
	if !b.read {
		b.read = true
		b.c.watch.arm(b.ctx)
	}
}
