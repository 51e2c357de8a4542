package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/realtimekit/realtime/server"
)

// Cluster is a server.Broker, server.Log and server.Health on one NATS
// connection, with the SessionStore and Relay of the same connection.
// Give every node its own Cluster on its own connection.
type Cluster struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	kv     jetstream.KeyValue
	opts   Options
	msgPre string // "<prefix>.m."

	mu     sync.RWMutex
	closed bool
	subs   map[string]*subscription

	delivered atomic.Uint64
	oc        jetstream.Consumer // this node's ordered consumer
	consume   jetstream.MessagesContext
	done      chan struct{} // closed when the delivery loop ended
	health    health
}

type subscription struct {
	mu      sync.Mutex
	deliver func(server.Message) // nil once unsubscribed
}

var (
	_ server.Broker = (*Cluster)(nil)
	_ server.Log    = (*Cluster)(nil)
	_ server.Health = (*Cluster)(nil)
)

// New creates, or updates to opts, the stream and the bucket, and starts
// this node's deliveries at the end of the stream. nc stays the caller's:
// Close does not close it.
func New(ctx context.Context, nc *nats.Conn, opts Options) (*Cluster, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("natsbroker: %w", err)
	}
	c := &Cluster{
		nc: nc, js: js, opts: opts, msgPre: opts.Prefix + ".m.",
		subs: make(map[string]*subscription), done: make(chan struct{}),
	}
	c.stream, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       streamName(opts.Prefix),
		Subjects:   []string{c.msgPre + ">"},
		Retention:  jetstream.LimitsPolicy,
		Discard:    jetstream.DiscardOld,
		MaxAge:     opts.Retention,
		MaxBytes:   opts.MaxBytes,
		MaxMsgs:    maxMsgs(opts.maxMsgs),
		Duplicates: opts.DedupWindow,
		Replicas:   opts.Replicas,
		Storage:    jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbroker: stream: %w", err)
	}
	if c.kv, err = sessionBucket(ctx, js, streamName(opts.Prefix)+"_sessions", opts); err != nil {
		return nil, fmt.Errorf("natsbroker: session bucket: %w", err)
	}
	if err := c.startDeliveries(ctx); err != nil {
		return nil, err
	}
	c.health.start(c)
	return c, nil
}

func maxMsgs(n int64) int64 {
	if n > 0 {
		return n
	}
	return -1 // no bound
}

func streamName(prefix string) string { return strings.ToUpper(prefix) }

// startDeliveries starts this node's one ordered consumer over the whole
// stream, after its last sequence, and the goroutine that consumes it.
func (c *Cluster) startDeliveries(ctx context.Context) error {
	info, err := c.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("natsbroker: stream info: %w", err)
	}
	last := info.State.LastSeq
	c.delivered.Store(last)
	oc, err := c.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{c.msgPre + ">"},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    last + 1,
	})
	if err != nil {
		return fmt.Errorf("natsbroker: consumer: %w", err)
	}
	c.oc = oc
	c.consume, err = oc.Messages(jetstream.PullExpiry(5*time.Second), jetstream.PullHeartbeat(time.Second))
	if err != nil {
		return fmt.Errorf("natsbroker: consumer: %w", err)
	}
	go c.deliveries()
	return nil
}

// deliveries hands each publication of the stream, in stream order, to
// the deliver of its channel, if any.
func (c *Cluster) deliveries() {
	defer close(c.done)
	for {
		msg, err := c.consume.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			c.opts.Logger.Warn("natsbroker: deliveries", "err", err)
			time.Sleep(100 * time.Millisecond) // no busy loop on a lasting error
			continue
		}
		meta, err := msg.Metadata()
		if err != nil {
			c.opts.Logger.Warn("natsbroker: delivery without metadata", "err", err)
			continue
		}
		pos := meta.Sequence.Stream
		if prev := c.delivered.Load(); pos > prev+1 {
			// The stream holds only publications, so a gap is what
			// retention removed before this node read it.
			c.opts.Logger.Error("natsbroker: this node fell behind the stream's retention; publications skipped", "skipped", pos-prev-1)
		}
		if ch, err := channelOf(msg.Subject(), c.msgPre); err == nil {
			c.mu.RLock()
			s := c.subs[ch]
			c.mu.RUnlock()
			if s != nil {
				s.mu.Lock()
				if s.deliver != nil {
					m := server.Message{Channel: ch, Data: msg.Data(), ID: msg.Headers().Get(jetstream.MsgIDHeader), Pos: pos}
					if err := getMeta(msg.Headers(), &m); err != nil {
						c.opts.Logger.Warn("natsbroker: publication delivered without its metadata", "err", err)
					}
					s.deliver(m)
				}
				s.mu.Unlock()
			}
		}
		c.delivered.Store(pos)
	}
}

// Publish implements server.Broker: it stores m in the stream, with m.ID
// as its Nats-Msg-Id when set, and returns once JetStream acknowledged it
// (a duplicate within DedupWindow is acknowledged and not stored again).
func (c *Cluster) Publish(ctx context.Context, m server.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.isClosed() {
		return server.ErrClosed
	}
	if len(m.Channel) > MaxChannel {
		return fmt.Errorf("natsbroker: publish: %w", ErrChannelTooLong)
	}
	// While reconnecting, the client would buffer the publication and
	// send it later, after this call failed for its ctx: refuse it now.
	if !c.nc.IsConnected() {
		return fmt.Errorf("natsbroker: publish: %w", ErrNotConnected)
	}
	var popts []jetstream.PublishOpt
	if m.ID != "" {
		popts = append(popts, jetstream.WithMsgID(m.ID))
	}
	h, err := putMeta(nil, &m)
	if err != nil {
		return fmt.Errorf("natsbroker: publish: %w", err)
	}
	msg := &nats.Msg{Subject: c.msgPre + channelToken(m.Channel), Data: m.Data, Header: h}
	if _, err = c.js.PublishMsg(ctx, msg, popts...); err != nil {
		c.health.failed(err)
		return fmt.Errorf("natsbroker: publish: %w", err)
	}
	return nil
}

// Subscribe implements server.Broker. It changes a map of this node and
// sends nothing: every node reads the whole stream.
func (c *Cluster) Subscribe(ctx context.Context, channel string, deliver func(server.Message)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return server.ErrClosed
	}
	if s := c.subs[channel]; s != nil {
		s.mu.Lock()
		s.deliver = deliver
		s.mu.Unlock()
		return nil
	}
	c.subs[channel] = &subscription{deliver: deliver}
	return nil
}

// Unsubscribe implements server.Broker; it waits for a delivery of
// channel in progress.
func (c *Cluster) Unsubscribe(ctx context.Context, channel string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return server.ErrClosed
	}
	s := c.subs[channel]
	delete(c.subs, channel)
	c.mu.Unlock()
	if s != nil {
		s.mu.Lock() // waits for a delivery in progress
		s.deliver = nil
		s.mu.Unlock()
	}
	return nil
}

// Close implements server.Broker: it stops the deliveries and waits for
// the one in progress. It does not close the NATS connection, and leaves
// the stream and the bucket to the other nodes.
func (c *Cluster) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return server.ErrClosed
	}
	c.closed = true
	subs := c.subs
	c.subs = map[string]*subscription{}
	c.mu.Unlock()
	c.consume.Stop()
	c.health.stop()
	for _, s := range subs {
		s.mu.Lock()
		s.deliver = nil
		s.mu.Unlock()
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return fmt.Errorf("natsbroker: close: %w", ctx.Err())
	}
	if c.nc.IsConnected() {
		c.dropConsumer(c.oc)
	}
	return nil
}

func (c *Cluster) isClosed() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.closed
}

// sessionBucket creates the bucket of session records if it is missing,
// and binds to it for reads that go to the stream's leader. A bucket
// allows direct gets by default, which any replica answers: one that lags
// behind (a NATS server just restarted) hands out a record another node
// has since replaced, and a node resuming a session from it takes its own
// stale copy for current. A handle decides direct or not from the stream's
// config as it last read it, so the config is read through the handle
// until it says no. An existing bucket is not updated: an update turns
// direct gets back on, under the handles of the nodes running.
func sessionBucket(ctx context.Context, js jetstream.JetStream, bucket string, opts Options) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:   bucket,
			TTL:      opts.SessionTTL,
			History:  1,
			Replicas: opts.Replicas,
			Storage:  jetstream.FileStorage,
		})
		if errors.Is(err, jetstream.ErrBucketExists) { // another node, meanwhile
			kv, err = js.KeyValue(ctx, bucket)
		}
	}
	if err != nil {
		return nil, err
	}
	for range 10 {
		st, err := kv.Status(ctx) // and the handle reads the config anew
		if err != nil {
			return nil, err
		}
		bs, ok := st.(*jetstream.KeyValueBucketStatus)
		if !ok {
			return nil, errors.New("natsbroker: the session bucket's status has no stream info")
		}
		cfg := bs.StreamInfo().Config
		if !cfg.AllowDirect {
			return kv, nil
		}
		cfg.AllowDirect = false
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			return nil, err
		}
	}
	return nil, errors.New("natsbroker: the session bucket keeps allowing direct gets")
}
