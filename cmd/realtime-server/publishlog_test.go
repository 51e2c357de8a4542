package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/realtimekit/realtime"
)

// Every accepted publish is one line of the audit log, with its client
// sequence number, channel and size, and the session only as a digest.
func TestBinaryPublishLog(t *testing.T) {
	file := filepath.Join(t.TempDir(), "publish.log")
	p := startBinary(t, "-insecure-no-auth", "-publish-log", file, "-node", "n1")
	ctx, cancel := context.WithTimeout(context.Background(), scaled(30*time.Second))
	defer cancel()
	client, err := realtime.New("http://"+p.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := client.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 5
	for i := range n {
		if err := client.Publish(ctx, "room", fmt.Appendf(nil, "message %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), n, data)
	}
	var session string
	for i, line := range lines {
		f := strings.Fields(line)
		if len(f) != 5 || f[2] != fmt.Sprint(i+1) || f[3] != "room" || f[4] != "9" || len(f[1]) != 16 {
			t.Fatalf("line %d: %q", i, line)
		}
		if _, err := time.Parse(time.RFC3339Nano, f[0]); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if session != "" && f[1] != session {
			t.Fatalf("line %d: session %s, want %s", i, f[1], session)
		}
		session = f[1]
	}
}
