package main

import (
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/internal/leakcheck"
	"github.com/realtimekit/realtime/mock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

// The first program, run against the mock, prints the message it published
// and returns.
func Example() {
	srv := mock.NewServer(nil)
	defer srv.Close()
	if err := run(srv.URL()); err != nil {
		panic(err)
	}
	// Output: chat: hello
}

// README.md shows this program word for word, so it cannot rot there.
func TestREADMEShowsThisProgram(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```go\n"+string(src)+"```\n") {
		t.Fatal("README.md's first program is not examples/hello/main.go word for word")
	}
}

// A server that does not answer ends the program with an error in bounded
// time, instead of a silent retry for ever.
func TestUnreachableServerEnds(t *testing.T) {
	if err := run("http://127.0.0.1:1"); err == nil {
		t.Fatal("run against nothing returned nil")
	}
}
