package httpconn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/realtimekit/realtime/internal/batch"
	"github.com/realtimekit/realtime/transport"
)

// MaxAttempts is how many times a Sender sends one POST at most: once,
// and once more after a failure on a reused connection.
const MaxAttempts = 2

// post sends body as POST number n, resending it once if the first try
// failed before any answer on a reused connection.
func (s *Sender) post(body []byte, n uint64) error {
	var err error
	for range MaxAttempts {
		var again bool
		if again, err = s.try(body, n); !again {
			break
		}
	}
	return err
}

// try sends the POST once. It reports whether a failure may be retried.
func (s *Sender) try(body []byte, n uint64) (retry bool, err error) {
	s.reused.Store(false)
	req, err := http.NewRequestWithContext(s.postCtx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("%s: POST: %w", s.cfg.Name, err)
	}
	SetHeader(req, s.cfg.Header)
	req.Header.Set("Content-Type", batch.ContentType)
	req.Header.Set(PostHeader, strconv.FormatUint(n, 10))
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return s.reused.Load() && Retryable(err) && s.ctx.Err() == nil, fmt.Errorf("%s: POST: %w", s.cfg.Name, err)
	}
	DrainClose(resp.Body)
	return false, StatusErr(s.cfg.Name, "POST", resp.StatusCode)
}

// Retryable reports whether err, from a request that got no answer, may
// be a connection that died idle rather than a server that is not there:
// not a timeout (the server may be working on it), not a refused
// redirect, not the request's ctx.
func Retryable(err error) bool {
	var t interface{ Timeout() bool }
	switch {
	case errors.As(err, &t) && t.Timeout(),
		errors.Is(err, transport.ErrRedirect),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	}
	return true
}
