package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// readLimit matches the SDK's default, so that neither side of a
// comparison is cut short by coder/websocket's 32 KiB default.
const readLimit = 1 << 20

// Fin ends a one-way WebSocket run: the sink answers it with one message,
// which tells the writer that everything before it was read.
var Fin = []byte("fin")

// Server is an HTTP server on a random port of 127.0.0.1.
type Server struct {
	URL string
	srv *http.Server
	wg  sync.WaitGroup
}

// Serve starts h on 127.0.0.1. Close the server when done.
func Serve(h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://" + ln.Addr().String(), srv: &http.Server{Handler: h}}
	s.wg.Go(func() { _ = s.srv.Serve(ln) })
	return s, nil
}

// Close stops the server, cutting hijacked WebSocket connections too, and
// waits for its accept loop.
func (s *Server) Close() {
	_ = s.srv.Close()
	s.wg.Wait()
}

func accept(w http.ResponseWriter, r *http.Request) (*websocket.Conn, bool) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return nil, false
	}
	c.SetReadLimit(readLimit)
	return c, true
}

// WSSink reads messages, handing each to onMsg, until Fin, which it answers.
func WSSink(onMsg func([]byte)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := accept(w, r)
		if !ok {
			return
		}
		defer c.CloseNow()
		for {
			_, m, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if bytes.Equal(m, Fin) {
				if c.Write(r.Context(), websocket.MessageText, Fin) != nil {
					return
				}
				continue
			}
			if onMsg != nil {
				onMsg(m)
			}
		}
	})
}

// WSEcho writes every message back.
func WSEcho() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := accept(w, r)
		if !ok {
			return
		}
		defer c.CloseNow()
		for {
			typ, m, err := c.Read(r.Context())
			if err != nil || c.Write(r.Context(), typ, m) != nil {
				return
			}
		}
	})
}

// WSAcker answers every message with an 8-byte count, the smallest ack
// that still names what it acknowledges.
func WSAcker() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := accept(w, r)
		if !ok {
			return
		}
		defer c.CloseNow()
		var ack [8]byte
		for n := uint64(1); ; n++ {
			if _, _, err := c.Read(r.Context()); err != nil {
				return
			}
			binary.BigEndian.PutUint64(ack[:], n)
			if c.Write(r.Context(), websocket.MessageBinary, ack[:]) != nil {
				return
			}
		}
	})
}

// SSE streams each message of msgs as one event and flushes it, as a
// hand-written event-stream endpoint does; it returns when msgs is closed.
func SSE(msgs <-chan []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := w.(http.Flusher)
		if !ok {
			http.Error(w, "no flusher", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		f.Flush()
		bw := bufio.NewWriter(w)
		for {
			select {
			case m, ok := <-msgs:
				if !ok {
					return
				}
				bw.WriteString("data: ")
				bw.Write(m)
				bw.WriteString("\n\n")
				if bw.Flush() != nil {
					return
				}
				f.Flush()
			case <-r.Context().Done():
				return
			}
		}
	})
}

// ReadSSE calls onData with the data of each event on body until it
// returns false or the stream ends.
func ReadSSE(body io.Reader, onData func([]byte) bool) error {
	br := bufio.NewReaderSize(body, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if d, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
			if !onData(bytes.TrimRight(d, "\n")) {
				return nil
			}
		}
	}
}

// maxBatch bounds one long-poll response, as a real server bounds it so
// that one response cannot hold a client's memory hostage.
const maxBatch = 256

// LongPoll holds each GET until msgs has something (or hold passes, then
// 204), then answers with what is queued, one message per line, at most
// maxBatch of them.
func LongPoll(msgs <-chan []byte, hold time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := time.NewTimer(hold)
		defer t.Stop()
		var first []byte
		select {
		case m, ok := <-msgs:
			if !ok {
				w.WriteHeader(http.StatusGone)
				return
			}
			first = m
		case <-t.C:
			w.WriteHeader(http.StatusNoContent)
			return
		case <-r.Context().Done():
			return
		}
		var buf bytes.Buffer
		buf.Write(first)
		buf.WriteByte('\n')
	drain:
		for range maxBatch - 1 {
			select {
			case m, ok := <-msgs:
				if !ok {
					break drain
				}
				buf.Write(m)
				buf.WriteByte('\n')
			default:
				break drain
			}
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(buf.Bytes())
	})
}

// Poll makes one long-poll request and calls onMsg with each message of
// the batch. It reports whether the server had anything.
func Poll(ctx context.Context, hc *http.Client, url string, onMsg func([]byte)) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNoContent:
		return false, nil
	default:
		return false, errors.New("bench: poll: " + resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), readLimit)
	for sc.Scan() {
		onMsg(sc.Bytes())
	}
	return true, sc.Err()
}

// Sink answers every POST with 204 once it has read the body: the raw
// shape of an acknowledged publish over plain HTTP.
func Sink() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	})
}

// Post sends body and waits for the answer, reusing the connection.
func Post(ctx context.Context, hc *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return errors.New("bench: post: " + resp.Status)
	}
	return nil
}
