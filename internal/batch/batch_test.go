package batch

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"go.uber.org/goleak"

	"github.com/realtimekit/realtime/internal/leakcheck"
	"github.com/realtimekit/realtime/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, leakcheck.Options()...) }

func TestAppendSplit(t *testing.T) {
	var body []byte
	body = Append(body, []byte(`{"t":"ping"}`))
	body = Append(body, []byte(`{"t":"ack","a":42}`))
	body = Append(body, nil)
	want := `12:{"t":"ping"}18:{"t":"ack","a":42}0:`
	if string(body) != want {
		t.Fatalf("Append = %q, want %q", body, want)
	}
	msgs, err := Split(body, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 || string(msgs[0]) != `{"t":"ping"}` || string(msgs[1]) != `{"t":"ack","a":42}` || len(msgs[2]) != 0 {
		t.Fatalf("Split = %q", msgs)
	}
	for _, n := range []int{0, 9, 10, 99, 100, 12345} {
		if got := len(Append(nil, make([]byte, n))); got != Size(n) {
			t.Errorf("Size(%d) = %d, Append wrote %d", n, Size(n), got)
		}
	}
}

func TestSplitErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		limit      int64
		want       error
		off        int64
	}{
		{"empty body", "", 10, nil, 0},
		{"no digits", ":abc", 10, ErrLength, 0},
		{"letter in length", "1a:x", 10, ErrLength, 0},
		{"negative", "-1:", 10, ErrLength, 0},
		{"space", " 1:x", 10, ErrLength, 0},
		{"leading zero", "01:x", 10, ErrLeadingZero, 0},
		{"double zero", "00:", 10, ErrLeadingZero, 0},
		{"eleven digits", "12345678901:", 1 << 40, ErrLengthDigits, 0},
		{"ten digits over limit", "9999999999:", 1 << 20, transport.ErrTooLarge, 0},
		{"over limit", "11:hello world", 10, transport.ErrTooLarge, 0},
		{"prefix without colon", "5", 10, ErrTruncated, 0},
		{"message cut", "5:hel", 10, ErrTruncated, 0},
		{"second message cut", "1:a5:hel", 10, ErrTruncated, 3},
		{"second length bad", "1:ax:", 10, ErrLength, 3},
		{"at limit", "10:0123456789", 10, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Split([]byte(tc.body), tc.limit)
			checkErr(t, err, tc.want, tc.off)
			// The streaming reader agrees, fed one byte at a time.
			r := NewReader(iotest.OneByteReader(strings.NewReader(tc.body)), tc.limit)
			for err = nil; err == nil; _, err = r.Next() {
			}
			if err == io.EOF {
				err = nil
			}
			checkErr(t, err, tc.want, tc.off)
		})
	}
}

func checkErr(t *testing.T, err, want error, off int64) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	var se *SyntaxError
	if errors.As(err, &se) {
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%v does not match ErrMalformed", err)
		}
		if se.Offset != off {
			t.Errorf("offset = %d, want %d", se.Offset, off)
		}
	}
	var tl *transport.TooLargeError
	if errors.Is(want, transport.ErrTooLarge) && !errors.As(err, &tl) {
		t.Errorf("%v is not a *transport.TooLargeError", err)
	}
}

func TestTruncatedIsUnexpectedEOF(t *testing.T) {
	_, err := Split([]byte("3:ab"), 10)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestReaderPassesReadErrors(t *testing.T) {
	boom := errors.New("boom")
	for _, body := range []string{"", "5", "5:ab"} {
		r := NewReader(io.MultiReader(strings.NewReader(body), iotest.ErrReader(boom)), 10)
		if _, err := r.Next(); !errors.Is(err, boom) {
			t.Errorf("body %q: err = %v, want boom", body, err)
		}
		if _, err := r.Next(); !errors.Is(err, boom) {
			t.Errorf("body %q: second Next: err = %v, want boom again", body, err)
		}
	}
}

func TestReaderOwnsMessages(t *testing.T) {
	r := NewReader(strings.NewReader("1:a1:b"), 0)
	a, _ := r.Next()
	b, _ := r.Next()
	if string(a) != "a" || string(b) != "b" {
		t.Fatalf("got %q %q", a, b)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("err = %v, want io.EOF", err)
	}
}

func FuzzSplit(f *testing.F) {
	for _, s := range []string{"", "0:", "1:a", `12:{"t":"ping"}`, "01:", "5:abc", "99999999999:", "3:abc2:de"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		msgs, err := Split(body, 64)
		var re []byte
		for _, m := range msgs {
			if len(m) > 64 {
				t.Fatalf("message of %d bytes over the limit", len(m))
			}
			re = Append(re, m)
		}
		if err == nil && !bytes.Equal(re, body) {
			t.Fatalf("Append(Split(%q)) = %q", body, re)
		}
		if err != nil && !bytes.HasPrefix(body, re) {
			t.Fatalf("messages before the error do not re-encode to a prefix")
		}
		// The streaming reader sees the same messages and the same error.
		r := NewReader(bytes.NewReader(body), 64)
		for i := 0; ; i++ {
			m, rerr := r.Next()
			if rerr != nil {
				if (rerr == io.EOF) != (err == nil) || i != len(msgs) {
					t.Fatalf("Reader: %v after %d messages; Split: %v after %d", rerr, i, err, len(msgs))
				}
				break
			}
			if i >= len(msgs) || !bytes.Equal(m, msgs[i]) {
				t.Fatalf("Reader message %d = %q", i, m)
			}
		}
		// Whatever Split accepts as messages, Append then Split returns.
		if len(body) <= 64 {
			back, err := Split(Append(nil, body), 64)
			if err != nil || len(back) != 1 || !bytes.Equal(back[0], body) {
				t.Fatalf("round trip of %q: %q, %v", body, back, err)
			}
		}
	})
}
