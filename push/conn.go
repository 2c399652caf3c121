package push

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/duetchat/duet/session"
)

// WebSocket close codes the server uses.
const (
	closeNormal      = websocket.CloseNormalClosure
	closeGoingAway   = websocket.CloseGoingAway
	closePolicy      = websocket.ClosePolicyViolation
	closeTakenOver   = 4000
	closeWriteFailed = websocket.CloseInternalServerErr
)

// frame is one frame queued for a connection's writer. The writer names it in the connection's
// dialect and writes `{"cmd":"<name>",` followed by the body's fields.
type frame struct {
	kind kind
	cmd  string
	body []byte // a JSON object
	// push frames belong to the account, not to this connection: if they cannot be written
	// here, they wait in the account's backlog.
	push bool
	// close, when non-zero, closes the connection with this code after the frames before it.
	close       int
	closeReason string
}

func pushFrame(p session.Push) frame {
	return frame{kind: kindPush, cmd: p.Cmd, body: p.Body, push: true}
}

// conn is one client's WebSocket. Its read loop (the HTTP handler's goroutine) is the only
// reader, and its writer goroutine the only writer; everything else talks to it through send.
type conn struct {
	srv    *Server
	ws     *websocket.Conn
	remote netip.Addr

	send    chan frame    // bounded; a client too slow to drain it is disconnected
	stop    chan struct{} // closed to make the writer quit
	stopped sync.Once

	account   atomic.Int64 // 0 until CRT_ACCOUNT or RECONNECT binds one
	lastFrame atomic.Int64 // Unix nanoseconds of the last frame received
	silent    atomic.Bool  // set when the account was reported away for silence
	loggedOut atomic.Bool
	evicted   atomic.Bool // removed from the hub for being too slow

	// Owned by the read loop.
	dialect   dialect
	dialected bool
	dialogue  *rate.Limiter // nil when the client is exempt from rate limits
	matching  *rate.Limiter
	typing    *rate.Limiter
	badFrames []time.Time // ring of the times of the last bad frames
	badNext   int
}

// enqueue queues f without blocking. If the queue is full, the client is not keeping up: it is
// disconnected, and enqueue reports false so a push can go to the backlog instead.
func (c *conn) enqueue(f frame) bool {
	select {
	case c.send <- f:
		return true
	default:
		c.abort(closePolicy, "too slow to receive")
		return false
	}
}

// reply queues a frame of the connection's own: an answer to the client's request. Unlike a
// push, it waits for room, so a client that floods requests without reading is slowed down
// rather than disconnected. Only the read loop calls it.
func (c *conn) reply(f frame) {
	select {
	case c.send <- f:
	case <-c.stop:
	}
}

// closeAfter queues a close with code after the frames already queued.
func (c *conn) closeAfter(code int, reason string) {
	c.enqueue(frame{close: code, closeReason: reason})
}

// abort closes the connection with code, ahead of anything queued, without waiting: the close
// frame is written aside, since the socket may be stuck. The read loop then fails and cleans up.
func (c *conn) abort(code int, reason string) {
	c.stopped.Do(func() {
		close(c.stop)
		go func() {
			msg := websocket.FormatCloseMessage(code, reason)
			_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(c.srv.opt.WriteTimeout))
			_ = c.ws.Close()
		}()
	})
}

// takePushes removes the pushes still queued, in order, dropping everything else.
func (c *conn) takePushes() []frame {
	var pushes []frame
	for {
		select {
		case f := <-c.send:
			if f.push {
				pushes = append(pushes, f)
			}
		default:
			return pushes
		}
	}
}

// writeLoop writes queued frames until a close frame, a write error or stop.
func (c *conn) writeLoop() {
	for {
		select {
		case <-c.stop:
			return
		case f := <-c.send:
			if f.close != 0 {
				c.abort(f.close, f.closeReason)
				return
			}
			if err := c.write(f); err != nil {
				// The frame is lost to this connection; a push in it is recovered by RESUME.
				c.abort(closeWriteFailed, "write failed")
				return
			}
		}
	}
}

func (c *conn) write(f frame) error {
	if err := c.ws.SetWriteDeadline(time.Now().Add(c.srv.opt.WriteTimeout)); err != nil {
		return err
	}
	w, err := c.ws.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	w.Write([]byte(`{"cmd":"`))
	w.Write([]byte(c.dialect.name(f.kind, f.cmd)))
	if len(f.body) > 2 {
		w.Write([]byte(`",`))
		w.Write(f.body[1:])
	} else {
		w.Write([]byte(`"}`))
	}
	return w.Close()
}

// badFrame records a bad frame and reports whether the client has now sent too many of them.
func (c *conn) badFrame(now time.Time) bool {
	c.badFrames[c.badNext] = now
	c.badNext = (c.badNext + 1) % len(c.badFrames)
	oldest := c.badFrames[c.badNext]
	return !oldest.IsZero() && now.Sub(oldest) < c.srv.opt.BadFrameWindow
}
