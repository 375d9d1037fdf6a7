package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"

	"github.com/faka-dev/faka"
)

// tokenSum hashes a token so that comparing two takes the same time
// whatever their lengths.
func tokenSum(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// MinAdminTokenLength is the shortest admin bearer token New accepts: 32
// characters of a random hex or base64 string are at least 128 bits.
const MinAdminTokenLength = 32

// CheckAdminToken reports why token cannot be the admin API's bearer
// token, or nil: a short one can be guessed.
func CheckAdminToken(token string) error {
	if n := len(token); n < MinAdminTokenLength {
		return fmt.Errorf("the admin token has %d characters and needs at least %d; make one with: openssl rand -hex 32", n, MinAdminTokenLength)
	}
	return nil
}

// badTokensPerClient is how many wrong bearer tokens one client may
// present a minute before every bearer token of it is refused for a while.
const badTokensPerClient = 10

// bearer returns the bearer token of r, or "".
func bearer(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// isAdmin reports whether r carries the admin bearer token. An empty
// AdminToken closes the admin API.
func (s *Server) isAdmin(r *http.Request) bool {
	return s.cfg.AdminToken != "" && s.isAdminToken(bearer(r))
}

func (s *Server) isAdminToken(token string) bool {
	if token == "" {
		return false
	}
	sum := tokenSum(token)
	return subtle.ConstantTimeCompare(sum[:], s.adminSum[:]) == 1
}

// guardBearer throttles guessing at the admin token: a client that
// presented too many wrong ones gets 429 for any bearer token, right or
// wrong, until its bucket refills, so the answer tells it nothing. It
// reports whether the request may go on.
func (s *Server) guardBearer(w http.ResponseWriter, r *http.Request) bool {
	token := bearer(r)
	if token == "" || s.cfg.AdminToken == "" && s.cfg.MetricsToken == "" {
		return true
	}
	client := s.clientKey(r)
	if wait, blocked := s.badTokens.blocked(client); blocked {
		s.rateLimited(w, r, wait, "too many wrong bearer tokens from your network")
		return false
	}
	if !s.isAdminToken(token) && !s.isMetricsToken(token) {
		s.badTokens.allow(client)
	}
	return true
}

// admin lets only admin requests through to h.
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.isAdmin(r) {
			s.unauthorized(w, r, "this endpoint needs Authorization: Bearer <admin token>")
			return
		}
		h(w, r)
	}
}

func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="faka"`)
	s.writeError(w, r, faka.Errorf(faka.EUnauthorized, "%s", msg))
}

// buyerToken returns the order token from X-Order-Token or ?token=.
func buyerToken(r *http.Request) string {
	if t := r.Header.Get("X-Order-Token"); t != "" {
		return t
	}
	return r.URL.Query().Get("token")
}
