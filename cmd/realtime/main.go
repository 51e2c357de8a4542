// Command realtime is a command-line client for any server that speaks the
// realtime protocol, for debugging in the spirit of wscat: it connects,
// shows which transport it landed on and why the better ones were refused,
// prints state changes and received messages (their payloads as text, or
// base64 when not UTF-8), and publishes each line of standard input,
// printing the server's ack or refusal of each, by line number.
//
//	realtime -url http://127.0.0.1:8080 -sub news,chat -pub chat
//
// Try it against the mock server: go run ./cmd/realtime-mock -addr 127.0.0.1:8080
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/realtimekit/realtime"
	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/fallback"
	"github.com/realtimekit/realtime/transport"
	"github.com/realtimekit/realtime/transport/longpoll"
	"github.com/realtimekit/realtime/transport/sse"
	"github.com/realtimekit/realtime/transport/websocket"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "realtime:", err)
		os.Exit(1)
	}
}

// maxLine bounds one line of standard input, and so one published message.
const maxLine = 1 << 20

// run connects, subscribes and publishes standard input until stdin ends
// (when there are no subscriptions), -n messages have arrived, -for has
// passed, or ctx ends. Messages, acks and refusals go to stdout; states,
// transport attempts and logs go to stderr.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	f, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	stdout, stderr = &lockedWriter{w: stdout}, &lockedWriter{w: stderr}
	var c *realtime.Client // set below; the state handler only runs after Connect
	opts, err := f.options(stderr, func() []fallback.Attempt { return c.Attempts() })
	if err != nil {
		return err
	}
	c, err = realtime.New(f.url, opts)
	if err != nil {
		return err
	}
	defer c.Close()

	if f.runFor > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.runFor)
		defer cancel()
	}
	cctx, cancel := context.WithTimeout(ctx, f.connectTimeout)
	err = c.Connect(cctx)
	cancel()
	if err != nil {
		explain(stderr, c.Err())
		var fe *fallback.Error
		if errors.As(c.Err(), &fe) && ctx.Err() == nil {
			return fmt.Errorf("connect: no transport worked within %v", f.connectTimeout)
		}
		return fmt.Errorf("connect: %w", err)
	}
	fmt.Fprintf(stderr, "connected over %s\n", c.Transport())

	got := make(chan struct{}, 1)
	received := 0
	for _, ch := range f.subs {
		_, err := c.Subscribe(ctx, ch, func(m realtime.Message) {
			io.WriteString(stdout, formatMessage(m, !f.noPayloads))
			// Handlers run one at a time, so the count needs no lock.
			received++
			if f.count > 0 && received == f.count {
				got <- struct{}{}
			}
		})
		if err != nil {
			return fmt.Errorf("subscribe %s: %w", ch, err)
		}
		fmt.Fprintf(stderr, "subscribed %s\n", ch)
	}

	if f.pub != "" {
		if err := publishLines(ctx, c, f.pub, stdin, stdout); err != nil {
			return err
		}
	}
	if len(f.subs) == 0 {
		return nil
	}
	select {
	case <-got:
	case <-ctx.Done():
	}
	return nil
}

// publishLines publishes each line of r on channel, one at a time, each
// waiting for its ack, and prints a line per ack or refusal naming the
// input line it answers (see lineRef).
// The reader runs on its own goroutine because a terminal read cannot be
// interrupted; it ends at EOF, or when run returns and its next line would
// have nowhere to go.
func publishLines(ctx context.Context, c *realtime.Client, channel string, r io.Reader, out io.Writer) error {
	lines := make(chan string)
	readErr := make(chan error, 1)
	done := make(chan struct{})
	defer close(done)
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 0, 4096), maxLine)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-done:
				return
			}
		}
		readErr <- sc.Err()
		close(lines)
	}()
	for n := 1; ; n++ {
		var line string
		var ok bool
		select {
		case line, ok = <-lines:
		case <-ctx.Done():
			return nil
		}
		if !ok {
			if err := <-readErr; err != nil {
				return fmt.Errorf("stdin: %w", err)
			}
			return nil
		}
		err := c.Publish(ctx, channel, []byte(line))
		var refused *realtime.RefusedError
		switch {
		case err == nil:
			fmt.Fprintf(out, "ack %s\n", lineRef(n, line))
		case errors.As(err, &refused):
			fmt.Fprintf(out, "refused %s (%d: %s)\n", lineRef(n, line), refused.Code, printable(refused.Reason))
		case ctx.Err() != nil:
			return nil
		default:
			return fmt.Errorf("publish: %w", err)
		}
	}
}

// explain says why each transport failed, when the SDK kept the attempts.
func explain(w io.Writer, err error) {
	var fe *fallback.Error
	if !errors.As(err, &fe) {
		if err != nil {
			fmt.Fprintf(w, "last error: %v\n", err)
		}
		return
	}
	fmt.Fprintln(w, "why no transport worked, on the last attempt:")
	for _, a := range fe.Attempts {
		fmt.Fprintf(w, "  %s failed after %v: %s\n", a.Transport, a.Took.Round(time.Microsecond), why(a.Err))
	}
}

// why puts the HTTP status first when there is one, since that is what
// tells a refusing proxy from a dead server.
func why(err error) string {
	var he *transport.HandshakeError
	if errors.As(err, &he) && he.StatusCode != 0 {
		return fmt.Sprintf("refused with HTTP %d (%v)", he.StatusCode, err)
	}
	return err.Error()
}

var transportsByName = map[string]transport.Transport{
	"websocket": websocket.Transport{},
	"sse":       sse.Transport{},
	"longpoll":  longpoll.Transport{},
}

func pickTransports(name string) ([]transport.Transport, error) {
	if name == "auto" {
		return realtime.DefaultTransports(), nil
	}
	t, ok := transportsByName[name]
	if !ok {
		return nil, fmt.Errorf("unknown transport %q (want websocket, sse, longpoll or auto)", name)
	}
	return []transport.Transport{t}, nil
}

func pickCodec(name string) (codec.Codec, error) {
	if c := codec.ByName(name); c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("unknown codec %q (want json or cbor)", name)
}

func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
