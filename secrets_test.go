package realtime_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/reconnect"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/longpoll"
	"github.com/realtimekit/realtime/transport/sse"
	"github.com/realtimekit/realtime/transport/websocket"
)

// failingTransport records the connection ids the client's requests name
// and, once switched on, fails every request before it leaves, the way a
// network that went away does: net/http wraps the failure in a *url.Error
// that prints the whole URL.
type failingTransport struct {
	base http.RoundTripper
	fail atomic.Bool
	mu   sync.Mutex
	ids  []string
}

var errInjected = errors.New("injected network failure")

func (f *failingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if id := r.URL.Query().Get("id"); id != "" {
		f.mu.Lock()
		f.ids = append(f.ids, id)
		f.mu.Unlock()
	}
	if f.fail.Load() {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, errInjected
	}
	return f.base.RoundTrip(r)
}

func (f *failingTransport) seenIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ids...)
}

// syncBuffer is a log sink safe for the client's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var secretTransports = []transport.Transport{websocket.Transport{}, sse.Transport{}, longpoll.Transport{}}

// secretOptions are client options carrying a secret in every place one
// can travel: the base URL's query (added by the caller), a header, and a
// token.
func secretOptions(tr transport.Transport, ft *failingTransport, logs *syncBuffer) *realtime.Options {
	return &realtime.Options{
		Transports: []transport.Transport{tr},
		HTTPClient: &http.Client{Transport: ft},
		Header:     http.Header{"X-Api-Key": {"SECRET-header-value"}},
		Token:      func(context.Context) (string, error) { return "SECRET-bearer-token", nil },
		Logger:     slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Reconnect:  reconnect.Policy{BaseDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond},
	}
}

func requireClean(t *testing.T, what, text string, ids []string) {
	t.Helper()
	for _, s := range append([]string{"SECRET", "token="}, ids...) {
		require.NotContains(t, text, s, "%s carries a secret or a connection id", what)
	}
}

// TestSecretsStayOutOfErrorsAndLogs: a client that loses its connection
// and then fails to reconnect, on every transport, reports the failures in
// Connect's error, Err(), StateChange.Err and its logs without the base
// URL's query, a header value, the token or the connection id.
func TestSecretsStayOutOfErrorsAndLogs(t *testing.T) {
	for _, tr := range secretTransports {
		t.Run(tr.Name(), func(t *testing.T) {
			srv := newServer(t, nil)
			ft := &failingTransport{base: http.DefaultTransport.(*http.Transport).Clone()}
			t.Cleanup(ft.base.(*http.Transport).CloseIdleConnections)
			logs := &syncBuffer{}
			rec := newRecorder()
			opts := secretOptions(tr, ft, logs)
			opts.OnStateChange = rec.change
			c, err := realtime.New(srv.URL()+"/rt?token=SECRET-query-token", opts)
			require.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			ctx := testCtx(t, 20*time.Second)
			require.NoError(t, c.Connect(ctx))
			require.NoError(t, c.Publish(ctx, "news", []byte("x")))

			ft.fail.Store(true)
			srv.DropConnections()
			// Two failed reconnects: the loss and an attempt are reported.
			err = rec.wait(ctx, func() bool {
				n := 0
				for _, ch := range rec.changes {
					if ch.Err != nil {
						n++
					}
				}
				return n >= 3
			})
			require.NoError(t, err, "changes: %v", rec.snapshot())

			short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			connectErr := c.Connect(short)
			require.Error(t, connectErr)
			ids := ft.seenIDs()
			if tr.Name() != "websocket" {
				require.NotEmpty(t, ids, "the client's requests named no connection id")
			}
			requireClean(t, "Connect's error", connectErr.Error(), ids)
			require.Error(t, c.Err())
			requireClean(t, "Err()", c.Err().Error(), ids)
			for _, s := range rec.snapshot() {
				requireClean(t, "StateChange", s, ids)
			}
			require.NoError(t, c.Close())
			requireClean(t, "the logs", logs.String(), ids)
			require.Contains(t, logs.String(), errInjected.Error(), "the logs do not report the failure at all")
		})
	}
}

// TestSecretsStayOutOfHandshakeErrors: a server that refuses every
// handshake, and one that cannot be reached, on every transport.
func TestSecretsStayOutOfHandshakeErrors(t *testing.T) {
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	t.Cleanup(refusing.Close)
	for _, tr := range secretTransports {
		for _, fail := range []bool{false, true} {
			t.Run(tr.Name(), func(t *testing.T) {
				ft := &failingTransport{base: http.DefaultTransport.(*http.Transport).Clone()}
				t.Cleanup(ft.base.(*http.Transport).CloseIdleConnections)
				ft.fail.Store(fail)
				logs := &syncBuffer{}
				rec := newRecorder()
				opts := secretOptions(tr, ft, logs)
				opts.OnStateChange = rec.change
				c, err := realtime.New(refusing.URL+"/rt?token=SECRET-query-token", opts)
				require.NoError(t, err)
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				defer cancel()
				err = c.Connect(ctx)
				require.Error(t, err)
				requireClean(t, "Connect's error", err.Error(), nil)
				if c.Err() != nil {
					requireClean(t, "Err()", c.Err().Error(), nil)
				}
				require.NoError(t, c.Close())
				for _, s := range rec.snapshot() {
					requireClean(t, "StateChange", s, nil)
				}
				requireClean(t, "the logs", logs.String(), nil)
				if fail {
					require.True(t, strings.Contains(err.Error(), errInjected.Error()), "Connect's error lost its cause: %v", err)
				}
			})
		}
	}
}
