// Package redact keeps secrets out of the errors the transports return:
// the query of the base URL (where tokens often travel), the connection id
// of the HTTP transports (the capability to POST into and DELETE a
// connection), userinfo, and the values of the application's headers.
//
// net/http's *url.Error prints the whole request URL, and libraries wrap
// it into their own messages, so redaction works on both the structure
// (every *url.Error in the chain gets a URL with no query) and the text
// (every URL in the message loses its query, every known secret is
// replaced). The chain stays intact for errors.Is and errors.As.
package redact

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// Mask replaces a secret in a message.
const Mask = "[redacted]"

// minSecret is the shortest header or query value replaced as text: a
// shorter one ("1", "json") is no secret and would garble messages.
const minSecret = 6

// URL returns raw as scheme://host/path (or just the path of a relative
// URL, such as a redirect's Location): no userinfo, query or fragment. A
// URL that does not parse becomes Mask.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return Mask
	}
	u.User = nil
	u.RawQuery, u.ForceQuery = "", false
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

// quoteVerbs are the words before a quoted URL in the text of a
// *url.Error ("Post \"/sse?id=…\": EOF") or a parse error; that URL may be
// relative, so only its place in the message says it is one.
var quoteVerbs = [...]string{"Get", "Head", "Post", "Put", "Patch", "Delete", "Connect", "Options", "Trace", "parse"}

// schemes start what looks like an absolute URL inside a message (matched
// without regard to case).
var schemes = [...]string{"https://", "http://", "wss://", "ws://"}

// The scanners below stand where two regular expressions stood: package
// regexp added about 300 KiB to a device binary for two patterns.

// redactQuoted rewrites every `Verb "text"` of quoteVerbs as
// `Verb "URL(text)"`.
func redactQuoted(s string) string {
	var b strings.Builder
	i := 0
	for {
		j := strings.Index(s[i:], ` "`)
		if j < 0 {
			break
		}
		j += i // the space before the opening quote
		k := strings.IndexByte(s[j+2:], '"')
		if k < 0 {
			break
		}
		k += j + 2 // the closing quote
		if !verbEndsAt(s, j) {
			b.WriteString(s[i : j+1])
			i = j + 1
			continue
		}
		b.WriteString(s[i : j+2])
		b.WriteString(URL(s[j+2 : k]))
		b.WriteByte('"')
		i = k + 1
	}
	if i == 0 {
		return s
	}
	b.WriteString(s[i:])
	return b.String()
}

// verbEndsAt reports whether one of quoteVerbs, as a whole word, ends at
// s[end].
func verbEndsAt(s string, end int) bool {
	for _, v := range quoteVerbs {
		if st := end - len(v); st >= 0 && s[st:end] == v && (st == 0 || !wordByte(s[st-1])) {
			return true
		}
	}
	return false
}

// redactURLs rewrites every absolute URL of schemes (up to white space or
// one of "'<>) as URL(it).
func redactURLs(s string) string {
	var b strings.Builder
	i, done := 0, 0
	for i < len(s) {
		n := schemeAt(s, i)
		if n == 0 {
			i++
			continue
		}
		end := i + n
		for end < len(s) && !strings.ContainsRune(" \t\n\f\r\"'<>", rune(s[end])) {
			end++
		}
		if end == i+n { // a scheme with nothing after it
			i = end
			continue
		}
		b.WriteString(s[done:i])
		b.WriteString(URL(s[i:end]))
		i, done = end, end
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

// schemeAt returns the length of the scheme of schemes that starts, as a
// whole word, at s[i], or 0.
func schemeAt(s string, i int) int {
	if i > 0 && wordByte(s[i-1]) {
		return 0
	}
	for _, sc := range schemes {
		if len(s)-i >= len(sc) && strings.EqualFold(s[i:i+len(sc)], sc) {
			return len(sc)
		}
	}
	return 0
}

func wordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// Redactor removes a connection's secrets from errors. The zero value (or
// nil) still strips every URL's query and userinfo.
type Redactor struct {
	secrets []string
}

// New returns a Redactor for a connection to baseURL that sends header:
// the values of the base URL's query and userinfo, and the header values,
// are secrets, along with any extra ones (a connection id).
func New(baseURL string, header http.Header, extra ...string) *Redactor {
	r := &Redactor{}
	if u, err := url.Parse(baseURL); err == nil {
		for _, vs := range u.Query() {
			r.add(vs...)
		}
		if u.User != nil {
			p, _ := u.User.Password()
			r.add(u.User.Username(), p)
		}
		r.add(u.RawQuery)
	}
	for _, vs := range header {
		for _, v := range vs {
			r.add(v)
			// "Bearer <token>": the token alone may appear too.
			if i := strings.LastIndexByte(v, ' '); i >= 0 {
				r.add(v[i+1:])
			}
		}
	}
	r.add(extra...)
	return r
}

// With returns a Redactor that also hides the extra secrets.
func (r *Redactor) With(extra ...string) *Redactor {
	n := &Redactor{}
	if r != nil {
		n.secrets = append(n.secrets, r.secrets...)
	}
	n.add(extra...)
	return n
}

func (r *Redactor) add(vs ...string) {
	for _, v := range vs {
		if len(v) >= minSecret {
			r.secrets = append(r.secrets, v)
		}
	}
}

// String returns s with every URL's query and userinfo removed and every
// secret masked.
func (r *Redactor) String(s string) string {
	s = redactURLs(redactQuoted(s))
	if r != nil {
		for _, v := range r.secrets {
			s = strings.ReplaceAll(s, v, Mask)
		}
	}
	return s
}

// Err returns err with its secrets removed: every *url.Error in its chain
// is given a redacted URL, and if the message still holds a secret the
// result is an *Error carrying the clean message and unwrapping to err.
// Nil stays nil.
func (r *Redactor) Err(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) && e == err {
		return err // done already
	}
	walk(err, func(e error) {
		if ue, ok := e.(*url.Error); ok {
			ue.URL = URL(ue.URL)
		}
	})
	msg := err.Error()
	clean := r.String(msg)
	if clean == msg {
		return err
	}
	return &Error{msg: clean, err: err}
}

// walk calls f with each error of err's chain, both kinds of Unwrap.
func walk(err error, f func(error)) {
	for depth := 0; err != nil && depth < 100; depth++ {
		f(err)
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e, f)
			}
			return
		default:
			return
		}
	}
}

// Error is an error whose message had secrets in it. Error returns the
// message without them; Unwrap returns the original, so errors.Is and
// errors.As see net errors, timeouts and context errors as before.
type Error struct {
	msg string
	err error
}

// Error returns the redacted message.
func (e *Error) Error() string { return e.msg }

// Unwrap returns the original error.
func (e *Error) Unwrap() error { return e.err }

// Timeout reports whether the original error is a timeout, as net.Error
// does, for callers that assert the interface rather than use errors.As.
func (e *Error) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.err, &t) && t.Timeout()
}
