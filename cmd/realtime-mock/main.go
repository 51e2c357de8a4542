// Command realtime-mock serves the mock realtime server (package mock) from
// the shell, for the examples and for clients in other languages.
//
//	go run ./cmd/realtime-mock -addr 127.0.0.1:8080
//
// It prints the base URL to give a client on standard output, serves
// WebSocket ({base}/ws), SSE ({base}/sse) and long polling ({base}/poll)
// with both codecs, and shuts down cleanly on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/realtimekit/realtime/mock"
	"github.com/realtimekit/realtime/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "realtime-mock:", err)
		os.Exit(1)
	}
}

// shutdownTimeout bounds the wait for HTTP requests after the mock has
// closed its connections.
const shutdownTimeout = 5 * time.Second

// run serves until ctx ends. It writes the base URL as one line to stdout
// once the listener is up, and diagnostics to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("realtime-mock", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "`host:port` to listen on")
	public := fs.Bool("public", false, "allow listening on an address other than loopback")
	heartbeat := fs.Duration("heartbeat", 15*time.Second, "heartbeat interval announced to clients")
	resume := fs.Duration("resume", 2*time.Minute, "how long a session without a connection can be resumed")
	echo := fs.Bool("echo", false, `publish "tick N" on channel "ticks" every second`)
	verbose := fs.Bool("v", false, "log connections and sessions to stderr")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: realtime-mock [flags]\n\n"+
			"Serves the realtime protocol (WebSocket, SSE, long polling; JSON and CBOR)\n"+
			"for tests and demos. Prints the base URL; stops on SIGINT or SIGTERM.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if !*public && !loopback(*addr) {
		return fmt.Errorf("%s is not a loopback address; add -public to serve it", *addr)
	}

	// Nothing reads the record here; a bound keeps a long run's memory flat.
	opts := &mock.Options{Server: server.Config{Heartbeat: *heartbeat, ResumeWindow: *resume}, MaxReceived: 1000}
	if *verbose {
		opts.Server.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := mock.New(opts)
	hs := &http.Server{
		Handler:           srv.Handler(),
		ConnContext:       srv.ConnContext,
		ReadHeaderTimeout: 10 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	fmt.Fprintf(stdout, "http://%s\n", ln.Addr())

	var wg sync.WaitGroup
	if *echo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick(ctx, srv)
		}()
	}

	select {
	case <-ctx.Done():
	case err = <-served: // the listener failed
	}
	wg.Wait()
	// The mock ends its connections first: Shutdown does not wait for
	// hijacked WebSockets and would wait for SSE streams.
	srv.Close()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if serr := hs.Shutdown(sctx); err == nil && serr != nil {
		err = serr
	}
	if err == nil {
		if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
			err = serr
		}
	}
	return err
}

// tick publishes on "ticks" every second until ctx ends.
func tick(ctx context.Context, srv *mock.Server) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = srv.Publish(ctx, "ticks", fmt.Appendf(nil, "tick %d", n))
		}
	}
}

// loopback reports whether addr's host is a loopback address or
// "localhost". An empty host means every interface, which is not.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
