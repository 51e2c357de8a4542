package httpconn

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/internal/batch"
	"github.com/realtimekit/realtime/internal/leakcheck"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

// poster records the batches POSTed to it; gate, if set, is received from
// before each POST is answered.
type poster struct {
	mu      sync.Mutex
	batches [][]string
	posted  chan struct{} // one value per POST received
	gate    chan struct{}
	status  int
}

func (p *poster) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	msgs, _ := batch.Split(body, 0)
	var s []string
	for _, m := range msgs {
		s = append(s, string(m))
	}
	p.mu.Lock()
	p.batches = append(p.batches, s)
	p.mu.Unlock()
	if p.posted != nil {
		p.posted <- struct{}{}
	}
	if p.gate != nil {
		select {
		case <-p.gate:
		case <-r.Context().Done():
		}
	}
	if p.status != 0 {
		w.WriteHeader(p.status)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func newSender(t *testing.T, p *poster, cfg SenderConfig) *Sender {
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	cfg.Name, cfg.Client, cfg.URL = "test", srv.Client(), srv.URL
	return NewSender(t.Context(), cfg)
}

func TestSenderBoundsAndBatches(t *testing.T) {
	p := &poster{posted: make(chan struct{}, 8), gate: make(chan struct{})}
	s := newSender(t, p, SenderConfig{MaxCount: 2, MaxBytes: 10})
	ctx := t.Context()
	if err := s.Send(ctx, []byte("first")); err != nil {
		t.Fatal(err)
	}
	<-p.posted // in flight: what follows queues
	for _, m := range []string{"a", "b"} {
		if err := s.Send(ctx, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := s.Send(short, []byte("c")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send to a full queue = %v, want it to wait for ctx", err)
	}
	close(p.gate)
	if err := s.Send(ctx, []byte("c")); err != nil { // waits for the queue to be taken
		t.Fatal(err)
	}
	// Over MaxBytes, but alone in the queue once it is taken.
	if err := s.Send(ctx, []byte("a long message")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(time.Second); err != nil {
		t.Fatalf("Close = %v, want the queue flushed", err)
	}
	var all []string
	for _, b := range p.batches {
		all = append(all, strings.Join(b, ","))
	}
	got := strings.Join(all, " | ")
	if !strings.HasPrefix(got, "first | a,b | c") || !strings.HasSuffix(got, "a long message") {
		t.Fatalf("batches %q", got)
	}
}

func TestSenderPostFails(t *testing.T) {
	p := &poster{status: http.StatusInternalServerError}
	errs := make(chan error, 2)
	s := newSender(t, p, SenderConfig{OnError: func(err error) { errs <- err }})
	if err := s.Send(t.Context(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	err := <-errs
	if !strings.Contains(err.Error(), "HTTP 500") {
		t.Fatalf("OnError(%v)", err)
	}
	if err := s.Send(t.Context(), []byte("y")); !strings.Contains(err.Error(), "HTTP 500") {
		t.Fatalf("Send after the failure = %v", err)
	}
	if err := s.Close(time.Second); err == nil {
		t.Fatal("Close of a failed Sender returned nil")
	}
	if len(errs) != 0 {
		t.Fatal("OnError called twice")
	}
}

func TestSenderCloseTimeout(t *testing.T) {
	p := &poster{gate: make(chan struct{})} // never answers
	s := newSender(t, p, SenderConfig{})
	if err := s.Send(t.Context(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(20 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "not sent") {
		t.Fatalf("Close = %v, want a timeout", err)
	}
}

// Close wakes a Send that waits for room at once, without waiting for the
// POST in flight.
func TestSenderCloseUnblocksSend(t *testing.T) {
	p := &poster{posted: make(chan struct{}, 1), gate: make(chan struct{})} // never answers
	s := newSender(t, p, SenderConfig{MaxCount: 1})
	ctx := t.Context()
	for _, m := range []string{"in flight", "queued"} {
		if err := s.Send(ctx, []byte(m)); err != nil {
			t.Fatal(err)
		}
		if m == "in flight" {
			<-p.posted
		}
	}
	blocked := make(chan error, 1)
	go func() { blocked <- s.Send(ctx, []byte("waits")) }()
	closed := make(chan error, 1)
	go func() { closed <- s.Close(time.Minute) }()
	select {
	case err := <-blocked:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("pending Send = %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake the pending Send")
	}
	close(p.gate)
	if err := <-closed; err != nil {
		t.Fatalf("Close = %v, want the queue flushed", err)
	}
}

func TestSenderAbort(t *testing.T) {
	s := newSender(t, &poster{}, SenderConfig{})
	boom := errors.New("boom")
	s.Abort(boom)
	if err := s.Send(t.Context(), []byte("x")); err != boom {
		t.Fatalf("Send after Abort = %v", err)
	}
	if err := s.Close(time.Second); err != boom {
		t.Fatalf("Close after Abort = %v", err)
	}
}

// Two POSTs at once are delivered one after the other, never mixed.
func TestInboxDoesNotInterleave(t *testing.T) {
	done := make(chan struct{})
	defer close(done)
	in := NewInbox(done)
	ctx := t.Context()
	errs := make(chan error, 2)
	for _, body := range []string{"1:a1:b1:c", "1:x1:y1:z"} {
		go func() { errs <- in.Fill(ctx, strings.NewReader(body), 0) }()
	}
	var got string
	for range 6 {
		got += string(<-in.C())
	}
	if got != "abcxyz" && got != "xyzabc" {
		t.Fatalf("delivered %q", got)
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestInboxEnds(t *testing.T) {
	done := make(chan struct{})
	in := NewInbox(done)
	close(done)
	if err := in.Fill(t.Context(), strings.NewReader("1:a"), 0); !errors.Is(err, errDone) {
		t.Fatalf("Fill after the end = %v", err)
	}
}

func TestEndpoint(t *testing.T) {
	for _, tc := range []struct{ base, want string }{
		{"http://h", "http://h/p?id=1"},
		{"http://h/", "http://h/p?id=1"},
		{"https://h/rt", "https://h/rt/p?id=1"},
		{"ws://h/rt/?a=b#frag", "http://h/rt/p?a=b&id=1"},
		{"wss://h", "https://h/p?id=1"},
	} {
		got, err := Endpoint("t", tc.base, "/p", url.Values{"id": {"1"}})
		if err != nil || got != tc.want {
			t.Errorf("Endpoint(%q) = %q, %v; want %q", tc.base, got, err, tc.want)
		}
	}
	for _, bad := range []string{"ftp://h", "::", "h/rt"} {
		if _, err := Endpoint("t", bad, "/p", nil); err == nil {
			t.Errorf("Endpoint(%q) succeeded", bad)
		}
	}
}
