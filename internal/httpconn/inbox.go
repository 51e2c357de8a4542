package httpconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/realtimekit/realtime/internal/batch"
	"github.com/realtimekit/realtime/transport"
)

// Inbox hands the messages of a server connection's upstream POSTs to its
// Recv. It holds no message itself: a POST hands each message over only
// when Recv takes it, so a server that stops reading holds the client's
// POST (and, through it, the client's queue) instead of buffering without
// bound.
//
// A POST numbered with PostHeader is taken at most once: the client resends
// a POST whose answer it did not get, under the same number, and the Inbox
// answers a number it has taken already without delivering anything again.
type Inbox struct {
	c    chan []byte
	turn chan struct{} // cap 1: held by the POST being delivered
	done <-chan struct{}

	// Held with turn:
	taken  uint64 // the number of the last numbered POST taken whole
	broken bool   // a numbered POST failed part way: its resend cannot be told apart
}

// PostHeader numbers a client's upstream POSTs, 1, 2, 3, … per connection,
// a resend keeping its number: the server takes each number once.
const PostHeader = "X-Realtime-Post"

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
	return in.fill(ctx, r, limit, 0)
}

// errPostNumber is a POST whose number skips one: the client lost count.
var errPostNumber = fmt.Errorf("%w: the POST number does not follow the last one", batch.ErrMalformed)

// fill is Fill of POST number n, 0 for an unnumbered POST.
func (in *Inbox) fill(ctx context.Context, r io.Reader, limit int64, n uint64) (err error) {
	select {
	case in.turn <- struct{}{}:
	case <-in.done:
		return errDone
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-in.turn }()
	if n > 0 {
		switch {
		case in.broken:
			return errDone // the connection is ending
		case n <= in.taken:
			return nil // a resend of a POST taken whole: an answer was lost
		case n != in.taken+1:
			return errPostNumber
		}
		defer func() {
			if err == nil {
				in.taken = n
			} else {
				in.broken = true
			}
		}()
	}
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
//
// A POST numbered with PostHeader that was taken already is answered 204
// and delivers nothing.
func (in *Inbox) ServePost(w http.ResponseWriter, r *http.Request, limit int64) error {
	var n uint64
	if h := r.Header.Get(PostHeader); h != "" {
		var err error
		if n, err = strconv.ParseUint(h, 10, 64); err != nil || n == 0 {
			http.Error(w, "bad "+PostHeader, http.StatusBadRequest)
			return fmt.Errorf("httpconn: %w: bad %s %q", batch.ErrMalformed, PostHeader, h)
		}
	}
	err := in.fill(r.Context(), r.Body, limit, n)
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
