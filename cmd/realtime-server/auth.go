package main

import (
	"bufio"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/realtimekit/realtime/server"
)

// grant is what an identity may do: channel patterns (path.Match) it may
// subscribe to and publish on. nil means every channel.
type grant struct {
	channels []string
}

func (g grant) allows(channel string) bool {
	if g.channels == nil {
		return true
	}
	for _, p := range g.channels {
		if ok, err := path.Match(p, channel); err == nil && ok {
			return true
		}
	}
	return false
}

// authorize refuses a channel outside the identity's grant with 4003.
func authorize(_ context.Context, a server.Access) error {
	g, _ := a.Client.Identity.Data.(grant)
	if !g.allows(a.Channel) {
		return &server.Refusal{Code: 4003, Reason: "forbidden: channel not granted"}
	}
	return nil
}

// bearerToken returns the token of "Authorization: Bearer <token>", or
// of the ?token= parameter for browsers' EventSource, which cannot send
// headers.
func bearerToken(r *http.Request) string {
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	return r.URL.Query().Get("token")
}

var errNoToken = errors.New("no bearer token")

// claims are the token's claims: the standard ones, and "channels", the
// patterns the holder may use (absent: every channel).
type claims struct {
	jwt.RegisteredClaims
	Channels *[]string `json:"channels,omitempty"`
}

// jwtAuth authenticates HMAC-signed JWTs (HS256, HS384, HS512) with key.
// The token must have a subject and, if issuer or audience are set,
// match them; expiry and not-before are checked.
func jwtAuth(key []byte, issuer, audience string) func(*http.Request) (server.Identity, error) {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{"HS256", "HS384", "HS512"}),
		jwt.WithExpirationRequired(),
	}
	if issuer != "" {
		opts = append(opts, jwt.WithIssuer(issuer))
	}
	if audience != "" {
		opts = append(opts, jwt.WithAudience(audience))
	}
	parser := jwt.NewParser(opts...)
	keyFunc := func(*jwt.Token) (any, error) { return key, nil }
	return func(r *http.Request) (server.Identity, error) {
		raw := bearerToken(r)
		if raw == "" {
			return server.Identity{}, errNoToken
		}
		var c claims
		if _, err := parser.ParseWithClaims(raw, &c, keyFunc); err != nil {
			return server.Identity{}, errors.New("invalid token") // the token stays out of errors
		}
		if c.Subject == "" {
			return server.Identity{}, errors.New("token without subject")
		}
		g := grant{}
		if c.Channels != nil {
			g.channels = append([]string{}, *c.Channels...)
		}
		return server.Identity{ID: c.Subject, Data: g}, nil
	}
}

// staticToken is one line of a token file.
type staticToken struct {
	token string
	id    server.Identity
}

// loadTokenFile reads a token file; see parseTokens.
func loadTokenFile(name string) ([]staticToken, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseTokens(name, f)
}

// parseTokens reads "token subject [channel-pattern ...]" lines; blank
// lines and lines starting with # are skipped. Errors name the line, never
// its content, which holds a token.
func parseTokens(name string, r io.Reader) ([]staticToken, error) {
	var out []staticToken
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			return nil, fmt.Errorf("%s:%d: want \"token subject [channels...]\"", name, n)
		}
		g := grant{}
		if len(fields) > 2 {
			g.channels = fields[2:]
			for _, p := range g.channels {
				if _, err := path.Match(p, ""); err != nil {
					return nil, fmt.Errorf("%s:%d: bad channel pattern", name, n)
				}
			}
		}
		out = append(out, staticToken{token: fields[0], id: server.Identity{ID: fields[1], Data: g}})
	}
	return out, sc.Err()
}

func tokenAuth(tokens []staticToken) func(*http.Request) (server.Identity, error) {
	return func(r *http.Request) (server.Identity, error) {
		raw := bearerToken(r)
		if raw == "" {
			return server.Identity{}, errNoToken
		}
		for _, t := range tokens {
			if subtle.ConstantTimeCompare([]byte(t.token), []byte(raw)) == 1 {
				return t.id, nil
			}
		}
		return server.Identity{}, errors.New("unknown token")
	}
}
