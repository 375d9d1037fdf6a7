package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/faka-dev/faka/web"
)

// L5: wrong bearer tokens are rate-limited per client. After ten wrong
// guesses a client gets 429 for any bearer token, the right one too, so
// the answer tells it nothing; another client is not affected.
func TestWrongBearerTokensLimited(t *testing.T) {
	t.Parallel()
	b := setup(t)
	guess := func(remote, token string) int {
		return b.send(req{method: "GET", path: "/api/v1/reconcile", remote: remote,
			headers: []string{"Authorization", "Bearer " + token}}).Code
	}
	for i := range 10 {
		if code := guess("198.51.100.7:1", "wrong-token-"+strings.Repeat("x", i)); code != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d, want 401", i, code)
		}
	}
	w := b.send(req{method: "GET", path: "/api/v1/reconcile", remote: "198.51.100.7:1",
		headers: []string{"Authorization", "Bearer wrong-token-11"}})
	wantError(t, w, http.StatusTooManyRequests, "rate_limited")
	if w.Header().Get("Retry-After") == "" {
		t.Fatalf("11th wrong token: no Retry-After in %v", w.Header())
	}
	if code := guess("198.51.100.7:1", adminToken); code != http.StatusTooManyRequests {
		t.Fatalf("the right token from the limited client: %d, want 429", code)
	}
	if code := guess("192.0.2.1:1", adminToken); code != http.StatusOK {
		t.Fatalf("the right token from another client: %d, want 200", code)
	}
}

// L5: the server refuses an admin token shorter than 32 characters.
func TestShortAdminTokenRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := web.New(web.Config{Engine: b.e, AdminToken: "short-tok"})
	if err == nil || !strings.Contains(err.Error(), "at least 32") {
		t.Fatalf("a 9-character admin token: %v", err)
	}
}
