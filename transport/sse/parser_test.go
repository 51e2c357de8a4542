package sse

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/realtimekit/realtime/transport"
)

// parseAll reads every event of stream, returning them and the final error.
func parseAll(r io.Reader, max int) ([]Event, error) {
	p := NewParser(r, max)
	var evs []Event
	for {
		ev, err := p.Next()
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
}

func TestParserRules(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name   string
		stream string
		want   []Event
		err    error // io.EOF unless set
	}{
		{"LF line ends", "data: a\n\ndata: b\n\n", []Event{{Data: "a"}, {Data: "b"}}, nil},
		{"CRLF line ends", "data: a\r\n\r\ndata: b\r\n\r\n", []Event{{Data: "a"}, {Data: "b"}}, nil},
		{"CR line ends", "data: a\r\rdata: b\r\r", []Event{{Data: "a"}, {Data: "b"}}, nil},
		{"mixed line ends", "data: a\r\ndata: b\rdata: c\n\r\n", []Event{{Data: "a\nb\nc"}}, nil},
		{"CR then LF is one line end, not a blank line", "data: a\r\ndata: b\r\n\r\n", []Event{{Data: "a\nb"}}, nil},
		{"leading BOM skipped", "\xEF\xBB\xBFdata: a\n\n", []Event{{Data: "a"}}, nil},
		{"only one BOM skipped", "\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\ndata: b\n\n", []Event{{Data: "b"}}, nil},
		{"BOM later is data", "data: \xEF\xBB\xBFa\n\n", []Event{{Data: "\xEF\xBB\xBFa"}}, nil},
		{"partial BOM is not skipped", "\xEF\xBBdata: a\n\ndata: b\n\n", []Event{{Data: "b"}}, nil},
		{"comments ignored", ": hello\ndata: a\n: mid\n\n:\n\n", []Event{{Data: "a"}}, nil},
		{"field without colon has empty value", "data\ndata\n\n", []Event{{Data: "\n"}}, nil},
		{"one leading space stripped", "data:  a \n\n", []Event{{Data: " a "}}, nil},
		{"no space after colon", "data:a\n\n", []Event{{Data: "a"}}, nil},
		{"value may contain colons", "data: a: b\n\n", []Event{{Data: "a: b"}}, nil},
		{"data lines joined by LF", "data: a\ndata: b\ndata:\n\n", []Event{{Data: "a\nb\n"}}, nil},
		{"empty data is an event", "data:\n\n", []Event{{Data: ""}}, nil},
		{"event type", "event: open\ndata: x\n\n", []Event{{Type: "open", Data: "x"}}, nil},
		{"event type reset after dispatch", "event: a\ndata: 1\n\ndata: 2\n\n", []Event{{Type: "a", Data: "1"}, {Data: "2"}}, nil},
		{"event type without data is dropped", "event: a\n\ndata: 1\n\n", []Event{{Data: "1"}}, nil},
		{"id persists", "id: 7\ndata: a\n\ndata: b\n\n", []Event{{ID: "7", Data: "a"}, {ID: "7", Data: "b"}}, nil},
		{"empty id resets", "id: 7\ndata: a\n\nid\ndata: b\n\n", []Event{{ID: "7", Data: "a"}, {Data: "b"}}, nil},
		{"id with NUL ignored", "id: 7\ndata: a\n\nid: 8\x009\ndata: b\n\n", []Event{{ID: "7", Data: "a"}, {ID: "7", Data: "b"}}, nil},
		{"id of a block without data still counts", "id: 5\n\ndata: a\n\n", []Event{{ID: "5", Data: "a"}}, nil},
		{"retry", "retry: 1500\ndata: a\n\n", []Event{{Retry: 1500 * ms, Data: "a"}}, nil},
		{"retry not digits ignored", "retry: 1500\n\nretry: 15s\nretry: -1\nretry:\nretry: 1 \ndata: a\n\n", []Event{{Retry: 1500 * ms, Data: "a"}}, nil},
		{"retry overflow ignored", "retry: 99999999999999999999\ndata: a\n\n", []Event{{Data: "a"}}, nil},
		{"unknown fields ignored", "foo: bar\nData: x\ndata: a\n\n", []Event{{Data: "a"}}, nil},
		{"field names are case-sensitive", "DATA: a\n\n", nil, nil},
		{"block without data not dispatched", "event: x\nid: 1\nretry: 5\n\n", nil, nil},
		{"blank lines alone dispatch nothing", "\n\n\r\n\r", nil, nil},
		{"unterminated final event discarded", "data: a\n\ndata: b\n", []Event{{Data: "a"}}, ErrTruncated},
		{"cut mid-line", "data: a\n\ndata: b", []Event{{Data: "a"}}, ErrTruncated},
		{"cut mid-comment", "data: a\n\n: ke", []Event{{Data: "a"}}, ErrTruncated},
		{"trailing comment is a clean end", "data: a\n\n: bye\n", []Event{{Data: "a"}}, nil},
		{"empty stream", "", nil, nil},
		{"binary bytes kept", "data: \xff\x00\xfe\n\n", []Event{{Data: "\xff\x00\xfe"}}, nil},
		{"garbage", "\x00\x01\x02 not an event stream \xff", nil, ErrTruncated},
		{"html", "<html>\n<body>hi</body>\n</html>\n", nil, ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.err
			if want == nil {
				want = io.EOF
			}
			// Whole, and one byte per read: a CR ending one read and the
			// LF starting the next are one line end.
			for _, r := range []io.Reader{strings.NewReader(tc.stream), iotest.OneByteReader(strings.NewReader(tc.stream))} {
				evs, err := parseAll(r, 1<<10)
				if !errors.Is(err, want) || (want == io.EOF && err != io.EOF) {
					t.Errorf("err = %v, want %v", err, want)
				}
				if len(evs) != len(tc.want) {
					t.Fatalf("events = %+v, want %+v", evs, tc.want)
				}
				for i := range evs {
					if evs[i] != tc.want[i] {
						t.Errorf("event %d = %+v, want %+v", i, evs[i], tc.want[i])
					}
				}
			}
		})
	}
}

func TestParserTruncatedIsUnexpectedEOF(t *testing.T) {
	_, err := parseAll(strings.NewReader("data: x"), 0)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v", err)
	}
}

// A CR at the end of what the server has sent so far ends the line at once:
// the parser must not wait for the next byte to see whether it is a LF.
func TestParserDoesNotWaitAfterCR(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	p := NewParser(pr, 0)
	go func() { _, _ = pw.Write([]byte("data: a\r\r")) }()
	ev, err := p.Next()
	if err != nil || ev.Data != "a" {
		t.Fatalf("Next = %+v, %v", ev, err)
	}
	go func() { _, _ = pw.Write([]byte("\ndata: b\r\n\r\n")) }()
	if ev, err := p.Next(); err != nil || ev.Data != "b" {
		t.Fatalf("Next = %+v, %v", ev, err)
	}
}

func TestParserLimits(t *testing.T) {
	long := strings.Repeat("x", 100)
	for _, tc := range []struct {
		name, stream string
		ok           int // events before the error
	}{
		{"one long line", "data: " + long + "\n\n", 0},
		{"long comment line", ":" + long + "\n", 0},
		{"long line without end", long, 0},
		{"many data lines", strings.Repeat("data: "+long[:30]+"\n", 4) + "\n", 0},
		{"data plus type", "event: " + long[:40] + "\ndata: " + long[:40] + "\ndata: " + long[:40] + "\n\n", 0},
		{"after a good event", "data: a\n\ndata: " + long + "\n\n", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tc.stream), iotest.OneByteReader(strings.NewReader(tc.stream))} {
				evs, err := parseAll(r, 64)
				var tl *transport.TooLargeError
				if !errors.As(err, &tl) || tl.Limit != 64 || !errors.Is(err, transport.ErrTooLarge) {
					t.Fatalf("err = %v, want a TooLargeError with limit 64", err)
				}
				if len(evs) != tc.ok {
					t.Fatalf("%d events before the error, want %d", len(evs), tc.ok)
				}
			}
		})
	}
	// Exactly at the limit passes: the line "data: " plus 58 bytes is 64.
	evs, err := parseAll(strings.NewReader("data: "+long[:58]+"\n\n"), 64)
	if err != io.EOF || len(evs) != 1 {
		t.Fatalf("at the limit: %d events, %v", len(evs), err)
	}
}

func TestParserErrorsAreFinal(t *testing.T) {
	p := NewParser(strings.NewReader("data: a\n"), 0)
	if _, err := p.Next(); !errors.Is(err, ErrTruncated) {
		t.Fatalf("err = %v", err)
	}
	if _, err := p.Next(); !errors.Is(err, ErrTruncated) {
		t.Fatalf("second err = %v", err)
	}
}

func TestParserLastEventIDAndRetry(t *testing.T) {
	p := NewParser(strings.NewReader("id: 3\ndata: a\n\nid: 4\nretry: 10\n\n"), 0)
	if _, err := p.Next(); err != nil {
		t.Fatal(err)
	}
	if p.LastEventID() != "3" {
		t.Fatalf("LastEventID = %q", p.LastEventID())
	}
	if _, err := p.Next(); err != io.EOF {
		t.Fatal(err)
	}
	if p.LastEventID() != "4" || p.Retry() != 10*time.Millisecond {
		t.Fatalf("LastEventID = %q, Retry = %v after a block without data", p.LastEventID(), p.Retry())
	}
}

func FuzzParser(f *testing.F) {
	for _, s := range []string{
		"data: a\n\n", "\xEF\xBB\xBFdata: a\r\n\r\n", "event: open\ndata: x\rid: 1\r\r",
		": c\nretry: 10\ndata\n\n", "data: a\r", "id: \x00\ndata:\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		const max = 64
		whole, err1 := parseAll(strings.NewReader(string(stream)), max)
		bytewise, err2 := parseAll(iotest.OneByteReader(strings.NewReader(string(stream))), max)
		if len(whole) != len(bytewise) || (err1 == nil) != (err2 == nil) || err1.Error() != err2.Error() {
			t.Fatalf("whole: %d events, %v; one byte at a time: %d events, %v", len(whole), err1, len(bytewise), err2)
		}
		for i, ev := range whole {
			if ev != bytewise[i] {
				t.Fatalf("event %d: %+v vs %+v", i, ev, bytewise[i])
			}
			if len(ev.Data)+len(ev.Type) > max || len(ev.ID) > max {
				t.Fatalf("event over the limit: %+v", ev)
			}
		}
		if err1 != io.EOF && !errors.Is(err1, ErrTruncated) && !errors.Is(err1, transport.ErrTooLarge) {
			t.Fatalf("unexpected error %v", err1)
		}
	})
}

func BenchmarkParser(b *testing.B) {
	ev := "id: 12345\ndata: " + strings.Repeat(`{"t":"msg","s":1,"c":"chat","d":"hello"}`, 4) + "\n\n"
	stream := strings.Repeat(ev, 1000)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		p := NewParser(strings.NewReader(stream), 0)
		for {
			if _, err := p.Next(); err != nil {
				break
			}
		}
	}
}

// One large event must not leave its buffers behind for the stream's life:
// an idle stream after a burst holds no more than maxKept.
func TestLargeEventBuffersAreLetGo(t *testing.T) {
	big := strings.Repeat("x", 3*maxKept)
	p := NewParser(strings.NewReader("data: "+big+"\n\ndata: small\n\n"), 0)
	ev, err := p.Next()
	if err != nil || ev.Data != big {
		t.Fatalf("first event: %v, %d bytes", err, len(ev.Data))
	}
	if cap(p.data) > maxKept || cap(p.line) > maxKept {
		t.Fatalf("after a %d-byte event the parser keeps %d + %d bytes of buffer", len(big), cap(p.data), cap(p.line))
	}
	ev, err = p.Next()
	if err != nil || ev.Data != "small" {
		t.Fatalf("second event: %+v, %v", ev, err)
	}
}
