package web_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/faka-dev/faka/web"
)

// TestAccessLog checks one access line per request with the method, the
// route pattern, the status, the duration and the request id that the
// response carries, and that no line holds a token, a key or a query.
func TestAccessLog(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	b := setup(t, func(c *web.Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	p := b.cardProduct(2, "")
	o := b.order(p.ID, 1)
	b.notify(paid(o, "T-1"), sandboxSecret)
	got := b.do("GET", "/api/v1/orders/"+o.OrderNo+"?token="+o.Token, "", web.RequestIDHeader, "proxy-id-1234")
	if got.Code != http.StatusOK || got.Header().Get(web.RequestIDHeader) != "proxy-id-1234" {
		t.Fatalf("order view: %d, request id %q", got.Code, got.Header().Get(web.RequestIDHeader))
	}
	missing := b.do("GET", "/api/v1/nothing-here", "", web.RequestIDHeader, "bad id\nwith a newline")
	forged := missing.Header().Get(web.RequestIDHeader)
	if len(forged) != 16 || strings.ContainsAny(forged, " \n") {
		t.Fatalf("an unusable request id was kept: %q", forged)
	}
	keys := b.getOrder(o).Keys

	type line struct {
		Msg, Method, Route, RequestID string
		Status                        int
		Duration                      float64
	}
	var lines []line
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		text := sc.Text()
		for _, secret := range append([]string{o.Token, adminToken, "token="}, keys...) {
			if strings.Contains(text, secret) {
				t.Errorf("a log line holds %q: %s", secret, text)
			}
		}
		var l struct {
			line
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal([]byte(text), &l); err != nil {
			t.Fatal(err)
		}
		if l.Msg == "http" {
			l.line.RequestID = l.RequestID
			lines = append(lines, l.line)
		}
	}
	want := []struct {
		method, route string
		status        int
	}{
		{"POST", "POST /api/v1/products", 201},
		{"POST", "POST /api/v1/products/{id}/keys", 200},
		{"GET", "GET /api/v1/products/{id}", 200}, // cardProduct reads it back
		{"POST", "POST /api/v1/orders", 201},
		{"POST", "POST /pay/{gateway}/notify", 200},
		{"GET", "GET /api/v1/orders/{order_no}", 200},
		{"GET", "unmatched", 404},
		{"GET", "GET /api/v1/orders/{order_no}", 200},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d access lines, want %d: %+v", len(lines), len(want), lines)
	}
	for i, w := range want {
		l := lines[i]
		if l.Method != w.method || l.Route != w.route || l.Status != w.status || l.RequestID == "" || l.Duration <= 0 {
			t.Errorf("line %d = %+v, want %s %s %d", i, l, w.method, w.route, w.status)
		}
	}
	if lines[5].RequestID != "proxy-id-1234" || lines[6].RequestID != forged {
		t.Errorf("logged request ids %q, %q; the responses said proxy-id-1234, %q", lines[5].RequestID, lines[6].RequestID, forged)
	}
}
