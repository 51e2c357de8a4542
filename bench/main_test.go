package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"testing"

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

// serveMock prints the server's URL and serves until stdin closes, which
// happens when the parent exits for any reason, so no server outlives it.
func serveMock() {
	srv := mock.NewServer(&mock.Options{MaxReceived: 1})
	fmt.Println(srv.URL())
	_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	srv.Close()
	os.Exit(0)
}
