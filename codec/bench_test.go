package codec_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/realtimekit/realtime/codec"
)

// benchPayload is JSON-like text, the common case for payloads; its quotes
// make the JSON encoder escape.
func benchPayload(size int) []byte {
	return []byte(strings.Repeat(`{"user":"ada","text":"hi"}`, size/26+1)[:size])
}

type benchCase struct {
	name   string
	frames []codec.Frame
}

func benchCases() []benchCase {
	var cases []benchCase
	for _, size := range []int{64, 1024} {
		for _, n := range []int{1, 16} {
			frames := make([]codec.Frame, n)
			for i := range frames {
				frames[i] = codec.Frame{Type: codec.TypePublish, Seq: uint64(1000 + i), Channel: "room/42", Data: benchPayload(size)}
			}
			cases = append(cases, benchCase{fmt.Sprintf("payload=%dB/frames=%d", size, n), frames})
		}
	}
	return cases
}

func BenchmarkEncode(b *testing.B) {
	for _, c := range codecs {
		for _, bc := range benchCases() {
			b.Run(c.Name()+"/"+bc.name, func(b *testing.B) {
				buf, err := c.Encode(nil, bc.frames...)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(buf)))
				b.ReportAllocs()
				for b.Loop() {
					buf, err = c.Encode(buf[:0], bc.frames...)
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, c := range codecs {
		for _, bc := range benchCases() {
			b.Run(c.Name()+"/"+bc.name, func(b *testing.B) {
				msg, err := c.Encode(nil, bc.frames...)
				if err != nil {
					b.Fatal(err)
				}
				frames := make([]codec.Frame, 0, len(bc.frames))
				b.SetBytes(int64(len(msg)))
				b.ReportAllocs()
				for b.Loop() {
					frames, err = c.Decode(frames[:0], msg)
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
