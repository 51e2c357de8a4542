package httpconn

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"time"

	"github.com/realtimekit/realtime/internal/batch"
	"github.com/realtimekit/realtime/internal/redact"
	"github.com/realtimekit/realtime/transport"
)

// Default bounds of a Sender's queue.
const (
	DefaultMaxBytes = 1 << 20
	DefaultMaxCount = 1024
)

// SenderConfig configures a Sender. Its zero value is not usable: URL must
// be set.
type SenderConfig struct {
	// Name prefixes error messages: the transport's name.
	Name string
	// Client makes the POSTs; nil means http.DefaultClient.
	Client *http.Client
	// URL is where every batch is POSTed.
	URL string
	// Header is added to every POST; nil means none.
	Header http.Header
	// MaxBytes bounds the queued body in bytes; zero means DefaultMaxBytes.
	// A message larger than MaxBytes is still taken when the queue is
	// empty, so every message can be sent.
	MaxBytes int
	// MaxCount bounds the queued messages; zero means DefaultMaxCount.
	MaxCount int
	// Redact removes secrets from the errors of failed POSTs; nil still
	// strips URL queries.
	Redact *redact.Redactor
	// OnError, if set, is called once, on the sender's goroutine, with the
	// error of the first POST that fails. The sender stops after it.
	OnError func(error)
}

// Sender queues messages and POSTs them as batch bodies from one goroutine
// it owns, so that at most one POST is in flight (which keeps the
// messages in order) and whatever is queued while a POST is in flight goes
// in the next one (which is what makes the HTTP transports' throughput
// tolerable). The goroutine runs only while there is something to POST:
// an idle connection pays for no stack here.
//
// Each POST carries its number in PostHeader. A POST that fails before any
// answer on a reused keep-alive connection (one a proxy or the server
// closed while it sat idle: EOF, connection reset) is sent once more,
// under the same number, on another connection; the server takes each
// number once. A second failure, or a first one on a fresh connection,
// ends the Sender as before.
type Sender struct {
	cfg    SenderConfig
	ctx    context.Context
	cancel context.CancelFunc
	// postCtx is ctx with a trace that records in reused whether a POST's
	// connection was reused: one POST is in flight at a time, so one
	// trace serves them all.
	postCtx context.Context
	reused  atomic.Bool

	mu      sync.Mutex
	body    []byte // the next POST's body
	count   int    // messages in body
	hint    int    // capacity of the last body, to size the next one
	posts   uint64 // the number of the last POST, touched by run only
	closing bool
	running bool // the goroutine is POSTing what is queued
	drained bool // everything was POSTed before Close returned
	err     error

	space chan struct{} // cap 1: the queue was taken
	// ended is closed when err is set or Close is called, whichever comes
	// first: a blocked Send looks again and returns. One channel for both
	// is one allocation less for every idle connection.
	ended   chan struct{}
	isEnded bool           // ended is closed; guarded by mu
	wg      sync.WaitGroup // the goroutine, while running
}

// NewSender starts a Sender. Its POSTs carry ctx's values but not its
// cancellation: the Sender lives until Close or Abort.
func NewSender(ctx context.Context, cfg SenderConfig) *Sender {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.MaxCount <= 0 {
		cfg.MaxCount = DefaultMaxCount
	}
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	s := &Sender{
		cfg:   cfg,
		space: make(chan struct{}, 1),
		ended: make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.postCtx = httptrace.WithClientTrace(s.ctx, &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { s.reused.Store(i.Reused) },
	})
	return s
}

// Send copies msg into the queue. It blocks while the queue is full, until
// ctx ends or the Sender stops. It returns the error that stopped the
// Sender, if any: a failed POST reaches the caller on its next Send.
// Send must not be called concurrently with itself.
func (s *Sender) Send(ctx context.Context, msg []byte) error {
	need := batch.Size(len(msg))
	for {
		s.mu.Lock()
		if s.err != nil {
			err := s.err
			s.mu.Unlock()
			return err
		}
		if s.closing {
			s.mu.Unlock()
			return fmt.Errorf("%s: send: %w", s.cfg.Name, net.ErrClosed)
		}
		if s.count == 0 || (s.count < s.cfg.MaxCount && len(s.body)+need <= s.cfg.MaxBytes) {
			if s.body == nil {
				s.body = make([]byte, 0, max(need, min(s.hint, s.cfg.MaxBytes)))
			}
			s.body = batch.Append(s.body, msg)
			s.count++
			if !s.running {
				s.running = true
				s.wg.Add(1)
				go s.run()
			}
			s.mu.Unlock()
			return nil
		}
		s.mu.Unlock()
		select {
		case <-s.space:
		case <-s.ended:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Abort stops the Sender at once: an in-flight POST is cancelled, queued
// messages are dropped, and Send returns err from now on. It does not wait
// for the goroutine (Close does), and does not call OnError.
func (s *Sender) Abort(err error) {
	s.mu.Lock()
	first := s.err == nil
	if first {
		s.err = err
		s.endLocked()
	}
	s.mu.Unlock()
	s.cancel()
}

// Close stops taking messages, gives the queued ones up to timeout to be
// POSTed, then aborts what is left and waits for the goroutine. It returns
// nil when everything queued was POSTed, else the error that stopped the
// Sender. Close must be called once.
func (s *Sender) Close(timeout time.Duration) error {
	s.mu.Lock()
	s.closing = true
	if !s.running { // nothing queued: Send starts the goroutine for any
		s.drained = s.err == nil
	}
	s.endLocked()
	s.mu.Unlock()
	t := time.AfterFunc(timeout, func() {
		s.Abort(fmt.Errorf("%s: close: queued messages not sent within %v", s.cfg.Name, timeout))
	})
	s.wg.Wait()
	t.Stop()
	s.cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.drained {
		return nil
	}
	return s.err
}

// endLocked closes ended, once. s.mu is held.
func (s *Sender) endLocked() {
	if !s.isEnded {
		s.isEnded = true
		close(s.ended)
	}
}

// run POSTs what is queued until the queue is empty, then ends; Send
// starts it again. It stops for good at the first failed POST.
func (s *Sender) run() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		body := s.body
		s.body, s.count = nil, 0
		s.hint = max(s.hint/2, cap(body))
		if len(body) == 0 || s.err != nil {
			s.running = false
			if s.closing {
				s.drained = s.err == nil
			}
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		signal(s.space)
		// The body is not reused after the POST: net/http may still read a
		// request body after Do returns (an early response).
		s.posts++
		if err := s.cfg.Redact.Err(s.post(body, s.posts)); err != nil {
			if s.ctx.Err() != nil {
				return // aborted: the error that did it is already set
			}
			s.Abort(err)
			if s.cfg.OnError != nil {
				s.cfg.OnError(err)
			}
			return
		}
	}
}

// StatusErr returns nil for a 2xx status and otherwise the error that
// ends an HTTP transport's connection: 404 says the server no longer knows
// it, 413 wraps transport.ErrTooLarge.
func StatusErr(name, op string, code int) error {
	switch {
	case code >= 200 && code < 300:
		return nil
	case code == http.StatusNotFound:
		return fmt.Errorf("%s: %s: the server does not know the connection (HTTP 404)", name, op)
	case code == http.StatusRequestEntityTooLarge:
		return fmt.Errorf("%s: %s: HTTP 413: %w", name, op, transport.ErrTooLarge)
	}
	return fmt.Errorf("%s: %s: HTTP %d %s", name, op, code, http.StatusText(code))
}

// DrainClose reads a little of a response body before closing it, so the
// HTTP connection can be reused, without reading a large one to its end.
func DrainClose(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 4<<10))
	_ = body.Close()
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
