// Package sse is the Server-Sent Events transport of PROTOCOL.md section
// 7.2: messages come down as the events of one text/event-stream GET and go
// up as batched POSTs.
//
// [Transport] dials it; [NewHandler] serves it. Both sides implement
// transport.Conn with its concurrency contract. Text messages cross as they
// are, split into data lines at LF; binary ones (codec=cbor) as standard
// base64. [Parser] is the event-stream parser both the client and tests
// use.
//
// The client does not reconnect the way EventSource does: a connection
// that ends is the session's to resume, over whichever transport works, so
// retry fields and Last-Event-ID play no part.
package sse

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"

	"github.com/realtimekit/realtime/internal/httpconn"
	"github.com/realtimekit/realtime/internal/redact"
	"github.com/realtimekit/realtime/internal/redirect"
	"github.com/realtimekit/realtime/transport"
)

// Path is what the transport appends to the base URL.
const Path = "/sse"

const name = "sse"

var errNoOpen = errors.New("the stream did not start with an open event")

// Transport dials SSE connections. The zero value is ready to use.
type Transport struct{}

var _ transport.Transport = Transport{}

// Name returns "sse".
func (Transport) Name() string { return name }

// Dial opens the event stream and returns once its open event has arrived.
// A proxy that holds events back therefore makes Dial wait until ctx ends,
// which is what lets the caller fall back to long polling. A status other
// than 200, or a 200 whose Content-Type is not text/event-stream (a proxy's
// HTML page), or a stream that ends before the open event, is a
// *transport.HandshakeError.
//
// Send queues messages for a goroutine the Conn owns, which POSTs them
// one batch at a time; a nil error from Send means the message was queued,
// and a failed POST breaks the connection, which the next Send or Recv
// reports. A POST that fails with no answer on a reused keep-alive
// connection is first sent once more (PROTOCOL.md 7.5; the server takes
// it once). Redirects follow cfg.AllowedRedirectHosts. Send blocks while the queue is full (1024 messages or 1 MiB).
// Close POSTs what is still queued (giving it 1 s) and then DELETEs the
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
	header := cfg.Header.Clone()
	u, err := httpconn.Endpoint(name, baseURL, Path, url.Values{"v": {"1"}, "codec": {codec}})
	if err != nil {
		return nil, err
	}
	streamCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	fail := func(err error) (transport.Conn, error) {
		stop()
		cancel()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("sse: dial: %w", ctx.Err())
		}
		return nil, err
	}
	req, err := http.NewRequestWithContext(streamCtx, http.MethodGet, u, nil)
	if err != nil {
		return fail(fmt.Errorf("sse: dial: %w", err))
	}
	httpconn.SetHeader(req, header)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	hc := redirect.Client(cfg)
	resp, err := hc.Do(req)
	if err != nil {
		return fail(fmt.Errorf("sse: dial: %w", err))
	}
	if resp.StatusCode != http.StatusOK {
		httpconn.DrainClose(resp.Body)
		return fail(&transport.HandshakeError{Transport: name, StatusCode: resp.StatusCode, RetryAfter: transport.RetryAfter(resp.Header)})
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		httpconn.DrainClose(resp.Body)
		return fail(&transport.HandshakeError{Transport: name, StatusCode: resp.StatusCode,
			Err: fmt.Errorf("Content-Type is %q, not text/event-stream", resp.Header.Get("Content-Type"))})
	}
	limit := cfg.Limit()
	enc := limit
	if cfg.Binary {
		enc = int64(base64.StdEncoding.EncodedLen(int(min(limit, math.MaxInt/2))))
	}
	p := NewParser(resp.Body, int(min(enc+int64(len("data: ")), math.MaxInt)))
	ev, err := p.Next()
	if err == nil && (ev.Type != "open" || ev.Data == "") {
		err = errNoOpen
	}
	if err != nil {
		resp.Body.Close()
		return fail(&transport.HandshakeError{Transport: name, StatusCode: resp.StatusCode,
			Err: fmt.Errorf("no open event: %w", err)})
	}
	if !stop() {
		resp.Body.Close()
		return fail(nil) // ctx ended as the open event came
	}
	connURL, err := httpconn.Endpoint(name, baseURL, Path, url.Values{"id": {ev.Data}})
	if err != nil {
		resp.Body.Close()
		return fail(err)
	}
	c := httpconn.NewConn(ctx, httpconn.Config{
		Name: name, Client: hc, Header: header, URL: connURL, Stop: cancel,
		Redact: red.With(ev.Data),
	})
	r := &reader{c: c, p: p, limit: limit, binary: cfg.Binary}
	c.Go(func() {
		defer resp.Body.Close()
		r.run()
	})
	return c, nil
}

// reader turns the events of the stream into messages for Recv.
type reader struct {
	c      *httpconn.Conn
	p      *Parser
	limit  int64
	binary bool
}

func (r *reader) run() {
	for {
		typ, data, err := r.p.next()
		if err != nil {
			r.c.Fail(r.streamErr(err))
			return
		}
		if len(typ) != 0 && string(typ) != "message" {
			continue
		}
		msg, err := r.decode(data)
		if err != nil {
			r.c.Fail(err)
			return
		}
		if !r.c.Deliver(msg) {
			return
		}
	}
}

func (r *reader) streamErr(err error) error {
	switch {
	case err == io.EOF:
		return fmt.Errorf("sse: the server ended the stream: %w", io.EOF)
	case errors.Is(err, transport.ErrTooLarge):
		return &transport.TooLargeError{Limit: r.limit}
	case errors.Is(err, ErrTruncated):
		return err
	}
	return fmt.Errorf("sse: reading the stream: %w", err)
}

// decode returns the message an event's data carries, in memory of its
// own (data is the parser's).
func (r *reader) decode(data []byte) ([]byte, error) {
	var msg []byte
	if r.binary {
		var err error
		if msg, err = base64.StdEncoding.AppendDecode(nil, data); err != nil {
			return nil, fmt.Errorf("sse: event data is not base64: %w", err)
		}
	} else {
		msg = bytes.Clone(data)
	}
	if int64(len(msg)) > r.limit {
		return nil, &transport.TooLargeError{Limit: r.limit}
	}
	return msg, nil
}
