package protocol_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/realtimekit/realtime/codec"
	"github.com/realtimekit/realtime/internal/protocol"
)

func TestCheckHeader(t *testing.T) {
	full := make(map[string]string)
	for i := range protocol.MaxHeaders {
		full["k"+strconv.Itoa(i)] = ""
	}
	over := map[string]string{"x": ""}
	for k, v := range full {
		over[k] = v
	}
	big := map[string]string{"k": strings.Repeat("v", protocol.MaxHeaderBytes-1)}
	for _, tc := range []struct {
		name string
		h    map[string]string
		ok   bool
	}{
		{"nil", nil, true},
		{"traceparent", map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}, true},
		{"16 entries", full, true},
		{"17 entries", over, false},
		{"4096 bytes", big, true},
		{"4097 bytes", map[string]string{"kk": big["k"]}, false},
		{"empty key", map[string]string{"": "v"}, false},
		{"control in key", map[string]string{"a\nb": "v"}, false},
		{"control in value", map[string]string{"k": "a\nb"}, true},
		{"invalid UTF-8 key", map[string]string{"\xff": "v"}, false},
		{"invalid UTF-8 value", map[string]string{"k": "\xff"}, false},
	} {
		err := protocol.CheckHeader(tc.h)
		if tc.ok != (err == nil) {
			t.Errorf("%s: %v, want ok %v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, protocol.ErrHeader) {
			t.Errorf("%s: %v does not wrap ErrHeader", tc.name, err)
		}
		if err != nil && strings.Contains(err.Error(), "vvvv") {
			t.Errorf("%s: the error quotes the header: %v", tc.name, err)
		}
	}
}

// A header counts towards the size of a publish: a payload that fits
// alone does not fit with a header that pushes it over.
func TestFitsPublishHeader(t *testing.T) {
	h := map[string]string{"k": strings.Repeat("\x01", 4000)} // JSON: six bytes each
	for _, c := range []codec.Codec{codec.JSON{}, codec.CBOR{}} {
		msg, err := c.Encode(nil, codec.Frame{Type: codec.TypePublish, Seq: 1<<64 - 1, Channel: "ch", Data: []byte("hi"), Header: h})
		if err != nil {
			t.Fatal(err)
		}
		limit := len(msg)
		if err := protocol.FitsPublish(c, limit, "ch", []byte("hi"), h); err != nil {
			t.Errorf("%s: exactly at the limit: %v", c.Name(), err)
		}
		if err := protocol.FitsPublish(c, limit-1, "ch", []byte("hi"), h); !errors.Is(err, protocol.ErrTooLarge) {
			t.Errorf("%s: one byte over: %v, want ErrTooLarge", c.Name(), err)
		}
		if err := protocol.FitsPublish(c, limit-1, "ch", []byte("hi"), nil); err != nil {
			t.Errorf("%s: without the header: %v", c.Name(), err)
		}
	}
}
