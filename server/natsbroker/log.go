package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/realtimekit/realtime/server"
)

// Last implements server.Log: the stream's last sequence.
func (c *Cluster) Last(ctx context.Context) (uint64, error) {
	info, err := c.stream.Info(ctx)
	if err != nil {
		c.health.failed(err)
		return 0, fmt.Errorf("natsbroker: stream info: %w", err)
	}
	return info.State.LastSeq, nil
}

// Delivered implements server.Log.
func (c *Cluster) Delivered() uint64 { return c.delivered.Load() }

// Read implements server.Log with an ephemeral ordered consumer filtered
// on the channels' subjects, from the sequence after from.
func (c *Cluster) Read(ctx context.Context, from, to uint64, channels []string, fn func(server.Message) bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if to <= from || len(channels) == 0 {
		return nil
	}
	if err := c.checkKept(ctx, from); err != nil {
		return err
	}
	subjects := make([]string, 0, len(channels))
	seen := make(map[string]bool, len(channels))
	for _, ch := range channels {
		if !seen[ch] {
			seen[ch] = true
			subjects = append(subjects, c.msgPre+channelToken(ch))
		}
	}
	oc, err := c.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: subjects,
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    from + 1,
		// A backstop: the consumer is deleted when Read returns.
		InactiveThreshold: readInactive,
	})
	if err != nil {
		c.health.failed(err)
		return fmt.Errorf("natsbroker: read: %w", err)
	}
	defer c.dropConsumer(oc)
	info, err := oc.Info(ctx)
	if err != nil {
		c.health.failed(err)
		return fmt.Errorf("natsbroker: read: %w", err)
	}
	// Trimmed between the first check and the consumer's start?
	if err := c.checkKept(ctx, from); err != nil {
		return err
	}
	if info.NumPending == 0 {
		return nil
	}
	it, err := oc.Messages()
	if err != nil {
		return fmt.Errorf("natsbroker: read: %w", err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	read := from // the last position handed to fn, or from
	for {
		msg, err := it.Next(jetstream.NextMaxWait(readIdle))
		if errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil {
			// What was pending may have been trimmed since: then nothing
			// comes, and waiting longer would hang.
			if err := c.checkKept(ctx, read); err != nil {
				return err
			}
			info, err := oc.Info(ctx)
			if err != nil {
				c.health.failed(err)
				return fmt.Errorf("natsbroker: read: %w", err)
			}
			if info.NumPending == 0 {
				return nil
			}
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("natsbroker: read: %w", ctx.Err())
			}
			return fmt.Errorf("natsbroker: read: %w", err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("natsbroker: read: %w", err)
		}
		pos := meta.Sequence.Stream
		if pos > to {
			return nil
		}
		ch, err := channelOf(msg.Subject(), c.msgPre)
		if err != nil {
			return fmt.Errorf("natsbroker: read: %w", err)
		}
		m := server.Message{Channel: ch, Data: msg.Data(), ID: msg.Headers().Get(jetstream.MsgIDHeader), Pos: pos}
		if err := getMeta(msg.Headers(), &m); err != nil {
			c.opts.Logger.Warn("natsbroker: publication read without its metadata", "err", err)
		}
		read = pos
		if !fn(m) || meta.NumPending == 0 || pos == to {
			return nil
		}
	}
}

// readIdle is how long a Read waits for the next pending publication
// before it checks whether the stream still holds it.
const readIdle = time.Second

// readInactive is how long a Read's consumer outlives a Read that could
// not delete it (its connection lost).
const readInactive = 30 * time.Second

// dropConsumer deletes the ephemeral consumer oc now rather than leaving
// it to its inactivity threshold, so that Reads do not pile consumers up.
func (c *Cluster) dropConsumer(oc jetstream.Consumer) {
	info := oc.CachedInfo()
	if info == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.stream.DeleteConsumer(ctx, info.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		c.opts.Logger.Debug("natsbroker: read consumer left to expire", "err", err)
	}
}

// checkKept returns server.ErrTrimmed when the stream no longer holds
// every sequence above from.
func (c *Cluster) checkKept(ctx context.Context, from uint64) error {
	info, err := c.stream.Info(ctx)
	if err != nil {
		c.health.failed(err)
		return fmt.Errorf("natsbroker: stream info: %w", err)
	}
	if info.State.FirstSeq > from+1 {
		return server.ErrTrimmed
	}
	return nil
}
