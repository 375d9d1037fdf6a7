package stripe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
	"github.com/faka-dev/faka/keyring"
	"github.com/faka-dev/faka/payment"
	"github.com/faka-dev/faka/payment/sandbox"
	"github.com/faka-dev/faka/payment/stripe"
	"github.com/faka-dev/faka/sqlite"
	"github.com/faka-dev/faka/web"
)

const (
	adminToken    = "test-admin-token"
	sandboxSecret = "test-sandbox-secret"
)

// shop is the faka server with the Stripe gateway (on a fake Stripe)
// and the sandbox gateway, on a real engine over a fresh SQLite file.
type shop struct {
	t      *testing.T
	e      *engine.Engine
	srv    *web.Server
	stripe *fakeStripe
}

func newShop(t *testing.T) *shop {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "faka.db"), sqlite.Options{Synchronous: "OFF"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kr, err := keyring.New(bytes.Repeat([]byte{7}, keyring.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	e, err := engine.New(engine.Config{Store: st, Keyring: kr, Logger: quiet, SweepInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e.Start(ctx)
	t.Cleanup(e.Close)
	f := newFakeStripe(t, secretKey)
	sb, err := sandbox.New([]byte(sandboxSecret), shopURL)
	if err != nil {
		t.Fatal(err)
	}
	gws, err := payment.NewRegistry(newGateway(t, f), sb)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(web.Config{Engine: e, Gateways: gws, AdminToken: adminToken, Logger: quiet,
		Registry: prometheus.NewRegistry(), PublicURL: shopURL})
	if err != nil {
		t.Fatal(err)
	}
	return &shop{t: t, e: e, srv: srv, stripe: f}
}

func (s *shop) do(method, path string, body []byte, headers ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	s.srv.ServeHTTP(w, r)
	return w
}

func (s *shop) want(w *httptest.ResponseRecorder, status int, v any) {
	s.t.Helper()
	if w.Code != status {
		s.t.Fatalf("status %d, want %d: %s", w.Code, status, w.Body)
	}
	if v != nil {
		if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
			s.t.Fatal(err)
		}
	}
}

// product creates a USD card product with n keys.
func (s *shop) product(n int) int64 {
	s.t.Helper()
	var p struct {
		ID int64 `json:"id"`
	}
	s.want(s.do("POST", "/api/v1/products", []byte(`{"name":"Game card","price":990,"currency":"USD","delivery":"card"}`),
		"Authorization", "Bearer "+adminToken), http.StatusCreated, &p)
	var keys strings.Builder
	for i := range n {
		fmt.Fprintf(&keys, "KEY-%d-%04d\n", p.ID, i)
	}
	s.want(s.do("POST", fmt.Sprintf("/api/v1/products/%d/keys", p.ID), []byte(keys.String()),
		"Authorization", "Bearer "+adminToken, "Content-Type", "text/plain"), http.StatusOK, nil)
	return p.ID
}

type placed struct {
	OrderNo  string `json:"order_no"`
	Token    string `json:"token"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	PayURL   string `json:"pay_url"`
}

// state is what a refused notification must not change.
type state struct {
	Stock    []faka.Stock
	Statuses map[string]faka.OrderStatus
	Payments int
}

// state reads the shop's figures; t is the (sub)test asking, which a
// failure stops.
func (s *shop) state(t *testing.T) state {
	t.Helper()
	ctx := context.Background()
	rep, err := s.e.Reconcile(ctx)
	if err != nil || !rep.OK {
		t.Fatalf("reconcile: %+v, %v", rep, err)
	}
	os, err := s.e.Store().OrderList(ctx, faka.OrderFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	st := state{Stock: rep.Products, Statuses: map[string]faka.OrderStatus{}}
	for _, o := range os {
		st.Statuses[o.OrderNo] = o.Status
		ps, err := s.e.Store().PaymentsByOrder(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		st.Payments += len(ps)
	}
	return st
}

// sessionEvent is the recorded completed event made to be about order c
// with Stripe's amount and currency, paid through PaymentIntent pi.
func sessionEvent(t *testing.T, file string, c placed, amount int64, cur, pi string) []byte {
	return event(t, file, func(_, o map[string]any) {
		o["client_reference_id"] = c.OrderNo
		o["metadata"] = map[string]any{"order_no": c.OrderNo}
		o["amount_total"], o["amount_subtotal"], o["currency"], o["payment_intent"] = amount, amount, cur, pi
	})
}

// TestWebConcurrentNotifications buys through the server: the order's pay
// URL is a Checkout Session, Stripe's event for it is sent many times at
// once (re-signed, and as both completed and async_payment_succeeded),
// and the payment is applied exactly once.
func TestWebConcurrentNotifications(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	pid := s.product(5)
	var c placed
	s.want(s.do("POST", "/api/v1/orders", fmt.Appendf(nil, `{"product_id":%d,"quantity":2,"email":"buyer@example.com","gateway":"stripe"}`, pid)),
		http.StatusCreated, &c)
	if sess := s.stripe.session(0); c.PayURL != sess.URL || sess.ClientReferenceID != c.OrderNo || sess.AmountTotal != 1980 || sess.Currency != "usd" {
		t.Fatalf("order %+v, session %+v", c, sess)
	}
	completed := sessionEvent(t, "event_completed.json", c, 1980, "usd", "pi_3TFakaWeb")
	async := sessionEvent(t, "event_async_succeeded.json", c, 1980, "usd", "pi_3TFakaWeb")

	const n = 30
	var wg sync.WaitGroup
	replies := make([]*httptest.ResponseRecorder, n)
	for i := range n {
		wg.Go(func() {
			body := completed
			if i%3 == 0 {
				body = async
			}
			at := time.Now().Add(-time.Duration(i) * time.Second) // each copy signed anew
			replies[i] = s.do("POST", "/pay/stripe/notify", body, stripe.SignatureHeader, signed(body, webhookSecret, at))
		})
	}
	wg.Wait()
	for i, w := range replies {
		if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != `{"received":true}` {
			t.Fatalf("copy %d: %d %s", i, w.Code, w.Body)
		}
	}
	var o struct {
		Status string   `json:"status"`
		Keys   []string `json:"keys"`
	}
	s.want(s.do("GET", "/api/v1/orders/"+c.OrderNo, nil, "X-Order-Token", c.Token), http.StatusOK, &o)
	if o.Status != "delivered" || len(o.Keys) != 2 {
		t.Fatalf("order %+v", o)
	}
	st := s.state(t)
	if st.Payments != 1 {
		t.Fatalf("%d payments recorded, want 1", st.Payments)
	}
	if len(st.Stock) != 1 || st.Stock[0].Sold != 2 || st.Stock[0].Available != 3 || st.Stock[0].Reserved != 0 {
		t.Fatalf("stock %+v", st.Stock)
	}

	// Once more, later: a duplicate, acknowledged, nothing changes.
	w := s.do("POST", "/pay/stripe/notify", completed, stripe.SignatureHeader, signed(completed, webhookSecret, time.Now()))
	if w.Code != http.StatusOK {
		t.Fatalf("replay: %d %s", w.Code, w.Body)
	}
	if after := s.state(t); !reflect.DeepEqual(st, after) {
		t.Fatalf("replay changed the state:\n%+v\n%+v", st, after)
	}
}

// TestWebRefused sends notifications the server must refuse, or only
// acknowledge, without any change.
func TestWebRefused(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	pid := s.product(3)
	var c placed
	s.want(s.do("POST", "/api/v1/orders", fmt.Appendf(nil, `{"product_id":%d,"quantity":1,"email":"buyer@example.com","gateway":"stripe"}`, pid)),
		http.StatusCreated, &c)
	good := sessionEvent(t, "event_completed.json", c, 990, "usd", "pi_3TFakaWeb")
	now := time.Now()
	unknown := c
	unknown.OrderNo = "20260321000000000000"
	sandboxBody, _ := json.Marshal(sandbox.Message{OrderNo: c.OrderNo, TradeNo: "T-1", Amount: 990, Currency: "USD", Status: "paid"})
	before := s.state(t)
	for _, tc := range []struct {
		name, path string
		body       []byte
		headers    []string
		status     int
	}{
		{"forged signature", "/pay/stripe/notify", good, []string{stripe.SignatureHeader, fmt.Sprintf("t=%d,v1=%s", now.Unix(), strings.Repeat("00", 32))}, 400},
		{"empty signature", "/pay/stripe/notify", good, []string{stripe.SignatureHeader, ""}, 400},
		{"another merchant's secret", "/pay/stripe/notify", good, []string{stripe.SignatureHeader, signed(good, "whsec_AnotherMerchant", now)}, 400},
		{"stale timestamp", "/pay/stripe/notify", good, []string{stripe.SignatureHeader, signed(good, webhookSecret, now.Add(-10*time.Minute))}, 400},
		{"amount tampered after signing", "/pay/stripe/notify", bytes.Replace(good, []byte(`"amount_total":990`), []byte(`"amount_total":99`), 1),
			[]string{stripe.SignatureHeader, signed(good, webhookSecret, now)}, 400},
		{"signed, wrong amount", "/pay/stripe/notify", sessionEvent(t, "event_completed.json", c, 99, "usd", "pi_3TFakaWeb"), nil, 400},
		{"signed, wrong currency", "/pay/stripe/notify", sessionEvent(t, "event_completed.json", c, 990, "eur", "pi_3TFakaWeb"), nil, 400},
		{"signed, unpaid", "/pay/stripe/notify", sessionEvent(t, "event_completed_unpaid.json", c, 990, "usd", "pi_3TFakaWeb"), nil, 200},
		{"signed, unknown order", "/pay/stripe/notify", sessionEvent(t, "event_completed.json", unknown, 990, "usd", "pi_3TFakaWeb"), nil, 400},
		{"signed, another type", "/pay/stripe/notify", readFile(t, "event_payment_intent_succeeded.json"), nil, 200},
		{"signed, another site's session", "/pay/stripe/notify", readFile(t, "event_other_site.json"), nil, 200},
		{"Stripe's event at the sandbox's endpoint", "/pay/sandbox/notify", good, nil, 400},
		{"the sandbox's notification at Stripe's endpoint", "/pay/stripe/notify", sandboxBody,
			[]string{sandbox.SignatureHeader, sandbox.Sign([]byte(sandboxSecret), sandboxBody)}, 400},
		{"an EPay notification at Stripe's endpoint", "/pay/stripe/notify", readFile(t, "notify_epay.form"), []string{"Content-Type", "application/x-www-form-urlencoded"}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.headers
			if h == nil {
				h = []string{stripe.SignatureHeader, signed(tc.body, webhookSecret, now)}
			}
			w := s.do("POST", tc.path, tc.body, h...)
			if w.Code != tc.status {
				t.Fatalf("%d %s, want %d", w.Code, w.Body, tc.status)
			}
			if after := s.state(t); !reflect.DeepEqual(before, after) {
				t.Fatalf("state changed:\n%+v\n%+v", before, after)
			}
		})
	}
	// The genuine one still applies.
	if w := s.do("POST", "/pay/stripe/notify", good, stripe.SignatureHeader, signed(good, webhookSecret, time.Now())); w.Code != http.StatusOK {
		t.Fatalf("genuine: %d %s", w.Code, w.Body)
	}
	if st := s.state(t); st.Statuses[c.OrderNo] != faka.StatusDelivered || st.Payments != 1 {
		t.Fatalf("after the genuine event: %+v", st)
	}
}
