package longpoll

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/realtimekit/realtime/internal/httpconn"
	"github.com/realtimekit/realtime/transport"
)

// DefaultPollTimeout is the PollTimeout used when ServerConfig's is zero.
const DefaultPollTimeout = 25 * time.Second

// Bounds of the server side.
const (
	maxAnswer     = 1 << 20 // bytes of messages in one poll's answer (at least one message)
	maxQueue      = 1024    // messages waiting for a poll
	maxQueueBytes = 4 << 20 // their bytes (at least one message)
)

var (
	errPeerClosed = fmt.Errorf("longpoll: the client closed the connection: %w", io.EOF)
	errIdle       = fmt.Errorf("longpoll: no request from the client for 2 × PollTimeout: %w", io.ErrUnexpectedEOF)
)

// NewHandler returns a handler that serves the long-polling transport on
// any path: a POST without ?id= opens a connection, a GET with ?id= polls,
// a POST with ?id= carries messages up, a DELETE with ?id= ends the
// connection. A request whose id names a connection of another node
// (cfg.Node, cfg.Elsewhere) goes to cfg.Elsewhere.
//
// cfg.Check runs on the opening POST only. cfg.Accept runs on a goroutine
// of its own, since the opening POST must be answered (with the id) before
// the connection can be used; the connection is closed when Accept returns.
// The request given to Accept is the opening POST, with a context that
// ends with the connection.
//
// Accept's goroutine is not a request's, so shutting the HTTP server down
// does not end it: closing the connection does, and so does the client's
// silence (below).
//
// A poll is held for up to cfg.PollTimeout (zero means
// DefaultPollTimeout) waiting for messages; every answer is numbered, an
// empty one too, so that a lost answer can be sent again when the next
// poll still acknowledges the batch before it. A connection that has had
// no request for twice PollTimeout is ended: its Recv and Send fail. After the
// server closes a connection, polls still collect what it sent before,
// then get 404. Server Send queues messages for the polls; it blocks while
// 1024 messages or 4 MiB are waiting. Received messages may be at most
// cfg.ReadLimit bytes (zero means transport.DefaultReadLimit): a larger
// one ends the connection, and its POST gets 413.
func NewHandler(cfg transport.ServerConfig) http.Handler {
	pt := cfg.PollTimeout
	if pt <= 0 {
		pt = DefaultPollTimeout
	}
	return &handler{
		cfg:         cfg,
		limit:       transport.Config{ReadLimit: cfg.ReadLimit}.Limit(),
		pollTimeout: pt,
		conns:       map[string]*serverConn{},
	}
}

type handler struct {
	cfg         transport.ServerConfig
	limit       int64
	pollTimeout time.Duration

	mu    sync.Mutex
	conns map[string]*serverConn
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	switch {
	case r.Method == http.MethodPost && id == "":
		h.open(w, r)
		return
	case r.Method != http.MethodGet && r.Method != http.MethodPost && r.Method != http.MethodDelete:
		w.Header().Set("Allow", "GET, POST, DELETE")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	case id == "":
		http.Error(w, "missing id", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	c := h.conns[id]
	h.mu.Unlock()
	if c == nil && h.cfg.ServeElsewhere(w, r, id) {
		return
	}
	if c == nil || !c.begin() {
		http.Error(w, "unknown connection", http.StatusNotFound)
		return
	}
	defer c.end()
	switch r.Method {
	case http.MethodGet:
		c.poll(w, r)
	case http.MethodDelete:
		c.fail(errPeerClosed)
		c.remove()
		w.WriteHeader(http.StatusNoContent)
	default:
		if err := c.inbox.ServePost(w, r, h.limit); err != nil {
			c.fail(err)
		}
	}
}

func (h *handler) open(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Check != nil {
		if code := h.cfg.Check(r); code != 0 {
			http.Error(w, http.StatusText(code), code)
			return
		}
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	c := &serverConn{
		h:       h,
		id:      h.cfg.NewID(),
		cancel:  cancel,
		done:    make(chan struct{}),
		changed: make(chan struct{}),
		seen:    time.Now(),
	}
	c.inbox = httpconn.NewInbox(c.done)
	c.mu.Lock() // expire may run before the assignment is done otherwise
	c.idle = time.AfterFunc(2*h.pollTimeout, c.expire)
	c.mu.Unlock()
	h.mu.Lock()
	h.conns[c.id] = c
	h.mu.Unlock()

	ar := r.WithContext(ctx)
	ar.Body = http.NoBody // the POST's own ends with it
	go func() {
		h.cfg.Accept(ar, c)
		_ = c.Close()
	}()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(c.id)))
	_, _ = io.WriteString(w, c.id)
}
