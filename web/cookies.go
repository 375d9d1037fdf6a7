package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"time"
)

// Cookies. Over https every cookie is Secure, HttpOnly and carries the
// __Host- prefix, which makes the browser refuse one set by another
// subdomain or over plain http. A shop whose public URL is plain http (a
// localhost demo) cannot set Secure cookies, so there, and only there, the
// same cookies go without the prefix and without Secure.
const (
	sessionCookie = "faka_admin"  // console session: random token, stored hashed
	ordersCookie  = "faka_orders" // the buyer's remembered orders: random token, stored hashed
	langCookie    = "faka_lang"   // the chosen language
)

// cookieName returns the name a cookie goes by on this server.
func (s *Server) cookieName(base string) string {
	if s.secure {
		return "__Host-" + base
	}
	return base
}

// setCookie sets a host-only cookie for the whole site.
func (s *Server) setCookie(w http.ResponseWriter, base, value string, maxAge time.Duration, same http.SameSite) {
	http.SetCookie(w, &http.Cookie{
		Name:     s.cookieName(base),
		Value:    value,
		Path:     "/",
		MaxAge:   int(maxAge / time.Second),
		Secure:   s.secure,
		HttpOnly: true,
		SameSite: same,
	})
}

// clearCookie deletes a cookie.
func (s *Server) clearCookie(w http.ResponseWriter, base string, same http.SameSite) {
	http.SetCookie(w, &http.Cookie{
		Name: s.cookieName(base), Value: "", Path: "/", MaxAge: -1,
		Secure: s.secure, HttpOnly: true, SameSite: same,
	})
}

// newToken returns 32 random bytes, base64url-encoded.
func newToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken is what the database keeps of a cookie token.
func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// validToken reports whether s looks like a token newToken made, so that
// junk cookies never reach the database.
func validToken(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// purgeEvery is how often expired console sessions and remembered orders
// are deleted.
const purgeEvery = time.Hour

// maybePurge deletes expired sessions and lookup tokens, at most once per
// purgeEvery, on the back of a request that writes them anyway. Several
// instances may purge at once; the deletes are idempotent.
func (s *Server) maybePurge(ctx context.Context) {
	now := time.Now().Unix()
	next := s.nextPurge.Load()
	if now < next || !s.nextPurge.CompareAndSwap(next, now+int64(purgeEvery/time.Second)) {
		return
	}
	if _, err := s.accounts.SessionsPurge(ctx); err != nil {
		s.log.Warn("web: purge expired sessions", "err", err)
	}
	if _, err := s.shop.LookupTokensPurge(ctx); err != nil {
		s.log.Warn("web: purge expired lookup tokens", "err", err)
	}
}
