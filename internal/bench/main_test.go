package bench

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/realtimekit/realtime/mock"
	"go.uber.org/goleak"
)

// serveEnv makes the test binary a bare mock server: the footprint
// benchmark runs the server in a child process so that the parent's
// memory and goroutines are the clients' alone.
const serveEnv = "REALTIME_BENCH_SERVE_MOCK"

func TestMain(m *testing.M) {
	if os.Getenv(serveEnv) == "1" {
		serveMock()
		return
	}
	goleak.VerifyTestMain(m)
}

// rawIdleMux serves the endpoints of the raw idle clients.
func rawIdleMux() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/ws", WSEcho())
	mux.Handle("/sse", SSE(nil))                       // holds the stream open, sends nothing
	mux.Handle("/poll", LongPoll(nil, 25*time.Second)) // holds each poll
	mux.Handle("/post", Sink())
	return mux
}

// serveMock prints the mock server's URL, then that of the raw endpoints
// the footprint baselines use, and serves until stdin closes, which
// happens when the parent exits for any reason, so no server outlives it.
func serveMock() {
	srv := mock.NewServer(&mock.Options{MaxReceived: 1})
	raw, err := Serve(rawIdleMux())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(srv.URL())
	fmt.Println(raw.URL)
	_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	raw.Close()
	srv.Close()
	os.Exit(0)
}
