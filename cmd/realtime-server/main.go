// Command realtime-server runs package server as a program: the realtime
// protocol over WebSocket, SSE and long polling, with signed-token
// authentication, per-channel grants, allowed origins, bounds, JSON logs,
// a health endpoint and a graceful drain on SIGTERM.
//
//	realtime-server -addr :8443 -tls-cert cert.pem -tls-key key.pem \
//		-jwt-secret-file secret.key -origins https://app.example.com
//
// Clients connect to the base URL ("https://host:8443"); /healthz answers
// 200 while serving and 503 while draining; /metrics serves the server's
// counters in the Prometheus formats (-metrics=false turns it off). Tokens are HMAC JWTs (HS256,
// HS384 or HS512) with a subject, an expiry and optionally a "channels"
// claim listing the channel patterns (path.Match) the holder may
// subscribe to and publish on; or lines of a static token file.
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
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/realtimekit/realtime/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "realtime-server:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	addr, certFile, keyFile  string
	origins                  string
	jwtSecretFile, tokenFile string
	jwtIssuer, jwtAudience   string
	insecureNoAuth           bool
	drain                    time.Duration
	logLevel                 string
	headerTimeout            time.Duration
	publishLog               string
	metrics                  bool
	cluster                  clusterFlags
	cfg                      server.Config
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("realtime-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "`host:port` to listen on")
	fs.StringVar(&o.certFile, "tls-cert", "", "TLS certificate `file` (PEM); with -tls-key, serves HTTPS")
	fs.StringVar(&o.keyFile, "tls-key", "", "TLS private key `file` (PEM)")
	fs.StringVar(&o.origins, "origins", "", "comma-separated web origins allowed besides the server's own (patterns, or *)")
	fs.StringVar(&o.jwtSecretFile, "jwt-secret-file", "", "`file` holding the HMAC key of the JWTs clients present")
	fs.StringVar(&o.jwtIssuer, "jwt-issuer", "", "required JWT issuer (iss), if set")
	fs.StringVar(&o.jwtAudience, "jwt-audience", "", "required JWT audience (aud), if set")
	fs.StringVar(&o.tokenFile, "token-file", "", "`file` of static tokens: lines \"token subject [channel-pattern ...]\"")
	fs.BoolVar(&o.insecureNoAuth, "insecure-no-auth", false, "let anyone connect without a token (development only)")
	fs.DurationVar(&o.drain, "drain", 30*time.Second, "how long SIGTERM waits for clients to be told to leave")
	fs.BoolVar(&o.metrics, "metrics", true, "serve the server's counters in the Prometheus format at /metrics")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&o.headerTimeout, "header-timeout", 10*time.Second, "time a client has to send a request's headers")
	fs.DurationVar(&o.cfg.Heartbeat, "heartbeat", server.DefaultHeartbeat, "heartbeat interval announced to clients")
	fs.DurationVar(&o.cfg.ResumeWindow, "resume-window", server.DefaultResumeWindow, "how long a session without a connection is kept")
	fs.IntVar(&o.cfg.MaxMessage, "max-message", server.DefaultMaxMessage, "largest message in bytes")
	fs.IntVar(&o.cfg.MaxSessions, "max-sessions", server.DefaultMaxSessions, "most sessions kept")
	fs.IntVar(&o.cfg.MaxSubscriptions, "max-subscriptions", server.DefaultMaxSubs, "most channels per session")
	fs.IntVar(&o.cfg.MaxPending, "max-pending", server.DefaultMaxPending, "most connections awaiting their connect frame")
	fs.DurationVar(&o.cfg.ConnectTimeout, "connect-timeout", server.DefaultConnectWait, "time a connection has to send connect")
	fs.IntVar(&o.cfg.MaxConnsPerIdentity, "max-conns-per-identity", server.DefaultMaxPerID, "most connections of one token subject")
	fs.Float64Var(&o.cfg.PublishRate, "publish-rate", server.DefaultPublishRate, "publishes per second per session (negative: no limit)")
	fs.IntVar(&o.cfg.PublishBurst, "publish-burst", server.DefaultPublishBurst, "publishes at once per session")
	fs.StringVar(&o.cfg.Node, "node", "", "this node's `name` among the nodes of a cluster: letters, digits, '-' (default random)")
	fs.StringVar(&o.publishLog, "publish-log", "", "append one line per accepted client publish to `file` (an audit log)")
	o.cluster.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if (o.certFile == "") != (o.keyFile == "") {
		return nil, errors.New("-tls-cert and -tls-key go together")
	}
	auths := 0
	for _, set := range []bool{o.jwtSecretFile != "", o.tokenFile != "", o.insecureNoAuth} {
		if set {
			auths++
		}
	}
	if o.cfg.Node != "" && !validNode(o.cfg.Node) {
		return nil, errors.New("-node: 1 to 64 ASCII letters, digits or '-'")
	}
	if err := o.cluster.check(); err != nil {
		return nil, err
	}
	if auths != 1 {
		return nil, errors.New("choose one of -jwt-secret-file, -token-file and -insecure-no-auth")
	}
	return o, nil
}

// config builds the server's configuration from the flags.
func (o *options) config(log *slog.Logger) (server.Config, error) {
	cfg := o.cfg
	cfg.Logger = log
	for _, p := range strings.Split(o.origins, ",") {
		if p = strings.TrimSpace(p); p != "" {
			cfg.AllowedOrigins = append(cfg.AllowedOrigins, p)
		}
	}
	switch {
	case o.jwtSecretFile != "":
		key, err := os.ReadFile(o.jwtSecretFile)
		if err != nil {
			return cfg, err
		}
		if key = []byte(strings.TrimSpace(string(key))); len(key) < 32 {
			return cfg, errors.New("the JWT key must be at least 32 bytes")
		}
		cfg.Authenticate = jwtAuth(key, o.jwtIssuer, o.jwtAudience)
	case o.tokenFile != "":
		tokens, err := loadTokenFile(o.tokenFile)
		if err != nil {
			return cfg, err
		}
		cfg.Authenticate = tokenAuth(tokens)
	}
	cfg.Authorize = authorize
	return cfg, nil
}

// run serves until ctx ends, then drains. It logs JSON to stderr,
// starting with a "listening" record that carries the address.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg, err := o.config(log)
	if err != nil {
		return err
	}
	if o.publishLog != "" {
		pl, err := openPublishLog(o.publishLog)
		if err != nil {
			return err
		}
		defer pl.Close()
		cfg.OnPublish = pl.onPublish
	}
	closeCluster, err := o.cluster.setup(ctx, &cfg, log)
	if err != nil {
		return err
	}
	defer closeCluster()
	srv := server.New(cfg)
	var draining atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	if o.metrics {
		mux.Handle("GET /metrics", metricsHandler(srv))
	}
	mux.Handle("/", srv)
	hs := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: o.headerTimeout, // the header and handshake-time bound
		MaxHeaderBytes:    16 << 10,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	tls := o.certFile != ""
	log.Info("listening", "addr", ln.Addr().String(), "tls", tls)
	served := make(chan error, 1)
	go func() {
		if tls {
			served <- hs.ServeTLS(ln, o.certFile, o.keyFile)
		} else {
			served <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-served:
		_ = srv.Close(context.Background())
		return err
	case <-ctx.Done():
	}
	log.Info("draining", "timeout", o.drain)
	draining.Store(true)
	dctx, cancel := context.WithTimeout(context.Background(), o.drain)
	defer cancel()
	closeErr := srv.Close(dctx)
	shutErr := hs.Shutdown(dctx)
	<-served
	log.Info("stopped", "stats", fmt.Sprintf("%+v", srv.Stats()))
	return errors.Join(closeErr, shutErr)
}
