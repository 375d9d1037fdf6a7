package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
	"github.com/faka-dev/faka/keyring"
	"github.com/faka-dev/faka/password"
	"github.com/faka-dev/faka/payment"
	"github.com/faka-dev/faka/payment/sandbox"
	"github.com/faka-dev/faka/sqlite"
	"github.com/faka-dev/faka/web"
)

var _ web.Engine = (*engine.Engine)(nil)

const (
	adminToken    = "test-admin-token-0123456789abcdef"
	sandboxSecret = "test-sandbox-secret"
	publicURL     = "http://shop.test"
)

// bundle is one server on a real engine over a fresh SQLite file.
type bundle struct {
	t   *testing.T
	e   *engine.Engine
	st  *sqlite.Store
	srv *web.Server
	reg *prometheus.Registry
	db  string // the SQLite file
}

// setup starts a server; edit adjusts its config.
func setup(t *testing.T, edit ...func(*web.Config)) *bundle {
	t.Helper()
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "faka.db")
	st, err := sqlite.Open(ctx, dbPath, sqlite.Options{Synchronous: "OFF"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kr, err := keyring.New(bytes.Repeat([]byte{9}, keyring.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	e, err := engine.New(engine.Config{Store: st, Keyring: kr, Logger: quiet,
		SweepInterval: 50 * time.Millisecond, ResyncInterval: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e.Start(ctx)
	t.Cleanup(e.Close)
	gw, err := sandbox.New([]byte(sandboxSecret), publicURL)
	if err != nil {
		t.Fatal(err)
	}
	gws, err := payment.NewRegistry(gw)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	cfg := web.Config{
		Engine:     e,
		Gateways:   gws,
		AdminToken: adminToken,
		Logger:     quiet,
		Registry:   reg,
		Shop:       st,
		Accounts:   st,
		Settings:   st,
		Sealer:     kr,
		// Cheap argon2id: the tests check logic, not hashing cost.
		PasswordParams: password.Params{Memory: 64, Time: 1, Threads: 1},
	}
	for _, f := range edit {
		f(&cfg)
	}
	srv, err := web.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{t: t, e: e, st: st, srv: srv, reg: reg, db: dbPath}
}

// req is one request to send; headers alternate name, value.
type req struct {
	method, path, body string
	headers            []string
	remote             string
}

func (b *bundle) send(r req) *httptest.ResponseRecorder {
	hr := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
	if r.body != "" && (r.method == http.MethodPost || r.method == http.MethodPatch) {
		hr.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(r.headers); i += 2 {
		hr.Header.Set(r.headers[i], r.headers[i+1])
	}
	if r.remote != "" {
		hr.RemoteAddr = r.remote
	}
	w := httptest.NewRecorder()
	b.srv.ServeHTTP(w, hr)
	return w
}

func (b *bundle) do(method, path, body string, headers ...string) *httptest.ResponseRecorder {
	return b.send(req{method: method, path: path, body: body, headers: headers})
}

func (b *bundle) admin(method, path, body string, headers ...string) *httptest.ResponseRecorder {
	return b.do(method, path, body, append(headers, "Authorization", "Bearer "+adminToken)...)
}

// decode reads a JSON body into T, failing the test on a wrong status.
func decode[T any](t *testing.T, w *httptest.ResponseRecorder, status int) T {
	t.Helper()
	var v T
	if w.Code != status {
		t.Fatalf("status %d, want %d; body %s", w.Code, status, w.Body)
	}
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("decode %T from %q: %v", v, w.Body, err)
	}
	return v
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// wantError checks the status and the JSON error code of a response.
func wantError(t *testing.T, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	e := decode[apiError](t, w, status)
	if e.Error.Code != code || e.Error.Message == "" {
		t.Fatalf("error %+v, want code %q with a message", e.Error, code)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q, want JSON", ct)
	}
}

type product struct {
	ID                    int64  `json:"id"`
	Name                  string `json:"name"`
	Description           string `json:"description"`
	Price                 int64  `json:"price"`
	Currency              string `json:"currency"`
	Delivery              string `json:"delivery"`
	Available             int64  `json:"available"`
	MinQuantity           int    `json:"min_quantity"`
	MaxQuantity           int    `json:"max_quantity"`
	ReservationTTLSeconds int64  `json:"reservation_ttl_seconds"`
	Active                bool   `json:"active"`
}

// cardProduct creates an active card product priced 990 CNY with n keys.
func (b *bundle) cardProduct(n int, extra string) product {
	b.t.Helper()
	p := decode[product](b.t, b.admin("POST", "/api/v1/products",
		`{"name":"Game card","price":990,"currency":"CNY","delivery":"card"`+extra+`}`), http.StatusCreated)
	if n > 0 {
		var sb strings.Builder
		for i := range n {
			fmt.Fprintf(&sb, "KEY-%d-%04d\n", p.ID, i)
		}
		res := decode[faka.ImportResult](b.t, b.admin("POST", fmt.Sprintf("/api/v1/products/%d/keys", p.ID),
			sb.String(), "Content-Type", "text/plain"), http.StatusOK)
		if res.Imported != n {
			b.t.Fatalf("imported %d keys, want %d", res.Imported, n)
		}
		p = decode[product](b.t, b.admin("GET", fmt.Sprintf("/api/v1/products/%d", p.ID), ""), http.StatusOK)
	}
	return p
}

type created struct {
	OrderNo   string `json:"order_no"`
	Token     string `json:"token"`
	Status    string `json:"status"`
	ProductID int64  `json:"product_id"`
	Quantity  int    `json:"quantity"`
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	ExpiresAt string `json:"expires_at"`
	PayURL    string `json:"pay_url"`
}

type order struct {
	OrderNo     string   `json:"order_no"`
	Status      string   `json:"status"`
	ProductID   int64    `json:"product_id"`
	Quantity    int      `json:"quantity"`
	Amount      int64    `json:"amount"`
	Currency    string   `json:"currency"`
	Email       string   `json:"email"`
	CreatedAt   string   `json:"created_at"`
	ExpiresAt   string   `json:"expires_at"`
	PaidAt      string   `json:"paid_at"`
	DeliveredAt string   `json:"delivered_at"`
	PayURL      string   `json:"pay_url"`
	Keys        []string `json:"keys"`
}

func orderBody(pid int64, qty int) string {
	return fmt.Sprintf(`{"product_id":%d,"quantity":%d,"email":"buyer@example.com","gateway":"sandbox"}`, pid, qty)
}

// order creates an order and fails the test unless it is 201.
func (b *bundle) order(pid int64, qty int) created {
	b.t.Helper()
	return decode[created](b.t, b.do("POST", "/api/v1/orders", orderBody(pid, qty)), http.StatusCreated)
}

// getOrder reads an order as its buyer.
func (b *bundle) getOrder(c created) order {
	b.t.Helper()
	return decode[order](b.t, b.do("GET", "/api/v1/orders/"+c.OrderNo, "", "X-Order-Token", c.Token), http.StatusOK)
}

// notify posts a sandbox notification signed with secret.
func (b *bundle) notify(m sandbox.Message, secret string) *httptest.ResponseRecorder {
	body, err := json.Marshal(m)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do("POST", "/pay/sandbox/notify", string(body),
		sandbox.SignatureHeader, sandbox.Sign([]byte(secret), body))
}

func paid(c created, tradeNo string) sandbox.Message {
	return sandbox.Message{OrderNo: c.OrderNo, TradeNo: tradeNo, Amount: c.Amount, Currency: c.Currency, Status: "paid"}
}

// state is what must not change when a request is refused.
type state struct {
	Stock  []faka.Stock
	Orders int
	OK     bool
}

func (b *bundle) state() state {
	b.t.Helper()
	ctx := context.Background()
	rep, err := b.e.Reconcile(ctx)
	if err != nil {
		b.t.Fatal(err)
	}
	os, err := b.e.Store().OrderList(ctx, faka.OrderFilter{Limit: 100000})
	if err != nil {
		b.t.Fatal(err)
	}
	return state{Stock: rep.Products, Orders: len(os), OK: rep.OK}
}

// unchanged fails the test when the state differs from before.
func (b *bundle) unchanged(before state) {
	b.t.Helper()
	if after := b.state(); !reflect.DeepEqual(before, after) {
		b.t.Fatalf("state changed:\nbefore %+v\nafter  %+v", before, after)
	}
}

// stock returns the live figures of one product, checking the invariants.
func (b *bundle) stock(pid int64) faka.Stock {
	b.t.Helper()
	rep, err := b.e.Reconcile(context.Background())
	if err != nil {
		b.t.Fatal(err)
	}
	if !rep.OK {
		b.t.Fatalf("invariants broken: %+v", rep.Violations)
	}
	for _, s := range rep.Products {
		if s.ProductID == pid {
			return s
		}
	}
	b.t.Fatalf("no stock for product %d", pid)
	return faka.Stock{}
}

// counter sums the series of a counter whose labels include the given
// name, value pairs.
func (b *bundle) counter(name string, labels ...string) float64 {
	b.t.Helper()
	mfs, err := b.reg.Gather()
	if err != nil {
		b.t.Fatal(err)
	}
	var v float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			match := true
			for i := 0; i+1 < len(labels); i += 2 {
				match = match && have[labels[i]] == labels[i+1]
			}
			if match {
				v += m.GetCounter().GetValue()
			}
		}
	}
	return v
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
