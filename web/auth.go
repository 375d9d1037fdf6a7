package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/faka-dev/faka"
)

// tokenSum hashes a token so that comparing two takes the same time
// whatever their lengths.
func tokenSum(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// isAdmin reports whether r carries the admin bearer token. An empty
// AdminToken closes the admin API.
func (s *Server) isAdmin(r *http.Request) bool {
	if s.cfg.AdminToken == "" {
		return false
	}
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return false
	}
	sum := tokenSum(strings.TrimSpace(token))
	return subtle.ConstantTimeCompare(sum[:], s.adminSum[:]) == 1
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
