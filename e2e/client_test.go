package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// waitTimeout bounds every wait for a frame the protocol promises.
const waitTimeout = 5 * time.Second

// quiet is how long a test listens to be sure that a frame does not arrive.
const quiet = 300 * time.Millisecond

// maxID is the largest id a browser's JSON.parse keeps exact (2^53-1).
const maxID = 1<<53 - 1

// dialect names the frames of one of the two client families of protocol.md.
type dialect struct {
	name string
	req  bool // the _REQ/_RESP dialect
}

var (
	seedDialect = dialect{name: "seed"}
	reqDialect  = dialect{name: "req", req: true}
	dialects    = []dialect{seedDialect, reqDialect}
)

func (d dialect) request(cmd string) string { return d.suffix(cmd, "_REQ") }
func (d dialect) reply(cmd string) string   { return d.suffix(cmd, "_RESP") }
func (d dialect) push(cmd string) string    { return d.suffix(cmd, "_REQ") }

func (d dialect) suffix(cmd, s string) string {
	if d.req {
		return cmd + s
	}
	return cmd
}

// serverPing is the server's heartbeat, answered with pong.
func (d dialect) serverPing() string { return d.pick("PING", "PING_REQ") }
func (d dialect) pong() string       { return d.pick("PONG", "PING_RESP") }

// clientPing is the client's heartbeat, answered by the server with pong.
func (d dialect) clientPing() string { return d.pick("PING", "PING_REQ") }

func (d dialect) pick(seed, req string) string {
	if d.req {
		return req
	}
	return seed
}

// forEachDialect runs f as a parallel subtest per dialect (t becomes parallel too).
func forEachDialect(t *testing.T, f func(t *testing.T, d dialect)) {
	t.Helper()
	t.Parallel()
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			f(t, d)
		})
	}
}

// frame is one JSON object received from the server.
type frame struct {
	raw string
	m   map[string]any
}

func parseFrame(data []byte) frame {
	f := frame{raw: string(data)}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	_ = dec.Decode(&f.m) // a non-object frame keeps m nil and shows up in raw
	return f
}

func (f frame) String() string { return f.raw }
func (f frame) cmd() string    { return f.str("cmd") }

// get returns the value at a dotted path such as "data.accountId" or "sessions.0.sessionId".
func (f frame) get(path string) (any, bool) {
	var cur any = f.m
	for _, key := range strings.Split(path, ".") {
		switch v := cur.(type) {
		case map[string]any:
			var ok bool
			if cur, ok = v[key]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

func (f frame) has(path string) bool { _, ok := f.get(path); return ok }

func (f frame) str(path string) string {
	v, _ := f.get(path)
	s, _ := v.(string)
	return s
}

func (f frame) int(path string) (int64, bool) {
	v, ok := f.get(path)
	if !ok {
		return 0, false
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

// code is the reply code, or -1 when the frame has none.
func (f frame) code() int64 {
	c, ok := f.int("code")
	if !ok {
		return -1
	}
	return c
}

func (f frame) strings(path string) ([]string, bool) {
	v, ok := f.get(path)
	if !ok {
		return nil, false
	}
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// wantCode checks a reply's code; a non-zero code must come with a readable msg.
func wantCode(t testing.TB, f frame, want int64) {
	t.Helper()
	if got := f.code(); got != want {
		t.Fatalf("%s: code = %d, want %d; frame %s", f.cmd(), got, want, f)
	}
	if want != 0 && strings.TrimSpace(f.str("msg")) == "" {
		t.Errorf("%s: code %d without a msg; frame %s", f.cmd(), want, f)
	}
}

// wantFields checks fields by dotted path. A want of int or int64 compares JSON integers, nil
// means the field must be absent.
func wantFields(t testing.TB, f frame, want map[string]any) {
	t.Helper()
	for path, w := range want {
		v, ok := f.get(path)
		switch w := w.(type) {
		case nil:
			if ok {
				t.Errorf("%s: %s = %v, want no such field; frame %s", f.cmd(), path, v, f)
			}
		case int, int64:
			wi := toInt64(w)
			got, isInt := f.int(path)
			if !isInt {
				t.Errorf("%s: %s = %v, want integer %d; frame %s", f.cmd(), path, v, wi, f)
			} else if got != wi {
				t.Errorf("%s: %s = %d, want %d; frame %s", f.cmd(), path, got, wi, f)
			}
		case string:
			if s, isStr := v.(string); !isStr || s != w {
				t.Errorf("%s: %s = %#v, want %q; frame %s", f.cmd(), path, v, w, f)
			}
		case bool:
			if b, isBool := v.(bool); !isBool || b != w {
				t.Errorf("%s: %s = %#v, want %v; frame %s", f.cmd(), path, v, w, f)
			}
		default:
			t.Fatalf("wantFields: unsupported want type %T for %s", w, path)
		}
	}
}

func toInt64(v any) int64 {
	switch v := v.(type) {
	case int:
		return int64(v)
	case int64:
		return v
	}
	panic(fmt.Sprintf("not an integer: %T", v))
}

// wantID checks that a field is a JSON integer id in 1..2^53-1 and returns it.
func wantID(t testing.TB, f frame, path string) int64 {
	t.Helper()
	id, ok := f.int(path)
	if !ok {
		t.Fatalf("%s: %s is not a JSON integer; frame %s", f.cmd(), path, f)
	}
	if id < 1 || id > maxID {
		t.Fatalf("%s: %s = %d, want 1..2^53-1; frame %s", f.cmd(), path, id, f)
	}
	return id
}

// client is one WebSocket connection speaking one dialect, seen from one test: c.with(t) gives
// the same connection to a subtest, so that its failures land on the right test.
type client struct {
	t testing.TB
	*link
}

// link is the connection's state. A goroutine reads every frame into an inbox (server
// heartbeats go aside and are answered), so that waits can time out without breaking the
// connection and frames nobody waited for stay visible.
type link struct {
	name string
	d    dialect
	conn *websocket.Conn

	wmu      sync.Mutex // guards writes of text frames
	silent   atomic.Bool
	lastSent atomic.Int64 // unix nanoseconds of the last frame written
	reqSeq   atomic.Int64

	mu       sync.Mutex // guards the following fields
	inbox    []frame
	pings    []frame
	received map[string]int // frames received so far, by cmd
	readErr  error

	notify chan struct{}
	done   chan struct{}

	// Set by createAccount; read by the test goroutine only.
	id    int64
	token string
	nick  string
}

// with returns the same connection reporting to t.
func (c *client) with(t testing.TB) *client { return &client{t: t, link: c.link} }

var dialer = websocket.Dialer{HandshakeTimeout: 5 * time.Second}

// dial opens a connection to the server's /ws.
func dial(t testing.TB, s *server, d dialect, name string) *client {
	t.Helper()
	return dialWith(t, s, d, name, nil)
}

// dialWith opens a connection to the server's /ws with the given request headers.
func dialWith(t testing.TB, s *server, d dialect, name string, h http.Header) *client {
	t.Helper()
	return dialURL(t, &dialer, s.wsURL(), d, name, h)
}

// dialURL opens a connection to a WebSocket URL, such as a proxy's or a container's, with the
// given dialer and request headers.
func dialURL(t testing.TB, dl *websocket.Dialer, url string, d dialect, name string, h http.Header) *client {
	t.Helper()
	conn, resp, err := dl.Dial(url, h)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("%s: dial %s: %v (HTTP %d)", name, url, err, status)
	}
	return newClient(t, conn, d, name)
}

func newClient(t testing.TB, conn *websocket.Conn, d dialect, name string) *client {
	c := &client{t: t, link: &link{
		name: name, d: d, conn: conn,
		received: map[string]int{},
		notify:   make(chan struct{}, 1),
		done:     make(chan struct{}),
	}}
	conn.SetPingHandler(func(data string) error {
		if c.silent.Load() {
			return nil
		}
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
		var ne net.Error
		if errors.Is(err, websocket.ErrCloseSent) || errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		return err
	})
	go c.readLoop()
	t.Cleanup(func() {
		_ = conn.Close()
		<-c.done
	})
	return c
}

func (c *link) readLoop() {
	defer close(c.done)
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			c.mu.Lock()
			c.readErr = err
			c.mu.Unlock()
			c.wake()
			return
		}
		f := parseFrame(data)
		if f.cmd() == c.d.serverPing() {
			c.mu.Lock()
			c.pings = append(c.pings, f)
			c.mu.Unlock()
			c.wake()
			if !c.silent.Load() {
				pong := map[string]any{"cmd": c.d.pong()}
				if v, ok := f.m["accountId"]; ok {
					pong["accountId"] = v
				}
				_ = c.writeJSON(pong)
			}
			continue
		}
		c.mu.Lock()
		c.inbox = append(c.inbox, f)
		c.received[f.cmd()]++
		c.mu.Unlock()
		c.wake()
	}
}

// receivedCount is how many frames named cmd have arrived so far.
func (c *link) receivedCount(cmd string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.received[cmd]
}

func (c *link) wake() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

func (c *link) writeJSON(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.writeRaw(data)
}

func (c *link) writeRaw(data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(waitTimeout))
	err := c.conn.WriteMessage(websocket.TextMessage, data)
	c.lastSent.Store(time.Now().UnixNano())
	return err
}

// frameOf builds a frame object from a cmd and its fields.
func frameOf(cmd string, fields map[string]any) map[string]any {
	obj := map[string]any{"cmd": cmd}
	for k, v := range fields {
		obj[k] = v
	}
	return obj
}

// sendCmd sends a frame with exactly this cmd name.
func (c *client) sendCmd(cmd string, fields map[string]any) {
	c.t.Helper()
	if err := c.writeJSON(frameOf(cmd, fields)); err != nil {
		c.t.Fatalf("%s: sending %s: %v", c.name, cmd, err)
	}
}

// sendRaw sends a text frame as is.
func (c *client) sendRaw(data string) {
	c.t.Helper()
	if err := c.writeRaw([]byte(data)); err != nil {
		c.t.Fatalf("%s: sending %q: %v", c.name, data, err)
	}
}

// send sends request cmd (named in this client's dialect).
func (c *client) send(cmd string, fields map[string]any) {
	c.t.Helper()
	c.sendCmd(c.d.request(cmd), fields)
}

// request sends request cmd and returns its reply.
func (c *client) request(cmd string, fields map[string]any) frame {
	c.t.Helper()
	c.send(cmd, fields)
	return c.waitReply(cmd)
}

// waitReply waits for the reply to request cmd. A frame that can only be a misnamed reply to it
// (or an ERROR) fails the test at once rather than after the timeout.
func (c *client) waitReply(cmd string) frame {
	c.t.Helper()
	want := c.d.reply(cmd)
	misnamed := map[string]bool{"ERROR": true}
	for _, name := range []string{cmd, cmd + "_REQ", cmd + "_RESP", cmd + "_REQ_RESP"} {
		if name != want && name != c.d.request(cmd) {
			misnamed[name] = true
		}
	}
	f := c.waitFor(want, waitTimeout, func(f frame) bool { return f.cmd() == want || misnamed[f.cmd()] })
	if f.cmd() != want {
		c.t.Fatalf("%s: reply to %s is named %q, want %q: %s", c.name, c.d.request(cmd), f.cmd(), want, f)
	}
	return f
}

// waitCmd waits for the first frame with exactly this cmd.
func (c *client) waitCmd(cmd string) frame {
	c.t.Helper()
	return c.waitFor(cmd, waitTimeout, isCmd(cmd))
}

// waitPush waits for push cmd (named in this client's dialect).
func (c *client) waitPush(cmd string) frame {
	c.t.Helper()
	return c.waitCmd(c.d.push(cmd))
}

// waitSignal waits for a PUSH_SIGNAL of this type.
func (c *client) waitSignal(signalType string) frame {
	c.t.Helper()
	return c.waitFor("PUSH_SIGNAL "+signalType, waitTimeout, c.isSignal(signalType))
}

func (c *client) waitSignalWithin(signalType string, timeout time.Duration) frame {
	c.t.Helper()
	return c.waitFor("PUSH_SIGNAL "+signalType, timeout, c.isSignal(signalType))
}

func isCmd(cmd string) func(frame) bool {
	return func(f frame) bool { return f.cmd() == cmd }
}

func (c *client) isSignal(signalType string) func(frame) bool {
	return func(f frame) bool {
		return f.cmd() == c.d.push("PUSH_SIGNAL") && f.str("signalType") == signalType
	}
}

func (c *client) isPush(cmd string) func(frame) bool { return isCmd(c.d.push(cmd)) }

func anyFrame(frame) bool { return true }

// waitFor removes and returns the first unread frame that matches, waiting up to timeout.
func (c *client) waitFor(desc string, timeout time.Duration, match func(frame) bool) frame {
	c.t.Helper()
	f, ok := c.tryWait(timeout, match)
	if !ok {
		c.t.Fatalf("%s: no %s within %v; unread frames: %s; connection error: %v",
			c.name, desc, timeout, c.unread(), c.err())
	}
	return f
}

func (c *link) tryWait(timeout time.Duration, match func(frame) bool) (frame, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		for i, f := range c.inbox {
			if match(f) {
				c.inbox = append(c.inbox[:i:i], c.inbox[i+1:]...)
				c.mu.Unlock()
				return f, true
			}
		}
		closed := c.readErr != nil
		c.mu.Unlock()
		if closed {
			return frame{}, false
		}
		select {
		case <-c.notify:
		case <-deadline.C:
			return frame{}, false
		}
	}
}

// waitReceived waits until n frames of cmd have been received (read or not). It does not need
// a test, so a helper goroutine may use it while the test goroutine does not wait on this link.
func (c *link) waitReceived(cmd string, n int, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		got, closed := c.received[cmd], c.readErr != nil
		c.mu.Unlock()
		if got >= n {
			return true
		}
		if closed {
			return false
		}
		select {
		case <-c.notify:
		case <-deadline.C:
			return false
		}
	}
}

// next removes and returns the oldest unread frame.
func (c *client) next() frame {
	c.t.Helper()
	return c.waitFor("frame", waitTimeout, anyFrame)
}

// expectNone fails if a matching frame is unread now or arrives within the window.
func (c *client) expectNone(desc string, window time.Duration, match func(frame) bool) {
	c.t.Helper()
	if f, ok := c.tryWait(window, match); ok {
		c.t.Errorf("%s: got unexpected %s: %s", c.name, desc, f)
	}
}

// expectQuiet fails if any frame (other than a server heartbeat) arrives within the window.
func (c *client) expectQuiet(window time.Duration) {
	c.t.Helper()
	c.expectNone("frame", window, anyFrame)
}

func (c *link) unread() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.inbox) == 0 {
		return "none"
	}
	parts := make([]string, len(c.inbox))
	for i, f := range c.inbox {
		parts[i] = f.raw
	}
	return strings.Join(parts, " ")
}

func (c *link) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readErr
}

// serverPings returns the server heartbeats received so far.
func (c *link) serverPings() []frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]frame(nil), c.pings...)
}

// waitPings waits until at least n server heartbeats have arrived and returns them.
func (c *client) waitPings(n int, timeout time.Duration) []frame {
	c.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		got, closed := len(c.pings), c.readErr != nil
		c.mu.Unlock()
		if got >= n {
			return c.serverPings()
		}
		if closed {
			c.t.Fatalf("%s: connection closed (%v) after %d server %s frames, want %d",
				c.name, c.err(), got, c.d.serverPing(), n)
		}
		select {
		case <-c.notify:
		case <-deadline.C:
			c.t.Fatalf("%s: got %d server %s frames within %v, want %d",
				c.name, got, c.d.serverPing(), timeout, n)
		}
	}
}

// closeCode waits for the server to close the connection and returns the close code
// (1006 if it closed without a close frame).
func (c *client) closeCode(timeout time.Duration) int {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(timeout):
		c.t.Fatalf("%s: connection still open after %v; unread frames: %s", c.name, timeout, c.unread())
	}
	var ce *websocket.CloseError
	if errors.As(c.err(), &ce) {
		return ce.Code
	}
	c.t.Errorf("%s: connection ended without a close code: %v", c.name, c.err())
	return -1
}

// wantClosed waits for the close and checks its code.
func (c *client) wantClosed(want int) {
	c.t.Helper()
	if got := c.closeCode(waitTimeout); got != want {
		c.t.Errorf("%s: close code = %d, want %d", c.name, got, want)
	}
}

// drop closes the TCP connection without a close frame or LOGOUT.
func (c *link) drop() {
	_ = c.conn.NetConn().Close()
	<-c.done
}

// goSilent stops answering heartbeats (server PINGs and WebSocket pings) and sending anything,
// while keeping the TCP connection open and reading.
func (c *link) goSilent() { c.silent.Store(true) }

// nextRequestID returns a requestId unique on this client.
func (c *link) nextRequestID() string {
	return fmt.Sprintf("%s:%d", c.name, c.reqSeq.Add(1))
}

// --- protocol steps ---

// newUser dials and creates an account with the given nickname.
func newUser(t testing.TB, s *server, d dialect, nick string) *client {
	t.Helper()
	c := dial(t, s, d, nick)
	c.createAccount(nick)
	return c
}

func (c *client) createAccount(nick string) frame {
	c.t.Helper()
	r := c.request("CRT_ACCOUNT", map[string]any{"nickName": nick})
	wantCode(c.t, r, 0)
	c.id = wantID(c.t, r, "accountId")
	c.token = r.str("token")
	c.nick = r.str("nickName")
	return r
}

// match sends MATCH for this account with optional interests.
func (c *client) match(interests ...string) frame {
	c.t.Helper()
	fields := map[string]any{"accountId": c.id}
	if interests != nil {
		fields["interests"] = interests
	}
	return c.request("MATCH", fields)
}

// pair matches a (queued first) with b and returns the session id; it checks both sides.
func pair(t testing.TB, a, b *client) int64 {
	t.Helper()
	wantCode(t, a.match(), 4)
	r := b.match()
	wantCode(t, r, 0)
	wantFields(t, r, map[string]any{"partnerId": a.id, "partnerName": a.nick})
	sid := wantID(t, r, "sessionId")
	sig := a.waitSignal("NewSession")
	wantFields(t, sig, map[string]any{
		"sessionId": sid, "receiverId": a.id, "senderId": b.id,
		"data.accountId": b.id, "data.nickName": b.nick,
	})
	return sid
}

// chatting starts a server with flags and pairs Ann with Bob on it, in dialect d.
func chatting(t testing.TB, d dialect, flags ...string) (s *server, a, b *client, sid int64) {
	t.Helper()
	s = startServer(t, flags...)
	a = newUser(t, s, d, "Ann")
	b = newUser(t, s, d, "Bob")
	return s, a, b, pair(t, a, b)
}

// say sends a DIALOGUE and returns its msgId.
func (c *client) say(sid int64, content string) int64 {
	c.t.Helper()
	rid := c.nextRequestID()
	r := c.request("DIALOGUE", map[string]any{
		"requestId": rid, "senderId": c.id, "sessionId": sid, "content": content,
	})
	wantCode(c.t, r, 0)
	wantFields(c.t, r, map[string]any{"requestId": rid})
	return wantID(c.t, r, "msgId")
}

// sayTo sends a DIALOGUE and checks that the partner gets it as PUSH_DIALOGUE.
func (c *client) sayTo(partner *client, sid int64, content string) int64 {
	c.t.Helper()
	id := c.say(sid, content)
	p := partner.waitFor(fmt.Sprintf("PUSH_DIALOGUE msgId %d", id), waitTimeout, func(f frame) bool {
		got, _ := f.int("msgId")
		return f.cmd() == partner.d.push("PUSH_DIALOGUE") && got == id
	})
	wantFields(c.t, p, map[string]any{"senderId": c.id, "sessionId": sid, "content": content})
	return id
}

// dialWithOrigin attempts a WebSocket handshake with an Origin header (none if empty).
func dialWithOrigin(s *server, origin string) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	return dialer.Dial(s.wsURL(), h)
}
