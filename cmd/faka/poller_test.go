package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faka-dev/faka/payment/epay"
)

// fakeEPay speaks EPay's api.php order query for the orders in paid.
type fakeEPay struct {
	mu   sync.Mutex
	paid map[string]string // out_trade_no → money, paid at EPay
	srv  *httptest.Server
}

const (
	epayPID = "1001"
	epayKey = "epay-test-merchant-key"
)

func newFakeEPay(t *testing.T) *fakeEPay {
	f := &fakeEPay{paid: map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/api.php" || q.Get("act") != "order" || q.Get("pid") != epayPID || q.Get("key") != epayKey {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		no := q.Get("out_trade_no")
		f.mu.Lock()
		money, ok := f.paid[no]
		f.mu.Unlock()
		if !ok {
			json.NewEncoder(w).Encode(map[string]any{"code": -1, "msg": "订单不存在"})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"code": 1, "trade_no": "EP-" + no, "out_trade_no": no,
			"pid": 1001, "money": money, "status": 1})
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeEPay) setPaid(orderNo string, paid bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if paid {
		f.paid[orderNo] = "9.90"
	} else {
		delete(f.paid, orderNo)
	}
}

// shopWithEPay starts the program with EPay configured against f and a
// product of keys, and returns it with the product's ID.
func shopWithEPay(t *testing.T, dir string, f *fakeEPay, poll time.Duration) (*Main, *client, int64) {
	t.Helper()
	env := map[string]string{"FAKA_ADDR": "127.0.0.1:0", "FAKA_DATA_DIR": dir, "FAKA_ADMIN_TOKEN": "test-admin-token-0123456789abcdef",
		"FAKA_SANDBOX_SECRET": "test-sandbox-secret", "FAKA_ORDER_RATE": "0"}
	c, _, err := parse("serve", nil, func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &Main{Config: *c, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Out: io.Discard, PollInterval: poll}
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	cl := &client{t: t, base: m.URL(), http: http.DefaultClient}
	if status, b := cl.do("PUT", "/api/v1/gateways/epay", []byte(fmt.Sprintf(`{"enabled":true,"pid":%q,"key":%q,"url":%q}`,
		epayPID, epayKey, f.srv.URL+"/")), cl.admin()); status != 200 {
		t.Fatalf("configure epay: %d %s", status, b)
	}
	status, b := cl.do("POST", "/api/v1/products", []byte(`{"name":"Card","price":990,"currency":"CNY","reservation_ttl_seconds":2}`), cl.admin())
	if status != 201 {
		t.Fatalf("create product: %d %s", status, b)
	}
	var prod struct{ ID int64 }
	json.Unmarshal(b, &prod)
	if status, b := cl.do("POST", fmt.Sprintf("/api/v1/products/%d/keys", prod.ID), []byte("K-1\nK-2\nK-3\nK-4\n"), cl.admin()); status != 200 {
		t.Fatalf("import keys: %d %s", status, b)
	}
	return m, cl, prod.ID
}

func (c *client) orderVia(product int64, gateway string) string {
	c.t.Helper()
	status, b := c.do("POST", "/api/v1/orders", []byte(fmt.Sprintf(
		`{"product_id":%d,"quantity":1,"email":"buyer@example.com","gateway":%q}`, product, gateway)), nil)
	if status != 201 {
		c.t.Fatalf("order through %s: %d %s", gateway, status, b)
	}
	var o struct {
		OrderNo string `json:"order_no"`
	}
	json.Unmarshal(b, &o)
	return o.OrderNo
}

func (c *client) status(orderNo string) string {
	c.t.Helper()
	status, b := c.do("GET", "/api/v1/orders/"+orderNo, nil, c.admin())
	if status != 200 {
		c.t.Fatalf("get order %s: %d %s", orderNo, status, b)
	}
	var o struct{ Status string }
	json.Unmarshal(b, &o)
	return o.Status
}

// TestReconcileGateways checks `faka reconcile -gateways` against a fake
// EPay: both kinds of disagreement make it exit 1; without the flag the
// command does what it always did.
func TestReconcileGateways(t *testing.T) {
	dir := t.TempDir()
	f := newFakeEPay(t)
	m, c, prod := shopWithEPay(t, dir, f, 0)

	// Paid at EPay, cancelled here: the notification never came.
	lost := c.orderVia(prod, "epay")
	if status, b := c.do("POST", "/api/v1/orders/"+lost+"/cancel", nil, c.admin()); status != 200 {
		t.Fatalf("cancel: %d %s", status, b)
	}
	f.setPaid(lost, true)
	// Paid here through EPay (a signed notification), unknown to EPay.
	ghost := c.orderVia(prod, "epay")
	p := map[string]string{"pid": epayPID, "trade_no": "EP-" + ghost, "out_trade_no": ghost, "type": "alipay",
		"name": "Card", "money": "9.90", "trade_status": epay.TradeSuccess}
	p["sign"], p["sign_type"] = epay.Sign(p, epayKey), "MD5"
	form := url.Values{}
	for k, v := range p {
		form.Set(k, v)
	}
	if status, b := c.do("POST", "/pay/epay/notify", []byte(form.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); status != 200 || string(b) != "success" {
		t.Fatalf("notify: %d %s", status, b)
	}
	if s := c.status(ghost); s != "delivered" {
		t.Fatalf("notified order is %s", s)
	}
	// Paid at both: agrees. Through the sandbox: not asked.
	agree := c.orderVia(prod, "epay")
	f.setPaid(agree, true)
	form.Set("out_trade_no", agree)
	form.Set("trade_no", "EP-"+agree)
	p["out_trade_no"], p["trade_no"] = agree, "EP-"+agree
	delete(p, "sign")
	delete(p, "sign_type")
	form.Set("sign", epay.Sign(p, epayKey))
	if status, b := c.do("POST", "/pay/epay/notify", []byte(form.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); status != 200 {
		t.Fatalf("notify: %d %s", status, b)
	}
	c.orderVia(prod, "sandbox")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	env := map[string]string{"FAKA_DATA_DIR": dir}
	getenv := func(k string) string { return env[k] }
	var out bytes.Buffer
	if code := run(context.Background(), []string{"reconcile"}, getenv, nil, &out, &out); code != 0 ||
		strings.Contains(out.String(), "MISMATCH") {
		t.Fatalf("reconcile without -gateways: exit %d\n%s", code, out.String())
	}
	out.Reset()
	code := run(context.Background(), []string{"reconcile", "-gateways", "-since", "1h"}, getenv, nil, &out, &out)
	got := out.String()
	t.Logf("faka reconcile -gateways -since 1h:\n%s", got)
	if code != 1 || !strings.Contains(got, "ok: every invariant holds") ||
		!strings.Contains(got, "MISMATCH paid_at_gateway order="+lost+" gateway=epay status=cancelled trade=EP-"+lost+" amount=990 CNY") ||
		!strings.Contains(got, "MISMATCH unpaid_at_gateway order="+ghost+" gateway=epay status=delivered trade=EP-"+ghost) ||
		strings.Contains(got, agree) || !strings.Contains(got, "gateways FAILED: 2 mismatches") {
		t.Fatalf("reconcile -gateways: exit %d\n%s", code, got)
	}

	// EPay agrees now: exit 0.
	f.setPaid(lost, false)
	f.setPaid(ghost, true)
	out.Reset()
	code = run(context.Background(), []string{"reconcile", "-gateways"}, getenv, nil, &out, &out)
	if got := out.String(); code != 0 || !strings.Contains(got, "gateways ok: 3 orders") || strings.Contains(got, "MISMATCH") {
		t.Fatalf("reconcile -gateways, all agreeing: exit %d\n%s", code, got)
	}
	// A window with no orders in it.
	out.Reset()
	if code := run(context.Background(), []string{"reconcile", "-gateways", "-since", "1ms"}, getenv, nil, &out, &out); code != 0 ||
		!strings.Contains(out.String(), "gateways ok: 0 orders") {
		t.Fatalf("reconcile -gateways -since 1ms: exit %d\n%s", code, out.String())
	}
}

// TestServePollsGateways runs the server with the poller on: an order
// cancelled unpaid whose EPay payment came without a notification is
// found and delivered as a late payment, without any request.
func TestServePollsGateways(t *testing.T) {
	dir := t.TempDir()
	f := newFakeEPay(t)
	_, c, prod := shopWithEPay(t, dir, f, time.Second)
	no := c.orderVia(prod, "epay")
	if status, b := c.do("POST", "/api/v1/orders/"+no+"/cancel", nil, c.admin()); status != 200 {
		t.Fatalf("cancel: %d %s", status, b)
	}
	f.setPaid(no, true)
	deadline := time.Now().Add(20 * time.Second)
	for c.status(no) != "delivered" {
		if time.Now().After(deadline) {
			t.Fatalf("the poller did not deliver order %s within 20s (status %s)", no, c.status(no))
		}
		time.Sleep(100 * time.Millisecond)
	}
	status, b := c.do("GET", "/api/v1/orders/"+no, nil, c.admin())
	if status != 200 || !strings.Contains(string(b), `"K-`) {
		t.Fatalf("delivered order: %d %s; want its key", status, b)
	}
}

func TestPollIntervalSetting(t *testing.T) {
	for _, tc := range []struct {
		env, flag string
		want      time.Duration
		bad       bool
	}{
		{want: DefaultPollInterval},
		{env: "2m", want: 2 * time.Minute},
		{env: "0", want: 0},
		{env: "0s", want: 0},
		{env: "2m", flag: "45s", want: 45 * time.Second},
		{env: "500ms", bad: true},
		{env: "-1s", bad: true},
		{env: "soon", bad: true},
	} {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		get := pollFlag(fs, func(k string) string {
			if k == "FAKA_POLL_INTERVAL" {
				return tc.env
			}
			return ""
		})
		var args []string
		if tc.flag != "" {
			args = []string{"-poll-interval", tc.flag}
		}
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		got, err := get()
		if tc.bad != (err != nil) || (!tc.bad && got != tc.want) {
			t.Errorf("FAKA_POLL_INTERVAL=%q -poll-interval=%q: %v, %v; want %v (error: %v)", tc.env, tc.flag, got, err, tc.want, tc.bad)
		}
	}
}
