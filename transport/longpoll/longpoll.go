// Package longpoll is the long-polling transport of PROTOCOL.md section
// 7.3, the one that passes wherever plain HTTP requests do: messages come
// down in the answers to GETs that the server holds until it has something
// to send, and go up as batched POSTs.
//
// [Transport] dials it; [NewHandler] serves it. Both sides implement
// transport.Conn with its concurrency contract.
package longpoll

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/realtimekit/realtime/internal/batch"
	"github.com/realtimekit/realtime/internal/httpconn"
	"github.com/realtimekit/realtime/internal/redact"
	"github.com/realtimekit/realtime/internal/redirect"
	"github.com/realtimekit/realtime/transport"
)

// Path is what the transport appends to the base URL.
const Path = "/poll"

// BatchHeader is the response header that numbers a poll's batch.
const BatchHeader = "X-Realtime-Batch"

const name = "longpoll"

// maxID bounds the connection id a client accepts: a proxy's page in
// place of the id must not be taken for one.
const maxID = 256

// Transport dials long-polling connections. The zero value is ready to use.
type Transport struct{}

var _ transport.Transport = Transport{}

// Name returns "longpoll".
func (Transport) Name() string { return name }

// Dial opens a connection with a POST and returns once the server has
// answered it with the connection's id; the server's first message arrives
// later, through the first poll. A status other than 200 is a
// *transport.HandshakeError, and so is a 200 whose body is not an id.
//
// One goroutine owned by the Conn polls, one poll at a time, and feeds
// Recv; a poll that fails (the server gone, an answer that is not a batch,
// a message over cfg.Limit()) ends the connection, since a lost answer
// cannot be told from a dead server. Polls are not retried: reconnecting
// is the session's job. The wait for an answer is bounded by the server
// (PollTimeout) and, if the server is silent, by the caller closing the
// Conn after its heartbeat deadline.
//
// Send queues messages for a second goroutine, which POSTs them one batch
// at a time; a nil error from Send means the message was queued, and a
// failed POST breaks the connection, which the next Send or Recv reports.
// A POST that fails with no answer on a reused keep-alive connection is
// first sent once more (PROTOCOL.md 7.5; the server takes it once).
// Redirects follow cfg.AllowedRedirectHosts. Send blocks while the queue is full (1024 messages or 1 MiB). Close
// POSTs what is still queued (giving it 1 s) and then DELETEs the
// connection (giving it 1 s).
//
// No error of the Conn or of Dial carries the base URL's query or
// userinfo, the connection id or a header value.
func (Transport) Dial(ctx context.Context, baseURL string, cfg transport.Config) (transport.Conn, error) {
	red := redact.New(baseURL, cfg.Header)
	c, err := dial(ctx, baseURL, cfg, red)
	return c, red.Err(err)
}

func dial(ctx context.Context, baseURL string, cfg transport.Config, red *redact.Redactor) (transport.Conn, error) {
	codec := cfg.Codec
	if codec == "" {
		codec = "json"
	}
	u, err := httpconn.Endpoint(name, baseURL, Path, url.Values{"v": {"1"}, "codec": {codec}})
	if err != nil {
		return nil, err
	}
	hc := redirect.Client(cfg)
	id, err := open(ctx, u, hc, cfg.Header)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("longpoll: dial: %w", ctx.Err())
		}
		return nil, err
	}
	connURL, err := httpconn.Endpoint(name, baseURL, Path, url.Values{"id": {id}})
	if err != nil {
		return nil, err
	}
	c := httpconn.NewConn(ctx, httpconn.Config{Name: name, Client: hc, Header: cfg.Header, URL: connURL,
		Redact: red.With(id)})
	p := &poller{c: c, client: hc, header: cfg.Header.Clone(), url: connURL + "&ack=", limit: cfg.Limit()}
	c.Go(p.run)
	return c, nil
}

// open POSTs the handshake and returns the connection id.
func open(ctx context.Context, u string, hc *http.Client, header http.Header) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, http.NoBody)
	if err != nil {
		return "", fmt.Errorf("longpoll: dial: %w", err)
	}
	httpconn.SetHeader(req, header)
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("longpoll: dial: %w", err)
	}
	defer httpconn.DrainClose(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", &transport.HandshakeError{Transport: name, StatusCode: resp.StatusCode, RetryAfter: transport.RetryAfter(resp.Header)}
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxID+1))
	if err != nil {
		return "", fmt.Errorf("longpoll: dial: reading the connection id: %w", err)
	}
	id := strings.TrimSpace(string(b))
	if !validID(id) {
		return "", &transport.HandshakeError{Transport: name, StatusCode: resp.StatusCode,
			Err: errors.New("the answer is not a connection id")}
	}
	return id, nil
}

// validID accepts what the protocol promises: a URL-safe token.
func validID(id string) bool {
	if id == "" || len(id) > maxID {
		return false
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// poller is the goroutine that polls and feeds Recv.
type poller struct {
	c      *httpconn.Conn
	client *http.Client
	header http.Header
	url    string // ends in "ack="
	limit  int64
}

func (p *poller) run() {
	var ack uint64
	for {
		n, err := p.poll(ack)
		if err != nil {
			p.c.Fail(err)
			return
		}
		ack = n
	}
}

// errEnded stops the poller when the connection ended under it.
var errEnded = errors.New("longpoll: connection ended")

// poll makes one poll, acknowledging batch ack, delivers the messages of
// its answer, and returns the number of the batch it received (ack again
// if the poll was replaced).
func (p *poller) poll(ack uint64) (uint64, error) {
	req, err := http.NewRequestWithContext(p.c.Context(), http.MethodGet, p.url+strconv.FormatUint(ack, 10), nil)
	if err != nil {
		return 0, fmt.Errorf("longpoll: poll: %w", err)
	}
	httpconn.SetHeader(req, p.header)
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("longpoll: poll: %w", err)
	}
	defer httpconn.DrainClose(resp.Body)
	if resp.StatusCode == http.StatusNoContent {
		return ack, nil // another poll took our place; ours is the next
	}
	if resp.StatusCode != http.StatusOK {
		return 0, httpconn.StatusErr(name, "poll", resp.StatusCode)
	}
	h := resp.Header.Get(BatchHeader)
	if n, err := strconv.ParseUint(h, 10, 64); err != nil || n != ack+1 {
		return 0, fmt.Errorf("longpoll: poll after batch %d answered with %s %q", ack, BatchHeader, h)
	}
	r := batch.NewReader(resp.Body, p.limit)
	for {
		msg, err := r.Next()
		switch {
		case err == io.EOF:
			return ack + 1, nil
		case errors.Is(err, transport.ErrTooLarge):
			return 0, err
		case errors.Is(err, batch.ErrMalformed):
			return 0, fmt.Errorf("longpoll: the poll's answer is not a batch: %w", err)
		case err != nil:
			return 0, fmt.Errorf("longpoll: poll: %w", err)
		}
		if !p.c.Deliver(msg) {
			return 0, errEnded
		}
	}
}
