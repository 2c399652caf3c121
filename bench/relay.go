package bench

import (
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Relay is the baseline: about the least a WebSocket chat server can do, so that its throughput
// on a machine is the ceiling of any chat server there. It pairs the two connections that open
// /ws with the same ?pair= key and hands every frame one of them sends to the other unchanged,
// answering the sender with a fixed acknowledgement (relayAck) so that senders pace themselves
// as they do against Duet. No accounts, no storage, no parsing: gorilla/websocket only.
type Relay struct {
	listener net.Listener
	server   *http.Server
	upgrader websocket.Upgrader

	closed  chan struct{} // closed by Close
	mu      sync.Mutex    // guards waiting and open
	waiting map[string]*relayConn
	open    map[*relayConn]struct{}
	conns   sync.WaitGroup
}

// relayAck answers every frame: shaped like a DIALOGUE reply so the load generator counts it
// as one, though it names no message.
var relayAck = []byte(`{"cmd":"DIALOGUE","code":0}`)

type relayConn struct {
	ws      *websocket.Conn
	wmu     sync.Mutex      // guards writes to ws
	partner chan *relayConn // receives the partner when it comes
}

// StartRelay starts a relay listening on addr.
func StartRelay(addr string) (*Relay, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	r := &Relay{listener: l, closed: make(chan struct{}), waiting: make(map[string]*relayConn), open: make(map[*relayConn]struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", r.serveWS)
	r.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go r.server.Serve(l)
	return r, nil
}

// URL is the relay's WebSocket endpoint, to which ?pair=<key> is added.
func (r *Relay) URL() string { return "ws://" + r.listener.Addr().String() + "/ws" }

// Close stops the relay, closes its connections and waits for them to end.
func (r *Relay) Close() error {
	err := r.server.Close()
	close(r.closed)
	r.mu.Lock()
	for c := range r.open {
		c.ws.Close()
	}
	r.mu.Unlock()
	r.conns.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func (r *Relay) serveWS(w http.ResponseWriter, req *http.Request) {
	key := req.URL.Query().Get("pair")
	if key == "" {
		http.Error(w, "?pair= is required", http.StatusBadRequest)
		return
	}
	ws, err := r.upgrader.Upgrade(w, req, nil)
	if err != nil {
		return // the upgrader has answered
	}
	c := &relayConn{ws: ws, partner: make(chan *relayConn, 1)}
	r.mu.Lock()
	r.conns.Add(1)
	r.open[c] = struct{}{}
	first := r.waiting[key]
	if first == nil {
		r.waiting[key] = c
	} else {
		delete(r.waiting, key)
		first.partner <- c
		c.partner <- first
	}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.open, c)
		if r.waiting[key] == c {
			delete(r.waiting, key)
		}
		r.mu.Unlock()
		ws.Close()
		r.conns.Done()
	}()
	c.relay(r.closed)
}

// relay passes c's frames to its partner until either connection fails or closed is closed.
// Frames that arrive before the partner has come wait in the socket.
func (c *relayConn) relay(closed <-chan struct{}) {
	var partner *relayConn
	select {
	case partner = <-c.partner:
	case <-closed:
		return
	}
	defer partner.ws.Close()
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil || partner.write(typ, data) != nil || c.write(websocket.TextMessage, relayAck) != nil {
			return
		}
	}
}

func (c *relayConn) write(typ int, data []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
		return err
	}
	return c.ws.WriteMessage(typ, data)
}
