package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/realtimekit/realtime/internal/httpconn"
	"github.com/realtimekit/realtime/transport/longpoll"
)

// The requests of an SSE or long-poll connection after its handshake (its
// POSTs, DELETE and polls) name it with ?id=, and its id begins with the
// name of the node that holds it. A request that lands on another node is
// forwarded there through Config.Relay as HTTP/1.1 wire bytes, carrying
// only what the transports read: the method, the path, the query's id and
// ack, Content-Type, X-Realtime-Post and the body. Credentials (the rest
// of the query, Authorization, Cookie) never cross the Relay: these
// requests are not authenticated again, the connection id is their
// capability. The answer comes back the same way.

// Headers that cross the Relay, each way.
var (
	relayRequestHeaders = []string{"Content-Type", httpconn.PostHeader}
	relayAnswerHeaders  = []string{"Content-Type", "Cache-Control", "Retry-After", "Allow", longpoll.BatchHeader}
)

// relayQuery lists the query parameters that cross the Relay.
var relayQuery = []string{"id", "ack"}

// relayed marks the context of a request that came through the Relay, so
// that it is never forwarded again.
type relayed struct{}

// relayState is the Server's side of its Relay: Serve runs from the first
// SSE or long-poll handshake until Close.
type relayState struct {
	mu     sync.Mutex
	stop   func()
	closed bool
}

// validNode reports whether name can name a node: 1 to 64 ASCII letters,
// digits or '-' ('_' ends the prefix of a connection id).
func validNode(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, c := range []byte(name) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-':
		default:
			return false
		}
	}
	return true
}

// randomNode returns a random node name.
func randomNode() string { return strings.ToLower(rand.Text()[:12]) }

// relayLimit bounds a relayed request's body and an answer's: a POST
// carries at most the client's batch (1 MiB) or one message, a poll's
// answer at most 1 MiB or one message, plus framing.
func (srv *Server) relayLimit() int {
	return max(srv.cfg.MaxMessage, 1<<20) + 64<<10
}

// serveRelay makes this node reachable through the Relay, once.
func (srv *Server) serveRelay() error {
	if srv.cfg.Relay == nil {
		return nil
	}
	rs := &srv.relay
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.stop != nil || rs.closed {
		return nil
	}
	stop, err := srv.cfg.Relay.Serve(srv.cfg.Node, srv.handleRelayed)
	if err != nil {
		return err
	}
	rs.stop = stop
	return nil
}

// stopRelay ends serveRelay's Serve for good, waiting for running handles.
func (srv *Server) stopRelay() {
	rs := &srv.relay
	rs.mu.Lock()
	rs.closed = true
	stop := rs.stop
	rs.stop = nil
	rs.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// forward serves a request for a connection that node holds: see
// transport.ServerConfig.Elsewhere.
func (srv *Server) forward(w http.ResponseWriter, r *http.Request, node string) {
	if r.Context().Value(relayed{}) != nil {
		http.Error(w, "unknown connection", http.StatusNotFound)
		return
	}
	req, status := encodeRequest(r, srv.relayLimit())
	if status != 0 {
		http.Error(w, http.StatusText(status), status)
		return
	}
	ans, err := srv.cfg.Relay.Forward(r.Context(), node, req)
	switch {
	case errors.Is(err, ErrNodeGone):
		// The client sees its connection lost, and resumes elsewhere.
		http.Error(w, "unknown connection", http.StatusNotFound)
		return
	case err != nil:
		if r.Context().Err() == nil {
			srv.cfg.Logger.Warn("relay: forwarding a request failed", "node", node, "error", err)
		}
		w.Header().Set("Retry-After", "1")
		http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
		return
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(ans)), nil)
	if err != nil {
		srv.cfg.Logger.Warn("relay: a malformed answer", "node", node, "error", err)
		http.Error(w, http.StatusText(http.StatusBadGateway), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for _, k := range relayAnswerHeaders {
		if v := resp.Header.Get(k); v != "" {
			w.Header().Set(k, v)
		}
	}
	if resp.ContentLength >= 0 && bodyAllowed(resp.StatusCode) {
		w.Header().Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// encodeRequest returns r as HTTP/1.1 wire bytes, with only what crosses
// the Relay, or the status that refuses it: 413 for a body over limit,
// 400 for one that cannot be read.
func encodeRequest(r *http.Request, limit int) ([]byte, int) {
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	switch {
	case len(body) > limit:
		return nil, http.StatusRequestEntityTooLarge
	case err != nil:
		return nil, http.StatusBadRequest
	}
	q, in := url.Values{}, r.URL.Query()
	for _, k := range relayQuery {
		if v, ok := in[k]; ok {
			q[k] = v[:1]
		}
	}
	target := (&url.URL{Path: r.URL.Path, RawQuery: q.Encode()}).RequestURI()
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: relay\r\n", r.Method, target)
	for _, k := range relayRequestHeaders {
		if v := r.Header.Get(k); v != "" && !strings.ContainsAny(v, "\r\n") {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(body))
	b.Write(body)
	return b.Bytes(), 0
}

// handleRelayed is the Relay's handle: it serves a request forwarded from
// another node with the local transport handler, and returns the answer.
func (srv *Server) handleRelayed(ctx context.Context, req []byte) []byte {
	limit := srv.relayLimit()
	if len(req) > limit+8<<10 {
		return encodeAnswer(http.StatusRequestEntityTooLarge, nil, nil)
	}
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(req)))
	if err != nil {
		return encodeAnswer(http.StatusBadRequest, nil, nil)
	}
	r = r.WithContext(context.WithValue(ctx, relayed{}, true))
	r.RemoteAddr = "relay"
	// Only what forward sends: a request for an existing connection, never
	// a handshake (which opens one) or an SSE stream (which lasts).
	var h http.Handler
	path := strings.TrimSuffix(r.URL.Path, "/")
	for _, rt := range srv.handlers {
		if rt.name != "websocket" && strings.HasSuffix(path, rt.suffix) {
			h = rt.h
			if rt.name == "sse" && r.Method == http.MethodGet {
				h = nil
			}
			break
		}
	}
	if h == nil || r.URL.Query().Get("id") == "" {
		return encodeAnswer(http.StatusNotFound, nil, nil)
	}
	rw := &answerWriter{header: http.Header{}, limit: limit}
	h.ServeHTTP(rw, r)
	if rw.over {
		return encodeAnswer(http.StatusBadGateway, nil, nil)
	}
	return encodeAnswer(rw.status(), rw.header, rw.body.Bytes())
}

// encodeAnswer returns an answer as HTTP/1.1 wire bytes.
func encodeAnswer(status int, h http.Header, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %03d %s\r\n", status, http.StatusText(status))
	for _, k := range relayAnswerHeaders {
		if v := h.Get(k); v != "" && !strings.ContainsAny(v, "\r\n") {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	if bodyAllowed(status) {
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(body))
		b.Write(body)
	} else {
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// answerWriter is the http.ResponseWriter of a relayed request: it keeps
// the answer in memory, up to limit bytes of body.
type answerWriter struct {
	header http.Header
	code   int
	body   bytes.Buffer
	limit  int
	over   bool
}

// errAnswerTooLarge is a relayed request's answer over the limit.
var errAnswerTooLarge = errors.New("server: relayed answer too large")

func (a *answerWriter) Header() http.Header { return a.header }

func (a *answerWriter) WriteHeader(code int) {
	if a.code == 0 {
		a.code = code
	}
}

func (a *answerWriter) Write(p []byte) (int, error) {
	a.WriteHeader(http.StatusOK)
	if a.over || a.body.Len()+len(p) > a.limit {
		a.over = true
		return 0, errAnswerTooLarge
	}
	return a.body.Write(p)
}

func (a *answerWriter) status() int {
	if a.code == 0 {
		return http.StatusOK
	}
	return a.code
}
