package push

import (
	"bufio"
	"net"
	"net/http"
	"sync"
)

// gatherLimit is the most a gathering connection holds before it writes what it has.
const gatherLimit = 64 << 10

// gatherBuffers lend gathering connections their buffer, so an idle connection holds none.
var gatherBuffers = sync.Pool{New: func() any { return new([]byte) }}

// gatherConn is a client's socket on which the writer can gather the frames of one batch, so
// that they leave in one system call rather than one each. Writes made while it is not
// gathering (the handshake, a close frame written aside) go straight through.
type gatherConn struct {
	net.Conn

	// in is the connection's read buffer, which the WebSocket reads through too: the read loop
	// waits on it for the client's next bytes without calling into the WebSocket. Only the read
	// loop uses it.
	in *bufio.Reader

	mu  sync.Mutex // guards buf, and orders every write to the socket
	buf *[]byte    // the gathered bytes; nil while not gathering
}

// awaitInput waits until the client has sent something (or the read deadline passes, or the
// connection fails), keeping what came for the WebSocket to read. It is called from a shallow
// frame on purpose: a goroutine parked here uses little of its stack, so the collector halves
// that stack, which a frame read or served has grown, until it is back at the minimum. An
// idle connection then costs a small stack, where one parked inside the WebSocket's frame
// reader would keep the stack that reading and answering heartbeats grew.
func (g *gatherConn) awaitInput() error {
	_, err := g.in.Peek(1)
	return err
}

// Write implements net.Conn.
func (g *gatherConn) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.buf == nil {
		return g.Conn.Write(p)
	}
	*g.buf = append(*g.buf, p...)
	if len(*g.buf) >= gatherLimit {
		if err := g.writeGatheredLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// gather holds the writes that follow until flush.
func (g *gatherConn) gather() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.buf == nil {
		g.buf = gatherBuffers.Get().(*[]byte)
	}
}

// flush writes what was gathered, in one system call, and stops gathering.
func (g *gatherConn) flush() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.buf == nil {
		return nil
	}
	err := g.writeGatheredLocked()
	gatherBuffers.Put(g.buf)
	g.buf = nil
	return err
}

func (g *gatherConn) writeGatheredLocked() error {
	var err error
	if len(*g.buf) > 0 {
		_, err = g.Conn.Write(*g.buf)
	}
	*g.buf = (*g.buf)[:0]
	return err
}

// gatheringWriter hands the WebSocket upgrader a gatherConn when it takes over the connection,
// with the gatherConn's read buffer as the one the WebSocket is to read through.
type gatheringWriter struct {
	http.ResponseWriter
	conn *gatherConn // set by Hijack
}

// Hijack implements http.Hijacker. The upgrader reads through the buffered reader it is given
// when its own ReadBufferSize is 0 and that reader holds more than 256 bytes, as readBufferSize
// does; a client that sent more than its request gets the HTTP server's reader, with those
// bytes, which the upgrader refuses.
func (w *gatheringWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.conn = &gatherConn{Conn: c}
	if rw.Reader.Buffered() > 0 {
		return w.conn, rw, nil
	}
	w.conn.in = bufio.NewReaderSize(w.conn, readBufferSize)
	return w.conn, bufio.NewReadWriter(w.conn.in, rw.Writer), nil
}
