package mock

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"time"
)

// serveHTTP applies the HTTP-level switches, which act as a proxy in front
// of the server would, then hands the request to the core.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	s.mu.Lock()
	buffer := s.sw.bufferSSE && r.Method == http.MethodGet && strings.HasSuffix(path, "/sse")
	delay := s.sw.slowPoll
	s.mu.Unlock()
	if delay <= 0 || !strings.HasSuffix(path, "/poll") {
		delay = 0
	}
	if !buffer && delay == 0 {
		s.core.ServeHTTP(w, r)
		return
	}

	// Held responses are written by this goroutine once the core is done.
	bw := &bufferedWriter{w: w, header: make(http.Header), passHeaders: buffer}
	s.core.ServeHTTP(bw, r)
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		}
	}
	bw.release()
}

// maxBuffered bounds what a held response may accumulate; beyond it the
// writes fail, which ends the stream.
const maxBuffered = 8 << 20

var errBufferFull = errors.New("mock: held response too large")

// bufferedWriter holds a response body until release, and with it the
// header unless passHeaders is set, in which case the header goes out (and
// is flushed) at once, as a buffering proxy sends it. Flush does nothing:
// no flush reaches the client. It deliberately has no Unwrap, so that
// http.ResponseController cannot reach around it.
type bufferedWriter struct {
	w           http.ResponseWriter
	header      http.Header
	passHeaders bool
	status      int
	headerSent  bool
	body        bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }

func (b *bufferedWriter) WriteHeader(status int) {
	if b.status != 0 || status < 200 {
		return
	}
	b.status = status
	if b.passHeaders {
		b.sendHeader()
		_ = http.NewResponseController(b.w).Flush()
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	if b.body.Len()+len(p) > maxBuffered {
		return 0, errBufferFull
	}
	return b.body.Write(p)
}

// Flush implements http.Flusher by doing nothing.
func (b *bufferedWriter) Flush() {}

func (b *bufferedWriter) sendHeader() {
	b.headerSent = true
	dst := b.w.Header()
	for k, v := range b.header {
		dst[k] = v
	}
	b.w.WriteHeader(b.status)
}

// release writes what was held.
func (b *bufferedWriter) release() {
	if !b.headerSent {
		if b.status == 0 {
			b.status = http.StatusOK
		}
		b.sendHeader()
	}
	if b.body.Len() > 0 {
		_, _ = b.w.Write(b.body.Bytes())
	}
}
