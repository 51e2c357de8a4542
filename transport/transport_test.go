package transport_test

import (
	"errors"
	"net/http"
	"testing"

	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestHandshakeErrorClassification(t *testing.T) {
	for code, want := range map[int][2]bool{ // {Refused, Unauthorized}
		400: {true, false}, 401: {false, true}, 403: {true, false}, 404: {true, false},
		405: {true, false}, 426: {true, false}, 501: {true, false}, 502: {true, false},
		500: {false, false}, 503: {false, false}, 200: {false, false},
	} {
		e := &transport.HandshakeError{Transport: "websocket", StatusCode: code}
		if e.Refused() != want[0] || e.Unauthorized() != want[1] {
			t.Errorf("%d: Refused %v Unauthorized %v, want %v", code, e.Refused(), e.Unauthorized(), want)
		}
	}
}

func TestTooLargeErrorMatchesSentinel(t *testing.T) {
	var err error = &transport.TooLargeError{Limit: 10}
	if !errors.Is(err, transport.ErrTooLarge) {
		t.Fatal("errors.Is(TooLargeError, ErrTooLarge) is false")
	}
}

func TestConfigDefaults(t *testing.T) {
	var c transport.Config
	if c.Limit() != transport.DefaultReadLimit || c.Client() != http.DefaultClient {
		t.Fatal("zero Config does not take the defaults")
	}
}
