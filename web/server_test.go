package web_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/web"
)

func TestOps(t *testing.T) {
	t.Parallel()
	ready := errors.New("database is down")
	b := setup(t, func(c *web.Config) {
		c.Ready = func(context.Context) error { return ready }
	})
	if w := b.do("GET", "/healthz", ""); w.Code != http.StatusOK || w.Body.String() != "ok" {
		t.Fatalf("healthz %d %q", w.Code, w.Body)
	}
	w := b.do("GET", "/readyz", "")
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "database is down") {
		t.Fatalf("readyz when not ready: %d %s", w.Code, w.Body)
	}
	ok := setup(t)
	if w := ok.do("GET", "/readyz", ""); w.Code != http.StatusOK {
		t.Fatalf("readyz %d %s", w.Code, w.Body)
	}

	p := ok.cardProduct(3, "")
	ok.order(p.ID, 1)
	m := ok.send(req{method: "GET", path: "/metrics", remote: "127.0.0.1:9100"})
	body := m.Body.String()
	for _, want := range []string{
		`faka_orders_total{outcome="created"} 1`,
		`faka_orders_total{outcome="sold_out"} 0`,
		"faka_reserve_duration_seconds_count 1",
		fmt.Sprintf(`faka_stock_available{product_id="%d"} 2`, p.ID),
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
}

func TestRoutesAnswerJSON(t *testing.T) {
	t.Parallel()
	b := setup(t)
	wantError(t, b.do("GET", "/nope", ""), http.StatusNotFound, faka.ENotFound)
	wantError(t, b.do("GET", "/api/v1/nope", ""), http.StatusNotFound, faka.ENotFound)
	w := b.do("DELETE", "/api/v1/products", "")
	wantError(t, w, http.StatusMethodNotAllowed, "method_not_allowed")
	if allow := w.Header().Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
		t.Fatalf("Allow %q", allow)
	}
	wantError(t, b.do("PUT", "/api/v1/orders", "{}"), http.StatusMethodNotAllowed, "method_not_allowed")
	wantError(t, b.do("GET", "/pay/sandbox/notify", ""), http.StatusMethodNotAllowed, "method_not_allowed")
	wantError(t, b.do("POST", "/pay/nope/notify", "{}"), http.StatusNotFound, faka.ENotFound)
	wantError(t, b.do("GET", "/pay/nope/x", ""), http.StatusNotFound, faka.ENotFound)
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, path := range []string{"/healthz", "/api/v1/products", "/nope", "/api/v1/orders/X"} {
		h := b.do("GET", path, "").Header()
		for name, want := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy":        "no-referrer",
			"X-Frame-Options":        "DENY",
		} {
			if got := h.Get(name); got != want {
				t.Errorf("%s: %s = %q, want %q", path, name, got, want)
			}
		}
		if h.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: no Content-Security-Policy", path)
		}
	}
}

func TestReconcileEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.cardProduct(3, "")
	c := b.order(p.ID, 1)
	b.order(p.ID, 1)
	if w := b.notify(paid(c, "T"), sandboxSecret); w.Code != http.StatusOK {
		t.Fatalf("notify %d", w.Code)
	}
	type stock struct {
		ID                                        int64
		Imported, Available, Reserved, Sold, Void int64
	}
	rep := decode[struct {
		OK         bool             `json:"ok"`
		CheckedAt  string           `json:"checked_at"`
		Products   []stock          `json:"products"`
		Violations []faka.Violation `json:"violations"`
	}](t, b.admin("GET", "/api/v1/reconcile", ""), http.StatusOK)
	want := stock{ID: p.ID, Imported: 3, Available: 1, Reserved: 1, Sold: 1}
	if !rep.OK || rep.CheckedAt == "" || rep.Violations == nil || len(rep.Violations) != 0 ||
		len(rep.Products) != 1 || rep.Products[0] != want {
		t.Fatalf("reconcile %+v, want ok with %+v", rep, want)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	if _, err := web.New(web.Config{}); err == nil {
		t.Fatal("New without an engine succeeded")
	}
	b := setup(t)
	if _, err := web.New(web.Config{Engine: b.e, OrderRate: -1}); err == nil {
		t.Fatal("New with a negative rate succeeded")
	}
	// Two servers may share a process: nothing is registered globally.
	if _, err := web.New(web.Config{Engine: b.e}); err != nil {
		t.Fatal(err)
	}
	if _, err := web.New(web.Config{Engine: b.e}); err != nil {
		t.Fatal(err)
	}
}
