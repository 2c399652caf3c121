package push

import (
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/duetchat/duet/moderation"
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

// conn is one client's WebSocket. One goroutine at a time reads and serves its frames (see
// serveFrames). Everything written goes through its queue to one writer goroutine, which runs
// only while there is something to write, so an idle connection costs one goroutine on a small
// stack and no queue.
type conn struct {
	srv    *Server
	ws     *websocket.Conn
	sock   *gatherConn       // ws's socket, on which the writer gathers each batch into one write
	client moderation.Client // the client's address, hashed
	exempt bool              // from rate limits

	mu      sync.Mutex    // guards the following fields
	queue   sendQueue     // frames waiting for the writer; a client too slow to drain it is dropped
	writing bool          // the writer goroutine is running
	stopped bool          // the connection is closing: nothing more is written
	room    chan struct{} // signalled when the writer takes frames, for a reply waiting for room
	writer  sync.WaitGroup

	account   atomic.Int64 // 0 until CRT_ACCOUNT or RECONNECT binds one
	lastFrame atomic.Int64 // Unix nanoseconds of the last frame received
	silent    atomic.Bool  // set when the account was reported away for silence
	loggedOut atomic.Bool
	evicted   atomic.Bool // removed from the hub for being too slow, still holding its account
	fenced    atomic.Bool // another connection has taken its account over: it serves no more requests
	kicked    atomic.Pointer[session.KickedData]

	// Owned by whichever goroutine serves the connection's frames: one at a time, in order.
	dialect   dialect
	dialected bool
	greeted   bool        // the current notice was looked up, after the reply to the first request
	limits    *limiters   // the account's, once bound; unlimited when the client is exempt from rate limits
	address   *held       // the limiters of the client's address; nil when it is exempt from rate limits
	badFrames []time.Time // ring of the times of the last bad frames; made at the first one
	badNext   int
}

// servingIdle is how long the goroutine serving a connection's frames waits for the next one
// before it hands the waiting to a fresh goroutine.
const servingIdle = 5 * time.Millisecond

// serveFrames waits for the client's frames and serves them, in order, until the connection
// fails; then it calls closed. Waiting for an idle client happens on a fresh goroutine, parked
// in a shallow frame on the smallest stack: serving a frame grows a goroutine's stack for good
// (the collector only shrinks the stack of a goroutine parked in a frame as shallow, and does
// not run while the node is idle), so the goroutine that served frames does not stay to wait.
// Once the client has been quiet for servingIdle, it starts the next waiter and ends, so a
// chatting client is read and served on one goroutine, with no hand-off per frame.
func (c *conn) serveFrames(ctx context.Context, closed func()) {
	// The client is gone once it has been silent for this long, heartbeats unanswered.
	silence := c.srv.opt.PresenceTimeout + c.srv.opt.PingInterval
	c.ws.SetReadDeadline(time.Now().Add(silence))
	err := c.sock.awaitInput()
	for err == nil {
		// Reading a frame never times out at servingIdle: the WebSocket does not survive it.
		c.ws.SetReadDeadline(time.Now().Add(silence))
		typ, data, readErr := c.ws.ReadMessage()
		if readErr != nil {
			break
		}
		c.handle(ctx, typ, data)
		if c.sock.in.Buffered() > 0 {
			continue
		}
		c.ws.SetReadDeadline(time.Now().Add(servingIdle))
		err = c.sock.awaitInput()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			go c.serveFrames(ctx, closed)
			return
		}
	}
	closed()
}

// enqueue queues f without blocking. If the queue is over its limit, the client is not keeping
// up: it is disconnected, and enqueue reports false so a push can go to the backlog instead.
func (c *conn) enqueue(f frame) bool {
	c.mu.Lock()
	if c.queue.full(f, c.srv.opt.SendQueueBytes) {
		c.mu.Unlock()
		c.abort(closePolicy, "too slow to receive")
		c.srv.hub.observe.Dropped()
		return false
	}
	c.pushLocked(f)
	c.mu.Unlock()
	return true
}

// enqueueAll queues frames whatever the queue's limit.
func (c *conn) enqueueAll(frames []frame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range frames {
		c.pushLocked(f)
	}
}

// reply queues a frame of the connection's own: an answer to the client's request. Unlike a
// push, it waits for room, so a client that floods requests without reading is slowed down
// rather than disconnected. Only whatever serves the connection's frames calls it, one at a time.
func (c *conn) reply(f frame) {
	for {
		c.mu.Lock()
		if c.stopped || !c.queue.full(f, c.srv.opt.SendQueueBytes) {
			c.pushLocked(f)
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		<-c.room
	}
}

// pushLocked appends f to the queue and starts the writer if it is not running. Frames for a
// connection that is closing are dropped: pushes among them have gone to the backlog.
func (c *conn) pushLocked(f frame) {
	if c.stopped {
		return
	}
	c.queue.push(f)
	if !c.writing {
		c.writing = true
		c.writer.Add(1)
		go c.writeLoop()
	}
}

// closeAfter queues a close with code after the frames already queued.
func (c *conn) closeAfter(code int, reason string) {
	c.enqueue(frame{close: code, closeReason: reason})
}

// abort closes the connection with code, ahead of anything queued, without waiting: the close
// frame is written aside, since the socket may be stuck. The read loop then fails and cleans up.
func (c *conn) abort(code int, reason string) {
	c.mu.Lock()
	already := c.stopped
	c.stopped = true
	c.mu.Unlock()
	if already {
		return
	}
	select {
	case c.room <- struct{}{}: // a reply waiting for room gives up
	default:
	}
	go func() {
		// What the writer has gathered goes first; the close frame must not wait for it.
		_ = c.sock.flush()
		msg := websocket.FormatCloseMessage(code, reason)
		_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(c.srv.opt.WriteTimeout))
		_ = c.ws.Close()
	}()
}

// takePushes removes the pushes still queued, in order, dropping everything else.
func (c *conn) takePushes() []frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	var pushes []frame
	for _, f := range c.queue.take() {
		if f.push {
			pushes = append(pushes, f)
		}
	}
	return pushes
}

// writeLoop writes queued frames until the queue is empty, a close frame, a write error or the
// connection closing. It takes the queue as a whole, so writing never holds the lock, and
// sends each batch to the socket in one system call.
func (c *conn) writeLoop() {
	defer c.writer.Done()
	for {
		c.mu.Lock()
		batch := c.queue.take()
		if len(batch) == 0 || c.stopped {
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		select {
		case c.room <- struct{}{}:
		default:
		}
		c.sock.gather()
		var rest []frame // what the client will not get, when the batch ends the connection
		code, reason := 0, ""
		for i, f := range batch {
			if f.close != 0 {
				rest, code, reason = batch[i+1:], f.close, f.closeReason
				break
			}
			if err := c.write(f); err != nil {
				rest, code, reason = batch[i:], closeWriteFailed, "write failed"
				break
			}
		}
		if err := c.sock.flush(); err != nil {
			rest, code, reason = batch, closeWriteFailed, "write failed"
		}
		if code != 0 {
			// What was not written goes to the backlog when the connection is cleaned up.
			c.requeue(rest)
			c.abort(code, reason)
		}
	}
}

// requeue puts frames the writer could not write back in front of the queue, so the clean-up
// can move their pushes to the backlog.
func (c *conn) requeue(frames []frame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queue.pushFront(frames)
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
	if c.badFrames == nil {
		c.badFrames = make([]time.Time, c.srv.opt.BadFrameLimit)
	}
	c.badFrames[c.badNext] = now
	c.badNext = (c.badNext + 1) % len(c.badFrames)
	oldest := c.badFrames[c.badNext]
	return !oldest.IsZero() && now.Sub(oldest) < c.srv.opt.BadFrameWindow
}
