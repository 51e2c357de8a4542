package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/mock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

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
	deadline := time.After(5 * time.Second)
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
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	if err := run(ctx, args, strings.NewReader(stdin), &out, &errOut); err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

func TestPublishesStdinLinesAndPrintsAcks(t *testing.T) {
	srv := mock.NewServer(nil)
	defer srv.Close()
	srv.Nack(func(m mock.Message) (uint16, string) {
		if string(m.Data) == "forbidden" {
			return 4403, "not allowed"
		}
		return 0, ""
	})
	stdout, _ := runCLI(t, "one\ntwo\nforbidden\nthree\n", "-url", srv.URL(), "-pub", "chat")
	if want := "ack\nack\nrefused 4403: not allowed\nack\n"; stdout != want {
		t.Errorf("stdout = %q, want %q", stdout, want)
	}
	var got []string
	for _, m := range srv.Received() {
		if m.Channel != "chat" {
			t.Errorf("published on %q, want chat", m.Channel)
		}
		got = append(got, string(m.Data))
	}
	if strings.Join(got, ",") != "one,two,three" {
		t.Errorf("server received %q, want one, two, three", got)
	}
}

func TestPrintsWhatTheServerPublishes(t *testing.T) {
	srv := mock.NewServer(nil)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stdout, stderr := newOutput(), newOutput()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-url", srv.URL(), "-sub", "news,other", "-n", "2", "-v"}, strings.NewReader(""), stdout, stderr)
	}()
	stderr.wait(t, "subscribed other")
	for _, m := range []string{"hello", "world"} {
		if err := srv.Publish(ctx, "news", []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{"< news #1: hello\n", "< news #2: world\n"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
}

func TestPayloadsHiddenWithoutVerbose(t *testing.T) {
	srv := mock.NewServer(nil)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stdout, stderr := newOutput(), newOutput()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-url", srv.URL(), "-sub", "news", "-n", "1", "-token", "s3cret"}, strings.NewReader(""), stdout, stderr)
	}()
	stderr.wait(t, "subscribed news")
	if err := srv.Publish(ctx, "news", []byte("private")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	all := stdout.String() + stderr.String()
	if !strings.Contains(all, "(7 bytes)") || strings.Contains(all, "private") || strings.Contains(all, "s3cret") {
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
