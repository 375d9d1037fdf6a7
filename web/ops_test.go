package web_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/faka-dev/faka/web"
)

// loopbackProxy trusts a reverse proxy on the same host.
var loopbackProxy = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// L7: /metrics (stock per product, sales counters) answers loopback
// clients; others only with FAKA_METRICS_TOKEN, and never through a
// trusted proxy on the same host that forwards a remote client.
func TestMetricsOnlyLoopbackOrToken(t *testing.T) {
	t.Parallel()
	get := func(b *bundle, remote string, headers ...string) int {
		return b.send(req{method: "GET", path: "/metrics", remote: remote, headers: headers}).Code
	}
	closed := setup(t, func(c *web.Config) { c.TrustedProxies = loopbackProxy })
	wantError(t, closed.send(req{method: "GET", path: "/metrics", remote: "203.0.113.5:4000"}), http.StatusForbidden, "forbidden")
	if code := get(closed, "127.0.0.1:4000"); code != http.StatusOK {
		t.Fatalf("loopback client: %d", code)
	}
	if code := get(closed, "[::1]:4000"); code != http.StatusOK {
		t.Fatalf("IPv6 loopback client: %d", code)
	}
	if code := get(closed, "127.0.0.1:4000", "X-Forwarded-For", "203.0.113.5"); code != http.StatusForbidden {
		t.Fatalf("a remote client through the local proxy: %d, want 403", code)
	}

	const token = "metrics-token-0123456789abcdef0123"
	open := setup(t, func(c *web.Config) { c.MetricsToken = token })
	if code := get(open, "203.0.113.5:4000"); code != http.StatusUnauthorized {
		t.Fatalf("a remote client without the token: %d, want 401", code)
	}
	if code := get(open, "203.0.113.5:4000", "Authorization", "Bearer wrong"+token); code != http.StatusUnauthorized {
		t.Fatalf("a remote client with a wrong token: %d, want 401", code)
	}
	w := open.send(req{method: "GET", path: "/metrics", remote: "203.0.113.5:4000", headers: []string{"Authorization", "Bearer " + token}})
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "faka_orders_total") {
		t.Fatalf("a remote client with the token: %d", w.Code)
	}
}

// HSTS: an https shop tells browsers to stay on https; an http one does
// not (a browser would then refuse the localhost demo).
func TestHSTSOnHTTPS(t *testing.T) {
	t.Parallel()
	https := setup(t, func(c *web.Config) { c.PublicURL = "https://shop.example" })
	if h := https.do("GET", "/healthz", "").Header().Get("Strict-Transport-Security"); !strings.HasPrefix(h, "max-age=") {
		t.Fatalf("https shop: Strict-Transport-Security %q", h)
	}
	if h := setup(t).do("GET", "/healthz", "").Header().Get("Strict-Transport-Security"); h != "" {
		t.Fatalf("http shop: Strict-Transport-Security %q", h)
	}
}
