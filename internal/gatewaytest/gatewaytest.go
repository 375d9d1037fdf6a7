// Package gatewaytest is the shop the payment gateways' web tests buy
// from: the faka web server with a gateway under test and the sandbox
// gateway, on a real engine over a fresh SQLite file, and the helpers to
// stock it, order from it and take a snapshot of its state.
//
// It is test support: only the gateways' _test.go files import it.
package gatewaytest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
	"github.com/faka-dev/faka/keyring"
	"github.com/faka-dev/faka/payment"
	"github.com/faka-dev/faka/payment/sandbox"
	"github.com/faka-dev/faka/sqlite"
	"github.com/faka-dev/faka/web"
)

const (
	// AdminToken is the shop's admin API token.
	AdminToken = "test-admin-token-0123456789abcdef"
	// SandboxSecret is the secret of the shop's sandbox gateway.
	SandboxSecret = "test-sandbox-secret"
)

// Shop is the faka server with the gateways under test and the sandbox
// gateway, on a real engine over a fresh SQLite file.
type Shop struct {
	// Engine is the shop's engine.
	Engine *engine.Engine
	srv    *web.Server
}

// NewShop starts a shop at publicURL that takes payment by gateways and
// by the sandbox gateway (secret SandboxSecret); t's cleanup stops it.
func NewShop(t *testing.T, publicURL string, gateways ...payment.Gateway) *Shop {
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
	sb, err := sandbox.New([]byte(SandboxSecret), publicURL)
	if err != nil {
		t.Fatal(err)
	}
	gws, err := payment.NewRegistry(append(gateways, sb)...)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := web.New(web.Config{Engine: e, Gateways: gws, AdminToken: AdminToken, Logger: quiet,
		Registry: prometheus.NewRegistry(), PublicURL: publicURL})
	if err != nil {
		t.Fatal(err)
	}
	return &Shop{Engine: e, srv: srv}
}

// Request is a request with a JSON body unless headers (alternating
// name, value) say otherwise.
func Request(method, path string, body []byte, headers ...string) *http.Request {
	r := httptest.NewRequest(method, path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	return r
}

// Do sends the shop a Request and returns its reply.
func (s *Shop) Do(method, path string, body []byte, headers ...string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	s.srv.ServeHTTP(w, Request(method, path, body, headers...))
	return w
}

// Want stops t unless the reply w has status; then, if v is not nil, it
// decodes the JSON reply into v.
func Want(t testing.TB, w *httptest.ResponseRecorder, status int, v any) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d: %s", w.Code, status, w.Body)
	}
	if v != nil {
		if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
			t.Fatal(err)
		}
	}
}

// Product creates a card product named "Game card" at 990 minor units of
// currency, with keys card keys, and returns its id.
func (s *Shop) Product(t testing.TB, currency string, keys int) int64 {
	t.Helper()
	var p struct {
		ID int64 `json:"id"`
	}
	Want(t, s.Do("POST", "/api/v1/products", fmt.Appendf(nil, `{"name":"Game card","price":990,"currency":%q,"delivery":"card"}`, currency),
		"Authorization", "Bearer "+AdminToken), http.StatusCreated, &p)
	var list strings.Builder
	for i := range keys {
		fmt.Fprintf(&list, "KEY-%d-%04d\n", p.ID, i)
	}
	Want(t, s.Do("POST", fmt.Sprintf("/api/v1/products/%d/keys", p.ID), []byte(list.String()),
		"Authorization", "Bearer "+AdminToken, "Content-Type", "text/plain"), http.StatusOK, nil)
	return p.ID
}

// Placed is an order as the API returns it to the buyer who placed it.
type Placed struct {
	OrderNo  string `json:"order_no"`
	Token    string `json:"token"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	PayURL   string `json:"pay_url"`
}

// Order places, through the API, an order of quantity keys of product
// pid, to pay by gateway.
func (s *Shop) Order(t testing.TB, pid int64, quantity int, gateway string) Placed {
	t.Helper()
	var c Placed
	Want(t, s.Do("POST", "/api/v1/orders", fmt.Appendf(nil, `{"product_id":%d,"quantity":%d,"email":"buyer@example.com","gateway":%q}`, pid, quantity, gateway)),
		http.StatusCreated, &c)
	return c
}

// Fetched is an order as the buyer sees it.
type Fetched struct {
	Status string   `json:"status"`
	Keys   []string `json:"keys"`
}

// Fetch reads order c through the API, with its token.
func (s *Shop) Fetch(t testing.TB, c Placed) Fetched {
	t.Helper()
	var o Fetched
	Want(t, s.Do("GET", "/api/v1/orders/"+c.OrderNo, nil, "X-Order-Token", c.Token), http.StatusOK, &o)
	return o
}

// State is what a refused notification must not change; compare two
// with reflect.DeepEqual.
type State struct {
	Stock    []faka.Stock
	Ledger   []faka.Stock
	Statuses map[string]faka.OrderStatus
	Payments []faka.Payment
}

// State reads the state through the engine and the store, and stops t
// unless the reconcile report is clean.
func (s *Shop) State(t testing.TB) State {
	t.Helper()
	ctx := context.Background()
	rep, err := s.Engine.Reconcile(ctx)
	if err != nil || !rep.OK || len(rep.Violations) != 0 {
		t.Fatalf("reconcile: %+v, %v", rep, err)
	}
	orders, err := s.Engine.Store().OrderList(ctx, faka.OrderFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	st := State{Stock: rep.Products, Ledger: rep.Ledger, Statuses: map[string]faka.OrderStatus{}}
	for _, o := range orders {
		st.Statuses[o.OrderNo] = o.Status
		ps, err := s.Engine.Store().PaymentsByOrder(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			st.Payments = append(st.Payments, *p)
		}
	}
	return st
}

// StripeSignature is a Stripe-Signature header of body: HMAC-SHA256 of
// "t.body" under secret, at time at. Other gateways' tests send it to
// show they refuse Stripe's events.
func StripeSignature(body []byte, secret string, at time.Time) string {
	ts := strconv.FormatInt(at.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// StripeEvent is a minimal Stripe checkout.session.completed event paying
// 990 CNY for order orderNo.
func StripeEvent(orderNo string) []byte {
	return fmt.Appendf(nil, `{"id":"evt_1","object":"event","type":"checkout.session.completed","data":{"object":{"object":"checkout.session","client_reference_id":%q,"amount_total":990,"currency":"cny","payment_status":"paid"}}}`, orderNo)
}

// EPayForm is an EPay notification form of order orderNo paid 9.90 by
// payment type typ, signed as EPay signs (MD5 with the merchant key
// "epay-merchant-key").
func EPayForm(orderNo, typ string) string {
	epay := map[string]string{"pid": "1001", "trade_no": "T20260001", "out_trade_no": orderNo, "type": typ,
		"name": "Order " + orderNo, "money": "9.90", "trade_status": "TRADE_SUCCESS", "sign_type": "MD5"}
	epay["sign"] = payment.SortedMD5(epay, "epay-merchant-key", "sign", "sign_type")
	form := url.Values{}
	for k, v := range epay {
		form.Set(k, v)
	}
	return form.Encode()
}

// SandboxNotification is the sandbox gateway's notification that trade
// tradeNo paid amount of currency for order orderNo: its body and its
// headers, signed with SandboxSecret.
func SandboxNotification(orderNo, tradeNo string, amount int64, currency string) ([]byte, []string) {
	body, err := json.Marshal(sandbox.Message{OrderNo: orderNo, TradeNo: tradeNo, Amount: amount, Currency: currency, Status: "paid"})
	if err != nil {
		panic(err) // a struct of strings and an int always marshals
	}
	return body, []string{sandbox.SignatureHeader, sandbox.Sign([]byte(SandboxSecret), body)}
}

// PaidOnce checks that order c, of 2 keys out of 5 in stock, was paid
// exactly once, by gateway's trade tradeNo of the order's amount: the
// buyer sees it delivered with 2 distinct keys, one payment is recorded
// and the stock shows 2 sold and 3 available. It returns the state.
func (s *Shop) PaidOnce(t testing.TB, c Placed, gateway, tradeNo string) State {
	t.Helper()
	o := s.Fetch(t, c)
	if o.Status != "delivered" || len(o.Keys) != 2 || o.Keys[0] == o.Keys[1] {
		t.Fatalf("order %+v", o)
	}
	st := s.State(t)
	if len(st.Payments) != 1 {
		t.Fatalf("%d payments recorded, want 1: %+v", len(st.Payments), st.Payments)
	}
	if p := st.Payments[0]; p.Gateway != gateway || p.TradeNo != tradeNo || p.OrderNo != c.OrderNo || p.Amount != c.Amount || p.Currency != c.Currency {
		t.Fatalf("payment %+v", p)
	}
	if st.Statuses[c.OrderNo] != faka.StatusDelivered {
		t.Fatalf("status %s", st.Statuses[c.OrderNo])
	}
	if len(st.Stock) != 1 || st.Stock[0].Sold != 2 || st.Stock[0].Available != 3 || st.Stock[0].Reserved != 0 {
		t.Fatalf("stock %+v", st.Stock)
	}
	return st
}
