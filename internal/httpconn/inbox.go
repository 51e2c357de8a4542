package httpconn

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/realtimekit/realtime/internal/batch"
	"github.com/realtimekit/realtime/transport"
)

// Inbox hands the messages of a server connection's upstream POSTs to its
// Recv. It holds no message itself: a POST hands each message over only
// when Recv takes it, so a server that stops reading holds the client's
// POST (and, through it, the client's queue) instead of buffering without
// bound.
type Inbox struct {
	c    chan []byte
	turn chan struct{} // cap 1: held by the POST being delivered
	done <-chan struct{}
}

// NewInbox returns an Inbox for a connection that ends when done is
// closed.
func NewInbox(done <-chan struct{}) *Inbox {
	return &Inbox{c: make(chan []byte), turn: make(chan struct{}, 1), done: done}
}

// C is where Recv takes the next message.
func (in *Inbox) C() <-chan []byte { return in.c }

// errDone is returned by Fill when the connection ended under it.
var errDone = errors.New("httpconn: connection ended")

// Fill hands the messages of the batch body r over to C, in order, each at
// most limit bytes (limit <= 0 means transport.DefaultReadLimit). Two
// Fills never interleave: the second waits for the first. It returns
// ctx's error when ctx ends first.
func (in *Inbox) Fill(ctx context.Context, r io.Reader, limit int64) error {
	select {
	case in.turn <- struct{}{}:
	case <-in.done:
		return errDone
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-in.turn }()
	br := batch.NewReader(r, limit)
	for {
		msg, err := br.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case in.c <- msg:
		case <-in.done:
			return errDone
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// ServePost fills the inbox from an upstream POST and answers it: 204 once
// every message was taken, 413 for a message over limit, 400 for a body
// that is not a batch, 404 when the connection ended meanwhile. It returns
// the error that must end the connection (a message may have been lost),
// or nil.
func (in *Inbox) ServePost(w http.ResponseWriter, r *http.Request, limit int64) error {
	err := in.Fill(r.Context(), r.Body, limit)
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
		return nil
	case errors.Is(err, errDone):
		http.Error(w, "unknown connection", http.StatusNotFound)
		return nil
	case errors.Is(err, transport.ErrTooLarge):
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
	case errors.Is(err, batch.ErrMalformed):
		http.Error(w, err.Error(), http.StatusBadRequest)
	}
	// A cancelled request or a failed read: the client cannot be told, and
	// it cannot know what was taken either.
	return err
}

// Receive is the Recv of every HTTP-based connection: the next message from
// msgs, unless the connection already ended (done closed; errf says why) or
// ctx ends. An ended connection wins over a waiting message, so a Recv after
// Close fails at once.
func Receive(ctx context.Context, msgs <-chan []byte, done <-chan struct{}, errf func() error) ([]byte, error) {
	select {
	case <-done:
		return nil, errf()
	default:
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case msg := <-msgs:
		return msg, nil
	case <-done:
		return nil, errf()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
