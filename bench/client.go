package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/sync/errgroup"
)

// target is what the clients of a run talk to: Duet nodes, or the baseline relay.
type target struct {
	name string
	// url is where connection i goes.
	url func(i int) string
	// chats says whether the clients must create accounts and match (Duet) or are paired by
	// their URL (the relay).
	chats bool
}

func duetTarget(urls []string) target {
	return target{name: "duet", chats: true, url: func(i int) string { return urls[i%len(urls)] }}
}

// relayTarget pairs connections 2k and 2k+1 on the relay.
func relayTarget(base string) target {
	return target{name: "baseline", url: func(i int) string { return base + "?pair=" + strconv.Itoa(i/2) }}
}

// Connection limits of the load generator's own side.
const (
	dialParallel = 64               // connections being opened at once
	writeTimeout = 10 * time.Second // bound on one write to the server
)

var dialer = &websocket.Dialer{
	HandshakeTimeout: 10 * time.Second,
	ReadBufferSize:   1024,
	WriteBufferPool:  &sync.Pool{},
}

// client is one connection of the load generator. Its read loop is the only reader; writes
// (its own requests, and answers to server heartbeats from the read loop) take wmu.
type client struct {
	index int
	ws    *websocket.Conn
	sink  *tally  // where messages, acknowledgements and refusals are counted
	out   *stream // the messages this client sends
	// acksAtWrite: a message counts as acknowledged once written, as the relay stores nothing
	// and its acknowledgements only pace the sender.
	acksAtWrite bool

	wmu sync.Mutex // guards writes to ws
	buf []byte     // the frame being built, under wmu

	replies  chan inbound  // replies to CRT_ACCOUNT and MATCH
	inFlight chan struct{} // one token per unacknowledged DIALOGUE, when pacing by window

	mu        sync.Mutex    // guards the chat fields below
	accountID int64         // set by CRT_ACCOUNT
	sessionID int64         // the chat MATCH formed, from its reply or a NewSession push
	partnerID int64         // the other side of that chat
	matchedAt time.Time     // when this client learned of its chat
	sessions  int           // chats this client was told of; more than 1 is a double match
	matched   chan struct{} // closed when the first chat is known

	closing      atomic.Bool   // the run is closing the connection itself
	disconnected atomic.Bool   // the connection ended before the run closed it
	done         chan struct{} // closed when the read loop has ended
}

// inbound is every field of a server frame that the load generator looks at.
type inbound struct {
	Cmd        string `json:"cmd"`
	Code       *int   `json:"code"`
	Msg        string `json:"msg"`
	RetryAfter int64  `json:"retryAfterMs"`
	AccountID  int64  `json:"accountId"`
	SessionID  int64  `json:"sessionId"`
	PartnerID  int64  `json:"partnerId"`
	RequestID  string `json:"requestId"`
	Content    string `json:"content"`
	SignalType string `json:"signalType"`
	Data       struct {
		AccountID int64 `json:"accountId"`
	} `json:"data"`
}

// connect opens n connections to t, at most dialParallel at a time, each with its read loop
// running and counting into sink, a tally of n streams. window, if not 0, is how many messages
// each may have in flight. On error, the connections already open are closed.
func connect(ctx context.Context, t target, n int, timeout time.Duration, sink *tally, window int) ([]*client, error) {

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	clients := make([]*client, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(dialParallel)
	for i := range clients {
		g.Go(func() error {
			ws, resp, err := dialer.DialContext(gctx, t.url(i), http.Header{})
			if err != nil {
				return dialError(i, n, t.url(i), resp, err)
			}
			c := &client{
				index: i, ws: ws, sink: sink, out: &sink.streams[i], acksAtWrite: !t.chats,
				replies: make(chan inbound, 1), matched: make(chan struct{}), done: make(chan struct{}),
			}
			if window > 0 {
				c.inFlight = make(chan struct{}, window)
			}
			clients[i] = c
			go c.readLoop()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		closeAll(clients)
		return nil, err
	}
	return clients, nil
}

func dialError(i, n int, url string, resp *http.Response, err error) error {
	switch {
	case errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE):
		return fmt.Errorf("opening connection %d of %d: %w; this process may not open more files: raise `ulimit -n` (hard limit) and run again", i+1, n, err)
	case resp != nil:
		return fmt.Errorf("opening connection %d of %d to %s: the server answered %s", i+1, n, url, resp.Status)
	default:
		return fmt.Errorf("opening connection %d of %d to %s: %w", i+1, n, url, err)
	}
}

// closeAll closes every connection that was opened and waits for their read loops to end.
func closeAll(clients []*client) {
	for _, c := range clients {
		if c != nil {
			c.closing.Store(true)
			c.ws.Close()
		}
	}
	for _, c := range clients {
		if c != nil {
			<-c.done
		}
	}
}

func countDisconnects(clients []*client) int {
	n := 0
	for _, c := range clients {
		if c.disconnected.Load() {
			n++
		}
	}
	return n
}

// readLoop reads the server's frames until the connection ends.
func (c *client) readLoop() {
	defer close(c.done)
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			if !c.closing.Load() {
				c.disconnected.Store(true)
			}
			return
		}
		var in inbound
		if json.Unmarshal(data, &in) != nil {
			c.sink.unexpected()
			continue
		}
		c.handle(&in)
	}
}

// handle reacts to one server frame.
func (c *client) handle(in *inbound) {
	switch {
	case in.Cmd == "PING":
		c.write(func(b []byte) []byte { return append(b, `{"cmd":"PONG"}`...) })
	case in.Cmd == "PING_REQ":
		c.write(func(b []byte) []byte { return append(b, `{"cmd":"PING_RESP"}`...) })
	case in.Code != nil && in.Cmd == "DIALOGUE":
		c.acknowledged(in)
	case in.Code != nil && in.Cmd == "MATCH" && *in.Code == 0:
		c.chatFormed(in.SessionID, in.PartnerID)
		c.reply(in)
	case in.Code != nil && (in.Cmd == "CRT_ACCOUNT" || in.Cmd == "MATCH"):
		c.reply(in)
	case in.Code != nil:
		c.sink.refused(*in.Code)
	case in.SignalType == "NewSession":
		c.chatFormed(in.SessionID, in.Data.AccountID)
	case in.Content != "":
		c.sink.arrived(in.Content)
	}
}

// reply hands the reply to a request to the waiting request. One request waits at a time; a
// reply nobody waits for any more (its request gave up) is counted, never waited on.
func (c *client) reply(in *inbound) {
	select {
	case c.replies <- *in:
	default:
		c.sink.unexpected()
	}
}

// acknowledged counts the reply to one of this client's DIALOGUEs.
func (c *client) acknowledged(in *inbound) {
	if c.inFlight != nil {
		select {
		case <-c.inFlight:
		default:
		}
	}
	switch seq, err := strconv.ParseInt(in.RequestID, 10, 64); {
	case *in.Code != 0:
		c.sink.refused(*in.Code)
	case c.acksAtWrite:
	case err != nil || !c.out.acknowledge(seq):
		c.sink.unexpected()
	default:
		c.sink.acked.Add(1)
	}
}

// chatFormed records a chat this client was told of.
func (c *client) chatFormed(sessionID, partnerID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sessions++
	if c.sessions > 1 {
		return
	}
	c.sessionID, c.partnerID, c.matchedAt = sessionID, partnerID, time.Now()
	close(c.matched)
}

// write builds a frame with build into the client's buffer and sends it.
func (c *client) write(build func([]byte) []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.buf = build(c.buf[:0])
	if err := c.ws.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return err
	}
	return c.ws.WriteMessage(websocket.TextMessage, c.buf)
}

// request sends frame and waits for the reply named cmd.
func (c *client) request(ctx context.Context, cmd string, frame []byte) (inbound, error) {
	if err := c.write(func(b []byte) []byte { return append(b, frame...) }); err != nil {
		return inbound{}, fmt.Errorf("connection %d: sending %s: %w", c.index+1, cmd, err)
	}
	select {
	case in := <-c.replies:
		return in, nil
	case <-c.done:
		return inbound{}, fmt.Errorf("connection %d: the server closed the connection before answering %s", c.index+1, cmd)
	case <-ctx.Done():
		return inbound{}, fmt.Errorf("connection %d: no %s reply: %w", c.index+1, cmd, context.Cause(ctx))
	}
}
