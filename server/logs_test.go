package server_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/server"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/websocket"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Tokens, query strings, session ids and resume tokens stay out of the
// log, even at debug level and through refusals.
func TestSecretsNotLogged(t *testing.T) {
	var logs lockedBuffer
	const secret = "Bearer-secret-0123456789"
	srv, url := start(t, server.Config{
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Authenticate: func(r *http.Request) (server.Identity, error) {
			if r.Header.Get("Authorization") != "Bearer "+secret {
				return server.Identity{}, errAuth
			}
			return server.Identity{ID: "ann"}, nil
		},
	})
	conn, err := websocket.Transport{}.Dial(ctxWait(t), url+"/?q="+secret, transport.Config{
		Header: http.Header{"Authorization": {"Bearer " + secret}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, conn: conn, cd: codec.JSON{}}
	h := c.connect("", "", 0)
	c.send(pub(1, "c", "x"))
	c.ack(1)
	_ = conn.Close()
	_, _ = websocket.Transport{}.Dial(ctxWait(t), url, transport.Config{
		Header: http.Header{"Authorization": {"Bearer wrong-" + secret}},
	})
	closeServer(t, srv)
	out := logs.String()
	if !strings.Contains(out, "connection open") {
		t.Fatalf("no debug log to check:\n%s", out)
	}
	for name, s := range map[string]string{"token": secret, "session id": h.Session, "resume token": h.Token} {
		if strings.Contains(out, s) {
			t.Errorf("the %s appears in the log:\n%s", name, out)
		}
	}
}

var errAuth = errors.New("unauthenticated")

// closeServer closes srv now, so that its last records are written.
func closeServer(t *testing.T, srv *server.Server) {
	t.Helper()
	if err := srv.Close(ctxWait(t)); err != nil {
		t.Fatal(err)
	}
}
