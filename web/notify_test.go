package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment/sandbox"
)

// TestHappyPath is the whole purchase: reserve, the gateway notifies,
// the buyer reads the keys.
func TestHappyPath(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.cardProduct(3, "")
	c := b.order(p.ID, 2)

	w := b.notify(paid(c, "TRADE-1"), sandboxSecret)
	if w.Code != http.StatusOK || w.Body.String() != "success" {
		t.Fatalf("notify: %d %q, want 200 success", w.Code, w.Body)
	}
	o := b.getOrder(c)
	if o.Status != "delivered" || len(o.Keys) != 2 || o.PaidAt == "" || o.DeliveredAt == "" || o.PayURL != "" {
		t.Fatalf("delivered order %+v", o)
	}
	for _, k := range o.Keys {
		if !strings.HasPrefix(k, fmt.Sprintf("KEY-%d-", p.ID)) {
			t.Fatalf("key %q is not one of the product's", k)
		}
	}
	if st := b.stock(p.ID); st.Sold != 2 || st.Available != 1 || st.Reserved != 0 {
		t.Fatalf("stock %+v", st)
	}

	// A duplicate is acknowledged and changes nothing.
	before := b.state()
	w = b.notify(paid(c, "TRADE-1"), sandboxSecret)
	if w.Code != http.StatusOK || w.Body.String() != "success" {
		t.Fatalf("duplicate notify: %d %q", w.Code, w.Body)
	}
	b.unchanged(before)
	if again := b.getOrder(c); strings.Join(again.Keys, ",") != strings.Join(o.Keys, ",") {
		t.Fatalf("keys changed: %v then %v", o.Keys, again.Keys)
	}
	if a, d := b.counter("faka_notifications_total", "gateway", "sandbox", "outcome", "applied"),
		b.counter("faka_notifications_total", "outcome", "duplicate"); a != 1 || d != 1 {
		t.Fatalf("notifications applied %v duplicate %v, want 1 and 1", a, d)
	}
}

func TestNotificationRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.cardProduct(2, "")
	c := b.order(p.ID, 1)
	other := b.order(p.ID, 1)
	good := paid(c, "TRADE-X")
	goodBody, _ := json.Marshal(good)
	sig := sandbox.Sign([]byte(sandboxSecret), goodBody)
	tamper := func(f func(*sandbox.Message)) string {
		m := good
		f(&m)
		body, _ := json.Marshal(m)
		return string(body)
	}
	signed := func(body string) []string {
		return []string{sandbox.SignatureHeader, sandbox.Sign([]byte(sandboxSecret), []byte(body))}
	}
	for _, tc := range []struct {
		name, body string
		headers    []string
	}{
		{"unsigned", string(goodBody), nil},
		{"empty signature", string(goodBody), []string{sandbox.SignatureHeader, ""}},
		{"signature not hex", string(goodBody), []string{sandbox.SignatureHeader, strings.Repeat("zz", 32)}},
		{"short signature", string(goodBody), []string{sandbox.SignatureHeader, sig[:32]}},
		{"forged with another secret", string(goodBody), []string{sandbox.SignatureHeader, sandbox.Sign([]byte("guess"), goodBody)}},
		{"amount changed after signing", tamper(func(m *sandbox.Message) { m.Amount = 1 }), []string{sandbox.SignatureHeader, sig}},
		{"currency changed after signing", tamper(func(m *sandbox.Message) { m.Currency = "USD" }), []string{sandbox.SignatureHeader, sig}},
		{"order_no changed after signing", tamper(func(m *sandbox.Message) { m.OrderNo = other.OrderNo }), []string{sandbox.SignatureHeader, sig}},
		{"space added after signing", string(goodBody) + " ", []string{sandbox.SignatureHeader, sig}},
		{"signed wrong amount", tamper(func(m *sandbox.Message) { m.Amount = 1 }), signed(tamper(func(m *sandbox.Message) { m.Amount = 1 }))},
		{"signed wrong currency", tamper(func(m *sandbox.Message) { m.Currency = "USD" }), signed(tamper(func(m *sandbox.Message) { m.Currency = "USD" }))},
		{"signed unknown order", tamper(func(m *sandbox.Message) { m.OrderNo = "NO-SUCH" }), signed(tamper(func(m *sandbox.Message) { m.OrderNo = "NO-SUCH" }))},
		{"signed status pending", tamper(func(m *sandbox.Message) { m.Status = "pending" }), signed(tamper(func(m *sandbox.Message) { m.Status = "pending" }))},
		{"signed malformed JSON", `{"order_no":`, signed(`{"order_no":`)},
		{"signed unknown field", `{"order_no":"x","extra":1}`, signed(`{"order_no":"x","extra":1}`)},
		{"signed without trade_no", tamper(func(m *sandbox.Message) { m.TradeNo = "" }), signed(tamper(func(m *sandbox.Message) { m.TradeNo = "" }))},
		{"oversized", strings.Repeat(" ", 65<<10) + string(goodBody), signed(strings.Repeat(" ", 65<<10) + string(goodBody))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := b.state()
			w := b.do("POST", "/pay/sandbox/notify", tc.body, tc.headers...)
			if w.Code != http.StatusBadRequest {
				t.Fatalf("status %d %s, want 400", w.Code, w.Body)
			}
			var e apiError
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code == "" {
				t.Fatalf("body %q is not a JSON error", w.Body)
			}
			b.unchanged(before)
		})
	}
	if o := b.getOrder(c); o.Status != "pending" {
		t.Fatalf("order %s after refused notifications", o.Status)
	}
	if got := b.counter("faka_notifications_total", "outcome", "rejected"); got != 17 {
		t.Fatalf("faka_notifications_total{outcome=rejected} = %v, want 17", got)
	}
	wantError(t, b.do("POST", "/pay/paypal/notify", string(goodBody)), http.StatusNotFound, faka.ENotFound)
	// After all that, the genuine notification still works.
	if w := b.do("POST", "/pay/sandbox/notify", string(goodBody), sandbox.SignatureHeader, sig); w.Code != http.StatusOK {
		t.Fatalf("genuine notification: %d %s", w.Code, w.Body)
	}
}

func TestConcurrentDuplicateNotifications(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.cardProduct(4, "")
	c := b.order(p.ID, 3)
	const n = 40
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			trade := "SAME-TRADE"
			if i%4 == 0 {
				trade = fmt.Sprintf("OTHER-TRADE-%d", i) // a second payment for the same order
			}
			w := b.notify(paid(c, trade), sandboxSecret)
			codes[i] = w.Code
		}()
	}
	wg.Wait()
	for i, code := range codes {
		if code != http.StatusOK {
			t.Fatalf("notification %d got %d", i, code)
		}
	}
	if st := b.stock(p.ID); st.Sold != 3 || st.Available != 1 || st.Reserved != 0 {
		t.Fatalf("stock %+v: the payment was not applied exactly once", st)
	}
	if o := b.getOrder(c); o.Status != "delivered" || len(o.Keys) != 3 {
		t.Fatalf("order %+v", o)
	}
	ctx := context.Background()
	o, err := b.e.Order(ctx, c.OrderNo)
	if err != nil {
		t.Fatal(err)
	}
	pays, err := b.e.Store().PaymentsByOrder(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(pays) != 1+n/4 {
		t.Fatalf("%d payments recorded, want %d (one per distinct trade)", len(pays), 1+n/4)
	}
	applied := 0
	for _, pay := range pays {
		if pay.Outcome != faka.OutcomeExtra {
			applied++
		}
	}
	if applied != 1 {
		t.Fatalf("%d payments applied, want 1: %+v", applied, pays)
	}
}

func TestSandboxPayPage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.cardProduct(2, "")
	c := b.order(p.ID, 1)
	u, err := url.Parse(c.PayURL)
	if err != nil {
		t.Fatal(err)
	}
	page := b.do("GET", u.RequestURI(), "")
	if page.Code != http.StatusOK || !strings.Contains(page.Body.String(), "9.90 CNY") ||
		!strings.Contains(page.Body.String(), `action="/pay/sandbox/`+c.OrderNo+`/pay"`) {
		t.Fatalf("pay page %d:\n%s", page.Code, page.Body)
	}
	// The shop's layout: its CSP, no inline script.
	checkPageSafety(t, page)
	if page.Header().Get("X-Frame-Options") != "DENY" {
		t.Fatal("pay page may be framed")
	}
	for _, bad := range []string{"?token=wrong", ""} {
		if w := b.do("GET", "/pay/sandbox/"+c.OrderNo+bad, ""); w.Code == http.StatusOK || strings.Contains(w.Body.String(), "<form") {
			t.Fatalf("pay page with token %q: %d", bad, w.Code)
		}
	}

	before := b.state()
	form := func(token string) *httptest.ResponseRecorder {
		return b.do("POST", "/pay/sandbox/"+c.OrderNo+"/pay", "token="+url.QueryEscape(token),
			"Content-Type", "application/x-www-form-urlencoded")
	}
	if w := form("wrong"); w.Code != http.StatusNotFound {
		t.Fatalf("pay with a wrong token: %d", w.Code)
	}
	b.unchanged(before)

	w := form(c.Token)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("pay: %d %s", w.Code, w.Body)
	}
	if loc, want := w.Header().Get("Location"), "/orders/"+c.OrderNo+"?token="+url.QueryEscape(c.Token); loc != want {
		t.Fatalf("redirect to %q, want %q", loc, want)
	}
	if o := b.getOrder(c); o.Status != "delivered" || len(o.Keys) != 1 {
		t.Fatalf("order after pay %+v", o)
	}
	// A second click does not pay twice: the page says the order is paid.
	before = b.state()
	if w := form(c.Token); w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "已付款") {
		t.Fatalf("second pay: %d\n%s", w.Code, w.Body)
	}
	b.unchanged(before)
	if got := b.counter("faka_notifications_total", "gateway", "sandbox", "outcome", "applied"); got != 1 {
		t.Fatalf("applied notifications %v, want 1 (the pay button goes through confirm)", got)
	}
	if w := b.do("GET", u.RequestURI(), "", "Accept-Language", "en"); !strings.Contains(w.Body.String(), "already paid") {
		t.Fatalf("pay page of a paid order:\n%s", w.Body)
	}
}

// TestBuyOverHTTP buys a key as a browser would, over a real connection:
// order, open the pay page, press Pay, follow the redirect to the keys.
func TestBuyOverHTTP(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ts := httptest.NewServer(b.srv)
	defer ts.Close()
	p := b.cardProduct(1, "")

	resp, err := ts.Client().Post(ts.URL+"/api/v1/orders", "application/json", strings.NewReader(orderBody(p.ID, 1)))
	if err != nil {
		t.Fatal(err)
	}
	var c created
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("order: %d %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	pay, err := url.Parse(c.PayURL)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = ts.Client().Get(ts.URL + pay.RequestURI())
	if err != nil {
		t.Fatal(err)
	}
	if page := readAll(t, resp.Body); resp.StatusCode != http.StatusOK || !strings.Contains(page, "<button") {
		t.Fatalf("pay page %d:\n%s", resp.StatusCode, page)
	}
	resp.Body.Close()

	resp, err = ts.Client().PostForm(ts.URL+"/pay/sandbox/"+c.OrderNo+"/pay", url.Values{"token": {c.Token}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// The pay page sends the buyer to the storefront's order page.
	page := readAll(t, resp.Body)
	if want := fmt.Sprintf("KEY-%d-0000", p.ID); resp.StatusCode != http.StatusOK || !strings.Contains(page, want) {
		t.Fatalf("after Pay: %d, want the key %s on the order page:\n%s", resp.StatusCode, want, page)
	}
	if resp.Request.URL.Path != "/orders/"+c.OrderNo {
		t.Fatalf("after Pay the buyer is at %s", resp.Request.URL)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatal("the keys may be cached")
	}
	o := b.getOrder(c)
	if o.Status != "delivered" || len(o.Keys) != 1 {
		t.Fatalf("order after paying %+v", o)
	}
}
