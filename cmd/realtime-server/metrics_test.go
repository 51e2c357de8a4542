package main

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/realtimekit/realtime"
)

// /metrics serves the server's counters after a known workload, exactly;
// -metrics=false turns it off.
func TestBinaryServesMetrics(t *testing.T) {
	p := startBinary(t, "-insecure-no-auth")
	base := "http://" + p.addr
	ctx, cancel := context.WithTimeout(context.Background(), scaled(30*time.Second))
	defer cancel()
	c, err := realtime.New(base, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(ctx, "room", func(realtime.Message) {}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := c.Publish(ctx, "room", []byte("hi")); err != nil {
			t.Fatal(err)
		}
	}
	got := scrapeText(t, ctx, base+"/metrics")
	for name, want := range map[string]string{
		"realtime_server_publishes_total": "3",
		"realtime_server_refusals_total":  "0",
		"realtime_server_connections":     "1",
		"realtime_server_sessions":        "1",
		"realtime_server_channels":        "1",
	} {
		if got[name] != want {
			t.Errorf("%s = %q, want %s", name, got[name], want)
		}
	}
	if _, ok := got["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}

	off := startBinary(t, "-insecure-no-auth", "-metrics=false")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+off.addr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Error("/metrics served with -metrics=false")
	}
}

// scrapeText fetches url and returns the value of each unlabelled sample.
func scrapeText(t *testing.T, ctx context.Context, url string) map[string]string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d", url, resp.StatusCode)
	}
	out := map[string]string{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		if name, v, ok := strings.Cut(line, " "); ok {
			out[name] = v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
