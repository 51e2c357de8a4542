package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/internal/leakcheck"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/websocket"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

// lineWriter hands each write to a channel, so that a test can wait for
// the URL the command prints.
type lineWriter chan string

func (w lineWriter) Write(p []byte) (int, error) {
	w <- string(p)
	return len(p), nil
}

func TestServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(lineWriter, 1)
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-heartbeat", "2s", "-echo"}, out, &stderr) }()

	var url string
	select {
	case line := <-out:
		url = strings.TrimSpace(line)
	case err := <-done:
		t.Fatalf("run: %v (%s)", err, stderr.String())
	}
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("printed %q", url)
	}

	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	conn, err := websocket.Transport{}.Dial(wctx, url, transport.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	send := func(frames ...codec.Frame) {
		msg, _ := codec.JSON{}.Encode(nil, frames...)
		if err := conn.Send(wctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	send(codec.Frame{Type: codec.TypeConnect, Version: 1}, codec.Frame{Type: codec.TypeSubscribe, Seq: 1, Channel: "ticks"})
	for got := false; !got; {
		msg, err := conn.Recv(wctx)
		if err != nil {
			t.Fatalf("waiting for a tick: %v", err)
		}
		frames, _ := codec.JSON{}.Decode(nil, msg)
		for _, f := range frames {
			if f.Type == codec.TypeMessage && strings.HasPrefix(string(f.Data), "tick ") {
				got = true
			}
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown")
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0", "nonsense"} {
		var stderr bytes.Buffer
		err := run(context.Background(), []string{"-addr", addr}, &bytes.Buffer{}, &stderr)
		if err == nil || !strings.Contains(err.Error(), "-public") {
			t.Errorf("%s: %v, want a refusal naming -public", addr, err)
		}
	}
}

func TestHelp(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"-h"}, &bytes.Buffer{}, &stderr)
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "-addr") {
		t.Fatalf("-h: %v, %q", err, stderr.String())
	}
}
