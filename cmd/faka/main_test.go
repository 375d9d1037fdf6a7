package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faka-dev/faka/payment/sandbox"
)

// testServer starts the real program on a free port with a fresh data
// directory, as `faka serve` would.
func testServer(t *testing.T, dir string) *Main {
	t.Helper()
	env := map[string]string{
		"FAKA_ADDR":           "127.0.0.1:0",
		"FAKA_DATA_DIR":       dir,
		"FAKA_ADMIN_TOKEN":    "test-admin-token-0123456789abcdef",
		"FAKA_SANDBOX_SECRET": "test-sandbox-secret",
		"FAKA_ORDER_RATE":     "0",
	}
	c, _, err := parse("serve", nil, func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &Main{Config: *c, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Out: io.Discard}
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	return m
}

type client struct {
	t    *testing.T
	base string
	http *http.Client
}

func (c *client) do(method, path string, body []byte, hdr map[string]string) (int, []byte) {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Errorf("%s %s: %v", method, path, err)
		return 0, nil
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func (c *client) admin() map[string]string {
	return map[string]string{"Authorization": "Bearer test-admin-token-0123456789abcdef"}
}

type orderReply struct {
	OrderNo  string   `json:"order_no"`
	Token    string   `json:"token"`
	Status   string   `json:"status"`
	Amount   int64    `json:"amount"`
	Currency string   `json:"currency"`
	Quantity int      `json:"quantity"`
	Keys     []string `json:"keys"`
	Error    *struct {
		Code string `json:"code"`
	} `json:"error"`
}

type reconcileReply struct {
	OK       bool `json:"ok"`
	Products []struct {
		ID        int64 `json:"id"`
		Imported  int64 `json:"imported"`
		Available int64 `json:"available"`
		Reserved  int64 `json:"reserved"`
		Sold      int64 `json:"sold"`
		Void      int64 `json:"void"`
	} `json:"products"`
	Violations []json.RawMessage `json:"violations"`
}

func (c *client) reconcile() reconcileReply {
	status, b := c.do("GET", "/api/v1/reconcile", nil, c.admin())
	var r reconcileReply
	if status != 200 || json.Unmarshal(b, &r) != nil {
		c.t.Fatalf("reconcile: %d %s", status, b)
	}
	return r
}

// order reads an order as its buyer.
func (c *client) order(o orderReply) orderReply {
	status, b := c.do("GET", "/api/v1/orders/"+o.OrderNo, nil, map[string]string{"X-Order-Token": o.Token})
	var v orderReply
	if status != 200 || json.Unmarshal(b, &v) != nil {
		c.t.Fatalf("order %s: %d %s", o.OrderNo, status, b)
	}
	return v
}

func (c *client) notify(no, trade string, amount int64, currency string, secret string) (int, string) {
	body := fmt.Sprintf(`{"order_no":%q,"trade_no":%q,"amount":%d,"currency":%q,"status":"paid"}`, no, trade, amount, currency)
	status, b := c.do("POST", "/pay/sandbox/notify", []byte(body),
		map[string]string{"X-Sandbox-Signature": sandbox.Sign([]byte(secret), []byte(body))})
	return status, string(b)
}

// TestDrop is the core issue's acceptance scenario, outside-in over HTTP
// against the real program: 1,000 keys (with duplicates in the upload),
// 5,000 concurrent order attempts of 1–3 keys, half the orders paid with
// concurrent duplicate notifications, forged and tampered notifications
// refused, the rest expiring after a 3 s TTL and selling again, and
// reconciliation agreeing at the end — also through `faka reconcile`.
func TestDrop(t *testing.T) {
	keys, attempts, workers := 1000, 5000, 200
	if testing.Short() {
		keys, attempts, workers = 200, 1000, 50
	}
	dir := t.TempDir()
	m := testServer(t, dir)
	defer m.Close()
	c := &client{t: t, base: m.URL(), http: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}}}

	status, b := c.do("POST", "/api/v1/products", []byte(`{"name":"Flash card","price":500,"currency":"CNY",
		"delivery":"card","reservation_ttl_seconds":3,"max_quantity":3}`), c.admin())
	if status != 201 {
		t.Fatalf("create product: %d %s", status, b)
	}
	var prod struct{ ID int64 }
	json.Unmarshal(b, &prod)

	var upload strings.Builder
	for i := range keys {
		fmt.Fprintf(&upload, "CARD-%05d-%x\n", i, rand.Uint64())
		if i%10 == 0 {
			fmt.Fprintf(&upload, "CARD-%05d-dup\nCARD-%05d-dup\n", i, i) // one new, one duplicate
		}
	}
	status, b = c.do("POST", fmt.Sprintf("/api/v1/products/%d/keys", prod.ID), []byte(upload.String()),
		map[string]string{"Authorization": "Bearer test-admin-token-0123456789abcdef", "Content-Type": "text/plain"})
	var imp struct{ Imported, Duplicates, Rejected int }
	if status != 200 || json.Unmarshal(b, &imp) != nil {
		t.Fatalf("import: %d %s", status, b)
	}
	wantImported := keys + keys/10
	if imp.Imported != wantImported || imp.Duplicates != keys/10 || imp.Rejected != 0 {
		t.Fatalf("import = %+v, want %d imported, %d duplicates", imp, wantImported, keys/10)
	}
	total := int64(wantImported)

	// The drop.
	var (
		mu        sync.Mutex
		orders    []orderReply
		latencies []time.Duration
		soldOut   atomic.Int64
		next      atomic.Int64
		wg        sync.WaitGroup
	)
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(attempts) {
				q := 1 + rand.IntN(3)
				body := fmt.Sprintf(`{"product_id":%d,"quantity":%d,"email":"b%d@example.com","gateway":"sandbox"}`,
					prod.ID, q, rand.IntN(1000))
				t0 := time.Now()
				status, b := c.do("POST", "/api/v1/orders", []byte(body), map[string]string{"Content-Type": "application/json"})
				d := time.Since(t0)
				var r orderReply
				json.Unmarshal(b, &r)
				mu.Lock()
				latencies = append(latencies, d)
				switch {
				case status == 201 && r.Quantity == q && r.Status == "pending":
					orders = append(orders, r)
				case status == 409 && r.Error != nil && r.Error.Code == "sold_out":
					soldOut.Add(1)
				default:
					t.Errorf("order: %d %s", status, b)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(latencies)
	pct := func(p float64) time.Duration { return latencies[int(float64(len(latencies)-1)*p)] }
	t.Logf("drop: %d attempts in %v = %.0f attempts/s; p50 %v p99 %v max %v; %d orders, %d sold out",
		attempts, elapsed.Round(time.Millisecond), float64(attempts)/elapsed.Seconds(), pct(0.5), pct(0.99),
		latencies[len(latencies)-1], len(orders), soldOut.Load())

	var reserved int64
	for _, o := range orders {
		reserved += int64(o.Quantity)
	}
	rec := c.reconcile()
	if !rec.OK || rec.Products[0].Imported != total || rec.Products[0].Sold != 0 {
		t.Fatalf("after drop: %+v", rec)
	}
	const ttl = 3 * time.Second
	if elapsed < ttl {
		// No reservation can have ended yet: the buyers' count is exact.
		if reserved > total || rec.Products[0].Reserved != reserved {
			t.Fatalf("oversold: buyers hold %d units, the database says %d reserved, of %d", reserved,
				rec.Products[0].Reserved, total)
		}
		if total-reserved >= 3 {
			t.Fatalf("undersold: %d of %d reserved while %d buyers were turned away", reserved, total, soldOut.Load())
		}
	} else {
		t.Logf("the drop outlasted the %v reservations: keys expired and sold again during it", ttl)
	}

	// Forged and tampered notifications: refused, nothing is paid.
	victim := orders[0]
	forged := []struct {
		name                    string
		amount                  int64
		currency, secret, order string
	}{
		{"wrong secret", victim.Amount, "CNY", "not-the-secret", victim.OrderNo},
		{"tampered amount", victim.Amount - 1, "CNY", "test-sandbox-secret", victim.OrderNo},
		{"tampered currency", victim.Amount, "USD", "test-sandbox-secret", victim.OrderNo},
		{"unknown order", victim.Amount, "CNY", "test-sandbox-secret", "19990101000000000000"},
	}
	for _, f := range forged {
		if status, body := c.notify(f.order, "FORGED-"+f.name, f.amount, f.currency, f.secret); status != 400 {
			t.Errorf("%s: %d %s, want 400", f.name, status, body)
		}
	}
	if after := c.reconcile(); !after.OK || after.Products[0].Sold != 0 {
		t.Fatalf("a refused notification sold something: %+v", after)
	}
	if v := c.order(victim); v.Status != "pending" && v.Status != "expired" {
		t.Fatalf("the victim of forged notifications is %s", v.Status)
	}

	// Pay half the orders, each with 4 concurrent copies of its notification.
	paid := orders[:len(orders)/2]
	unpaid := orders[len(orders)/2:]
	sem := make(chan struct{}, workers)
	for _, o := range paid {
		for range 4 {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				status, body := c.notify(o.OrderNo, "T-"+o.OrderNo, o.Amount, o.Currency, "test-sandbox-secret")
				if status != 200 || body != "success" {
					t.Errorf("notify %s: %d %q", o.OrderNo, status, body)
				}
			}()
		}
	}
	wg.Wait()

	// Every paid order holds exactly its keys, or — paid after its
	// reservation ended with the stock gone — waits as a backorder.
	seen := map[string]string{}
	var backorders []orderReply
	checkDelivered := func(o orderReply, v orderReply) {
		if len(v.Keys) != o.Quantity {
			t.Fatalf("order %s delivered with %d keys for quantity %d", o.OrderNo, len(v.Keys), o.Quantity)
		}
		for _, k := range v.Keys {
			if prev, dup := seen[k]; dup {
				t.Fatalf("key %q delivered to %s and %s", k, prev, o.OrderNo)
			}
			seen[k] = o.OrderNo
		}
	}
	for _, o := range paid {
		switch v := c.order(o); v.Status {
		case "delivered":
			checkDelivered(o, v)
		case "paid_awaiting_stock":
			if len(v.Keys) != 0 {
				t.Fatalf("backorder %s shows keys", o.OrderNo)
			}
			backorders = append(backorders, o)
		default:
			t.Fatalf("paid order %s is %s", o.OrderNo, v.Status)
		}
	}

	// The unpaid orders expire after their 3 s TTL, and their keys sell again.
	deadline := time.Now().Add(15 * time.Second)
	for _, o := range unpaid {
		for {
			v := c.order(o)
			if v.Status == "expired" && len(v.Keys) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("unpaid order %s not expired: %+v", o.OrderNo, v)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// Backorders, if any, are fulfilled by the next import, oldest first.
	if len(backorders) > 0 {
		var more strings.Builder
		for i := range 3 * len(backorders) {
			fmt.Fprintf(&more, "RESTOCK-%05d\n", i)
		}
		status, b := c.do("POST", fmt.Sprintf("/api/v1/products/%d/keys", prod.ID), []byte(more.String()), c.admin())
		if status != 200 {
			t.Fatalf("restock: %d %s", status, b)
		}
		total += int64(3 * len(backorders))
		for _, o := range backorders {
			v := c.order(o)
			if v.Status != "delivered" {
				t.Fatalf("backorder %s is %s after a restock", o.OrderNo, v.Status)
			}
			checkDelivered(o, v)
		}
	}
	t.Logf("paid %d orders (%d backordered, then delivered by a restock); %d expired", len(paid),
		len(backorders), len(unpaid))
	soldUnits := int64(len(seen))

	rec = c.reconcile()
	p := rec.Products[0]
	if !rec.OK || p.Sold != soldUnits || p.Reserved != 0 || p.Available != total-soldUnits || p.Imported != total {
		t.Fatalf("after expiry: %+v, want sold %d available %d", rec, soldUnits, total-soldUnits)
	}
	status, b = c.do("POST", "/api/v1/orders", []byte(fmt.Sprintf(
		`{"product_id":%d,"quantity":1,"email":"late@example.com","gateway":"sandbox"}`, prod.ID)), nil)
	if p.Available > 0 && status != 201 {
		t.Fatalf("released keys not on sale: %d %s", status, b)
	}

	// `faka reconcile` on the same database agrees once the server is gone.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	env := map[string]string{"FAKA_DATA_DIR": dir}
	code := run(context.Background(), []string{"reconcile"}, func(k string) string { return env[k] }, nil, &out, &out)
	if code != 0 || !strings.Contains(out.String(), "ok: every invariant holds") {
		t.Fatalf("faka reconcile exited %d:\n%s", code, out.String())
	}
	// The product's row: id imported available reserved sold void ledger;
	// the buyer who came after expiry holds one reserved key.
	want := fmt.Sprintf("%d %d %d %d %d %d ok", prod.ID, total, p.Available-1, 1, soldUnits, 0)
	if p.Available == 0 {
		want = fmt.Sprintf("%d %d %d %d %d %d ok", prod.ID, total, 0, 0, soldUnits, 0)
	}
	found := false
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Join(strings.Fields(line), " ") == want {
			found = true
		}
	}
	if !found {
		t.Fatalf("faka reconcile does not show the row %q:\n%s", want, out.String())
	}
}

// TestReconcileCommandFailsOnViolation checks that `faka reconcile` exits
// non-zero when the database breaks an invariant (here: a key row moved to
// sold behind the engine's back).
func TestReconcileCommandFailsOnViolation(t *testing.T) {
	dir := t.TempDir()
	m := testServer(t, dir)
	c := &client{t: t, base: m.URL(), http: http.DefaultClient}
	status, b := c.do("POST", "/api/v1/products", []byte(`{"name":"P","price":100,"currency":"CNY"}`), c.admin())
	if status != 201 {
		t.Fatalf("%d %s", status, b)
	}
	if status, b := c.do("POST", "/api/v1/products/1/keys", []byte("A\nB\n"), c.admin()); status != 200 {
		t.Fatalf("%d %s", status, b)
	}
	m.Close()
	env := map[string]string{"FAKA_DATA_DIR": dir}
	getenv := func(k string) string { return env[k] }
	var out bytes.Buffer
	if code := run(context.Background(), []string{"reconcile"}, getenv, nil, &out, &out); code != 0 {
		t.Fatalf("healthy store: exit %d\n%s", code, out.String())
	}
	corrupt(t, filepath.Join(dir, "faka.db"), `UPDATE card_keys SET state = 3 WHERE id = 1`)
	out.Reset()
	if code := run(context.Background(), []string{"reconcile"}, getenv, nil, &out, &out); code != 1 ||
		!strings.Contains(out.String(), "ledger_mismatch") {
		t.Fatalf("corrupted store: exit %d\n%s", code, out.String())
	}
}

// TestDemoSeedsAnEmptyStoreOnce checks README's run command: --demo fills
// an empty store with products and a console account, prints how to use
// them, and leaves a store that has data alone on the next start.
func TestDemoSeedsAnEmptyStoreOnce(t *testing.T) {
	dir := t.TempDir()
	start := func() (*Main, *bytes.Buffer) {
		env := map[string]string{"FAKA_ADDR": "127.0.0.1:0", "FAKA_DATA_DIR": dir}
		c, _, err := parse("serve", nil, func(k string) string { return env[k] }, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Demo = true
		var out bytes.Buffer
		m := &Main{Config: *c, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Out: &out}
		if err := m.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		printBanner(&out, &m.Config, m.demoAccount, m.demoPassword)
		return m, &out
	}
	m, out := start()
	if m.Config.AdminToken == "" || m.Config.SandboxSecret == "" || m.demoPassword == "" {
		t.Fatalf("demo made no admin token, sandbox secret or console password: %+v", m.Config)
	}
	c := &client{t: t, base: m.URL(), http: http.DefaultClient}
	status, b := c.do("GET", "/api/v1/products", nil, nil)
	var list struct {
		Products []struct{ Available int64 } `json:"products"`
	}
	if status != 200 || json.Unmarshal(b, &list) != nil || len(list.Products) != 2 || list.Products[0].Available != 50 {
		t.Fatalf("demo products: %d %s", status, b)
	}
	for _, want := range []string{m.URL(), m.Config.AdminToken, demoAccount + " / " + m.demoPassword, "pay_url"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, out.String())
		}
	}
	m.Close()

	m2, out2 := start()
	defer m2.Close()
	if m2.demoPassword != "" {
		t.Fatal("a second start made another console account")
	}
	if !strings.Contains(out2.String(), demoAccount) || strings.Contains(out2.String(), m.demoPassword) {
		t.Errorf("the second banner does not name the console account, or repeats its password:\n%s", out2)
	}
	c.base = m2.URL()
	if status, b := c.do("GET", "/api/v1/products", nil, nil); status != 200 || strings.Count(string(b), `"id"`) != 2 {
		t.Fatalf("a second start seeded again: %s", b)
	}
}
