package natsbroker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/realtimekit/realtime/server"
)

// relayOverhead is what a relayed request adds to its body on the wire
// (subject, reply inbox, protocol line), kept free of MaxPayload.
const relayOverhead = 1024

// flushTimeout bounds the wait for the server to confirm a subscription.
const flushTimeout = 5 * time.Second

// ErrTooLarge is returned by Forward when a request does not fit in the
// connection's MaxPayload: NATS max_payload must exceed the servers'
// MaxMessage plus a few KiB.
var ErrTooLarge = errors.New("natsbroker: relayed request exceeds NATS max_payload")

// relay is the server.Relay over NATS request/reply on <prefix>.node.<node>.
type relay struct{ c *Cluster }

// Relay returns the Relay of the Cluster: requests to node travel on the
// subject <prefix>.node.<node in base64>. A node serves at most 512
// requests at once (long polls are held up to 25 s) and answers the ones
// beyond with 503 Service Unavailable.
func (c *Cluster) Relay() server.Relay { return relay{c} }

func (r relay) subject(node string) string {
	return r.c.opts.Prefix + ".node." + channelToken(node)
}

func (r relay) Serve(node string, handle func(ctx context.Context, req []byte) []byte) (func(), error) {
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu      sync.Mutex
		stopped bool
		wg      sync.WaitGroup
		slots   = make(chan struct{}, r.c.opts.maxRelay)
	)
	sub, err := r.c.nc.Subscribe(r.subject(node), func(msg *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		if msg.Reply == "" {
			return
		}
		if stopped { // arrived before the server saw the unsubscribe
			_ = msg.Respond(statusAnswer(http.StatusServiceUnavailable, "node stopping"))
			return
		}
		select {
		case slots <- struct{}{}:
		default:
			_ = msg.Respond(busyAnswer())
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			ans := handle(ctx, msg.Data)
			if max := r.c.nc.MaxPayload(); int64(len(ans)) > max-relayOverhead {
				ans = statusAnswer(http.StatusBadGateway, "answer exceeds NATS max_payload")
			}
			if err := msg.Respond(ans); err != nil {
				r.c.opts.Logger.Warn("natsbroker: relay answer", "err", err)
			}
		}()
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("natsbroker: relay: %w", err)
	}
	// The subscription must be known to the server before anyone forwards.
	if err := r.c.nc.FlushTimeout(flushTimeout); err != nil {
		_ = sub.Unsubscribe()
		cancel()
		return nil, fmt.Errorf("natsbroker: relay: %w", err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = sub.Unsubscribe()
			// Once the server has the unsubscribe, a Forward finds no
			// responder and returns ErrNodeGone at once.
			_ = r.c.nc.FlushTimeout(flushTimeout)
			mu.Lock()
			stopped = true
			mu.Unlock()
			cancel()
			wg.Wait()
		})
	}
	return stop, nil
}

func (r relay) Forward(ctx context.Context, node string, req []byte) ([]byte, error) {
	if max := r.c.nc.MaxPayload(); int64(len(req)) > max-relayOverhead {
		return nil, fmt.Errorf("%w (%d bytes, max_payload %d)", ErrTooLarge, len(req), max)
	}
	msg, err := r.c.nc.RequestWithContext(ctx, r.subject(node), req)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, server.ErrNodeGone
	}
	if err != nil {
		return nil, fmt.Errorf("natsbroker: forward: %w", err)
	}
	return msg.Data, nil
}

func busyAnswer() []byte {
	return statusAnswer(http.StatusServiceUnavailable, "node busy")
}

// statusAnswer is an HTTP/1.1 response in wire form with a text body.
func statusAnswer(code int, text string) []byte {
	resp := &http.Response{
		StatusCode: code, ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "Retry-After": {"1"}},
		Body:          io.NopCloser(strings.NewReader(text)),
		ContentLength: int64(len(text)),
	}
	var b bytes.Buffer
	_ = resp.Write(&b)
	return b.Bytes()
}
