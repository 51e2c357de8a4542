package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/fallback"
)

type flags struct {
	url            string
	transport      string
	codec          string
	subs           []string
	pub            string
	header         http.Header
	token          string
	verbose        bool
	noPayloads     bool
	count          int
	runFor         time.Duration
	connectTimeout time.Duration
	proxy          string
}

func parseFlags(args []string, stderr io.Writer) (*flags, error) {
	f := &flags{header: make(http.Header)}
	fs := flag.NewFlagSet("realtime", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.url, "url", "http://127.0.0.1:8080", "base `URL` of the server (http, https, ws or wss)")
	fs.StringVar(&f.transport, "transport", "auto", "websocket, sse, longpoll, or auto (each in turn, best first)")
	fs.StringVar(&f.codec, "codec", "json", "json or cbor")
	subs := fs.String("sub", "", "comma-separated `channels` to subscribe to")
	fs.StringVar(&f.pub, "pub", "", "`channel` to publish each line of standard input on")
	fs.Var(headerFlag(f.header), "H", "`header` to send with every request, as 'Name: value' (repeatable)")
	fs.StringVar(&f.token, "token", "", "bearer `token` sent as Authorization (never printed)")
	fs.BoolVar(&f.verbose, "v", false, "print the client's debug logs")
	fs.BoolVar(&f.noPayloads, "no-payloads", false, "print each received message's size instead of its payload")
	fs.IntVar(&f.count, "n", 0, "exit after receiving this many messages (0: no limit)")
	fs.DurationVar(&f.runFor, "for", 0, "exit after this long (0: until interrupted, or stdin ends with no -sub)")
	fs.StringVar(&f.proxy, "proxy", "", "HTTP proxy `URL` for every request (default: from the environment, which never applies to 127.0.0.1)")
	fs.DurationVar(&f.connectTimeout, "connect-timeout", 15*time.Second, "give up connecting after this long")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: realtime -url URL [flags]

Connects to a realtime server, prints the transport it landed on and why the
better ones failed, prints state changes (stderr) and received messages
(stdout: the payload as text, quoted if it holds control characters, or
base64 if it is not UTF-8), and publishes each line of standard input on -pub,
printing "ack" or the server's refusal with the line's number and start.

  realtime -url http://127.0.0.1:8080 -sub news -pub chat
  realtime -url https://example.com/rt -transport sse -H 'X-Tenant: a' -token "$T"

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (see -h)", fs.Arg(0))
	}
	f.subs = splitList(*subs)
	return f, nil
}

// options builds the client's options; attempts reports the transports
// tried on the last connect, printed each time the client connects.
func (f *flags) options(stderr io.Writer, attempts func() []fallback.Attempt) (*realtime.Options, error) {
	ts, err := pickTransports(f.transport)
	if err != nil {
		return nil, err
	}
	cd, err := pickCodec(f.codec)
	if err != nil {
		return nil, err
	}
	opts := &realtime.Options{
		Transports: ts,
		Codec:      cd,
		Logger:     slog.New(&verboseLog{w: stderr, verbose: f.verbose}),
		OnStateChange: func(ch realtime.StateChange) {
			var fe *fallback.Error
			switch {
			case ch.To == realtime.StateConnected && ch.Reason != "session resumed":
				printAttempts(stderr, attempts())
			case errors.As(ch.Err, &fe):
				printAttempts(stderr, fe.Attempts)
			}
			fmt.Fprintf(stderr, "state %s -> %s (%s)%s\n", ch.From, ch.To, ch.Reason, changeNote(ch))
		},
	}
	if len(f.header) > 0 {
		opts.Header = f.header
	}
	if f.proxy != "" {
		u, err := url.Parse(f.proxy)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("-proxy: want a URL such as http://127.0.0.1:3128, got %q", f.proxy)
		}
		opts.HTTPClient = &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(u)}}
	}
	if f.token != "" {
		tok := f.token
		opts.Token = func(context.Context) (string, error) { return tok, nil }
	}
	return opts, nil
}

func changeNote(ch realtime.StateChange) string {
	var b strings.Builder
	if ch.Transport != "" {
		b.WriteString(" over " + ch.Transport)
	}
	if ch.ContinuityLost {
		b.WriteString(", continuity lost")
	}
	if ch.Delay > 0 {
		fmt.Fprintf(&b, ", next attempt in %v", ch.Delay.Round(time.Millisecond))
	}
	var fe *fallback.Error
	switch {
	case errors.As(ch.Err, &fe):
		// Each attempt has been printed already, above.
		b.WriteString(": no transport worked")
	case ch.Err != nil:
		b.WriteString(": " + ch.Err.Error())
	}
	return b.String()
}

// headerFlag adds each -H value to a header.
type headerFlag http.Header

func (h headerFlag) String() string { return "" }

func (h headerFlag) Set(v string) error {
	name, value, ok := strings.Cut(v, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("want 'Name: value', got %q", v)
	}
	http.Header(h).Add(strings.TrimSpace(name), strings.TrimSpace(value))
	return nil
}

// printAttempts says why each transport that failed was passed over.
func printAttempts(w io.Writer, as []fallback.Attempt) {
	for _, a := range as {
		if a.Err != nil {
			fmt.Fprintf(w, "attempt %s failed after %v: %s\n", a.Transport, a.Took.Round(time.Microsecond), why(a.Err))
		}
	}
}

// verboseLog prints the SDK's log records with -v, and nothing without.
type verboseLog struct {
	w       io.Writer
	verbose bool
	attrs   []slog.Attr
}

func (h *verboseLog) Enabled(context.Context, slog.Level) bool { return h.verbose }

func (h *verboseLog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "log %s %s", r.Level, r.Message)
	for _, a := range h.attrs {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
	}
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	b.WriteByte('\n')
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *verboseLog) WithAttrs(as []slog.Attr) slog.Handler {
	return &verboseLog{w: h.w, verbose: h.verbose, attrs: append(h.attrs[:len(h.attrs):len(h.attrs)], as...)}
}

// WithGroup flattens groups: the SDK uses none.
func (h *verboseLog) WithGroup(string) slog.Handler { return h }

// lockedWriter serialises writes: the client's dispatcher prints messages
// and states while run prints acks.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
