package main

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/internal/leakcheck"
	"github.com/realtimekit/realtime/mock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

// scaled stretches a time bound by REALTIME_TEST_TIMEOUT_SCALE, as the
// root package's tests do, for machines that run slower (qemu).
func scaled(d time.Duration) time.Duration {
	if f, err := strconv.ParseFloat(os.Getenv("REALTIME_TEST_TIMEOUT_SCALE"), 64); err == nil && f > 1 {
		return time.Duration(float64(d) * f)
	}
	return d
}

// testCtx bounds a test, sized for a cold, busy 2-core machine.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), scaled(30*time.Second))
	t.Cleanup(cancel)
	return ctx
}

// output is a buffer that lets a test wait for a line while run writes.
type output struct {
	mu     sync.Mutex
	b      bytes.Buffer
	change chan struct{}
}

func newOutput() *output { return &output{change: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	close(o.change)
	o.change = make(chan struct{})
	return o.b.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// wait blocks until the output contains s, or fails the test after a
// deadline.
func (o *output) wait(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(scaled(30 * time.Second))
	for {
		o.mu.Lock()
		has, change := strings.Contains(o.b.String(), s), o.change
		o.mu.Unlock()
		if has {
			return
		}
		select {
		case <-change:
		case <-deadline:
			t.Fatalf("output never contained %q:\n%s", s, o.String())
		}
	}
}

func runCLI(t *testing.T, stdin string, args ...string) (stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(testCtx(t), args, strings.NewReader(stdin), &out, &errOut); err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

// Each ack or refusal names the input line it answers, by number and by
// its start, bounded for a long line.
func TestPublishesStdinLinesAndPrintsAcks(t *testing.T) {
	srv := mock.NewServer(nil)
	defer srv.Close()
	srv.Nack(func(m mock.Message) (uint16, string) {
		if string(m.Data) == "forbidden" {
			return 4403, "not allowed"
		}
		return 0, ""
	})
	long := strings.Repeat("x", 30) + strings.Repeat("y", 1000)
	stdout, _ := runCLI(t, "one\ntwo\nforbidden\n\x1b[2J\n"+long+"\n", "-url", srv.URL(), "-pub", "chat")
	want := `ack line 1 "one"
ack line 2 "two"
refused line 3 "forbidden" (4403: not allowed)
ack line 4 "\x1b[2J"
ack line 5 "xxxxxxxxxxxxxxxxxxxx"... (1030 bytes)
`
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
	var got []string
	for _, m := range srv.Received() {
		if m.Channel != "chat" {
			t.Errorf("published on %q, want chat", m.Channel)
		}
		got = append(got, string(m.Data))
	}
	if strings.Join(got, ",") != "one,two,\x1b[2J,"+long {
		t.Errorf("server received %q, want one, two, the escape, the long line", got)
	}
}

// subscribe runs the CLI with args until it has printed n messages, the
// server publishing payloads on news once it has subscribed.
func subscribe(t *testing.T, n int, payloads [][]byte, args ...string) (stdout, stderr string) {
	t.Helper()
	srv := mock.NewServer(nil)
	defer srv.Close()
	ctx := testCtx(t)
	out, errOut := newOutput(), newOutput()
	args = append([]string{"-url", srv.URL(), "-sub", "news,other", "-n", strconv.Itoa(n)}, args...)
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, strings.NewReader(""), out, errOut) }()
	errOut.wait(t, "subscribed other")
	for _, p := range payloads {
		if err := srv.Publish(ctx, "news", p); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	return out.String(), errOut.String()
}

// Payloads print by default: text as is, text with control characters
// quoted, anything not UTF-8 as base64, each on one line.
func TestPrintsWhatTheServerPublishes(t *testing.T) {
	payloads := [][]byte{[]byte("hello"), []byte("héllo wörld"), []byte("two\nlines\x1b[31m"), {0xde, 0xad, 0xbe, 0xef}, {}}
	stdout, _ := subscribe(t, len(payloads), payloads)
	want := `< news #1: hello
< news #2: héllo wörld
< news #3 (quoted): "two\nlines\x1b[31m"
< news #4 (base64, 4 bytes): 3q2+7w==
< news #5 (empty)
`
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout, want)
	}
}

// -no-payloads prints sizes only, and the token shows nowhere.
func TestNoPayloadsHidesPayloads(t *testing.T) {
	stdout, stderr := subscribe(t, 1, [][]byte{[]byte("private")}, "-no-payloads", "-token", "s3cret", "-v")
	all := stdout + stderr
	if !strings.Contains(stdout, "< news #1 (7 bytes)\n") || strings.Contains(all, "private") || strings.Contains(all, "s3cret") {
		t.Errorf("want the size, not the payload nor the token:\n%s", all)
	}
}

func TestTransportFlagSelectsSSE(t *testing.T) {
	srv := mock.NewServer(nil)
	defer srv.Close()
	_, stderr := runCLI(t, "", "-url", srv.URL(), "-transport", "sse", "-codec", "cbor")
	if !strings.Contains(stderr, "connected over sse\n") {
		t.Errorf("stderr does not say sse:\n%s", stderr)
	}
	if n := srv.Transports()["websocket"]; n != 0 {
		t.Errorf("websocket dialled %d times with -transport sse", n)
	}
}

func TestAutoExplainsRefusedWebSocket(t *testing.T) {
	srv := mock.NewServer(nil)
	defer srv.Close()
	srv.RefuseTransport("websocket", 403)
	_, stderr := runCLI(t, "", "-url", srv.URL(), "-transport", "auto")
	for _, want := range []string{"attempt websocket failed after", "refused with HTTP 403", "connected over sse\n"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestExplainsEveryAttemptWhenAllFail(t *testing.T) {
	srv := mock.NewServer(nil)
	defer srv.Close()
	for _, tr := range []string{"websocket", "sse", "longpoll"} {
		srv.RefuseTransport(tr, 403)
	}
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"-url", srv.URL(), "-connect-timeout", "300ms"}, strings.NewReader(""), &out, &errOut)
	if err == nil {
		t.Fatal("run succeeded with every transport refused")
	}
	for _, tr := range []string{"websocket", "sse", "longpoll"} {
		if !strings.Contains(errOut.String(), "  "+tr+" failed after") {
			t.Errorf("stderr does not explain %s:\n%s", tr, errOut.String())
		}
	}
}

func TestHelp(t *testing.T) {
	var errOut bytes.Buffer
	err := run(context.Background(), []string{"-h"}, strings.NewReader(""), &bytes.Buffer{}, &errOut)
	if err == nil || !strings.Contains(errOut.String(), "Usage: realtime") {
		t.Errorf("-h: err %v, output:\n%s", err, errOut.String())
	}
}
