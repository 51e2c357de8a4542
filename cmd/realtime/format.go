package main

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/realtimekit/realtime"
)

// formatMessage renders a received message as one line of output:
//
//	< news #1: hello                     valid UTF-8, every rune graphic: as is
//	< news #2 (quoted): "a\tb\x1b[2J"    valid UTF-8 with control runes: Go-quoted
//	< news #3 (base64, 4 bytes): 3q2+7w==  not UTF-8
//	< news #4 (empty)
//	< news #5 (7 bytes)                  with -no-payloads
//
// A payload never spans lines nor reaches the terminal as control
// sequences. Binary payloads are base64 rather than hex: a third larger
// instead of twice as large (payloads go up to 1 MiB), and `base64 -d`
// turns the line back into the bytes (`| base64 -d | xxd` to read them).
func formatMessage(m realtime.Message, payloads bool) string {
	head := fmt.Sprintf("< %s #%d", m.Channel, m.Seq)
	switch {
	case !payloads:
		return fmt.Sprintf("%s (%d bytes)\n", head, len(m.Data))
	case len(m.Data) == 0:
		return head + " (empty)\n"
	case !utf8.Valid(m.Data):
		return fmt.Sprintf("%s (base64, %d bytes): %s\n", head, len(m.Data), base64.StdEncoding.EncodeToString(m.Data))
	case !graphic(m.Data):
		return fmt.Sprintf("%s (quoted): %s\n", head, strconv.QuoteToGraphic(string(m.Data)))
	}
	return fmt.Sprintf("%s: %s\n", head, m.Data)
}

// graphic reports whether every rune of b prints as itself (letters,
// marks, numbers, punctuation, symbols, spaces), so b is safe to print raw.
func graphic(b []byte) bool {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if !strconv.IsGraphic(r) {
			return false
		}
		b = b[n:]
	}
	return true
}

// printable returns s as is when every rune is graphic, else Go-quoted, so
// text from the server (a refusal's reason) cannot drive the terminal.
func printable(s string) string {
	if utf8.ValidString(s) && graphic([]byte(s)) {
		return s
	}
	return strconv.QuoteToGraphic(s)
}

// linePrefix bounds how much of an input line an ack line repeats.
const linePrefix = 20

// lineRef names input line n (from 1) in an ack or refusal: its number and
// its first runes, quoted, with its size when it is cut short:
//
//	line 3 "forbidden"
//	line 7 "a long line that goe"... (812 bytes)
func lineRef(n int, line string) string {
	end, runes := 0, 0
	for end < len(line) && runes < linePrefix {
		_, w := utf8.DecodeRuneInString(line[end:])
		end += w
		runes++
	}
	ref := fmt.Sprintf("line %d %s", n, strconv.QuoteToGraphic(line[:end]))
	if end < len(line) {
		ref += fmt.Sprintf("... (%d bytes)", len(line))
	}
	return ref
}
