package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/web"
)

func TestCreateOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.cardProduct(5, "")
	w := b.do("POST", "/api/v1/orders", `{"product_id":`+fmt.Sprint(p.ID)+`,"quantity":2,"email":"Buyer@Example.COM"}`)
	c := decode[created](t, w, http.StatusCreated)
	if c.OrderNo == "" || c.Token == "" || c.Status != "pending" || c.Amount != 1980 || c.Currency != "CNY" ||
		c.ProductID != p.ID || c.Quantity != 2 {
		t.Fatalf("created %+v", c)
	}
	exp, err := time.Parse(time.RFC3339, c.ExpiresAt)
	if err != nil || time.Until(exp) < 4*time.Minute || time.Until(exp) > 6*time.Minute {
		t.Fatalf("expires_at %q (%v), want about 5 minutes from now", c.ExpiresAt, err)
	}
	if want := publicURL + "/pay/sandbox/" + c.OrderNo + "?token=" + c.Token; c.PayURL != want {
		t.Fatalf("pay_url %q, want %q (the default gateway)", c.PayURL, want)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Fatal("an order response must not be cached")
	}
	if st := b.stock(p.ID); st.Reserved != 2 || st.Available != 3 {
		t.Fatalf("stock %+v", st)
	}
	if got := b.counter("faka_orders_total", "outcome", "created"); got != 1 {
		t.Fatalf("faka_orders_total{outcome=created} = %v", got)
	}

	// The last units, then sold out with nothing written.
	b.order(p.ID, 3)
	before := b.state()
	wantError(t, b.do("POST", "/api/v1/orders", orderBody(p.ID, 1)), http.StatusConflict, faka.ESoldOut)
	b.unchanged(before)
	if got := b.counter("faka_orders_total", "outcome", "sold_out"); got != 1 {
		t.Fatalf("faka_orders_total{outcome=sold_out} = %v", got)
	}
}

func TestCreateOrderBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.cardProduct(5, `,"max_quantity":3`)
	off := decode[product](t, b.admin("POST", "/api/v1/products",
		`{"name":"Off","price":1,"currency":"CNY","delivery":"manual","stock":5,"active":false}`), http.StatusCreated)
	body := func(fields string) string {
		return `{"product_id":` + fmt.Sprint(p.ID) + `,"email":"buyer@example.com"` + fields + `}`
	}
	for _, tc := range []struct {
		name, body string
		headers    []string
		status     int
		code       string
	}{
		{"malformed JSON", `{"product_id":1,`, nil, 400, faka.EBadRequest},
		{"not JSON", `product_id=1`, nil, 400, faka.EBadRequest},
		{"unknown field", body(`,"quantity":1,"coupon":"FREE"`), nil, 400, faka.EBadRequest},
		{"trailing data", body(`,"quantity":1`) + `x`, nil, 400, faka.EBadRequest},
		{"two objects", body(`,"quantity":1`) + body(`,"quantity":1`), nil, 400, faka.EBadRequest},
		{"empty body", ``, nil, 400, faka.EBadRequest},
		{"quantity as string", body(`,"quantity":"1"`), nil, 400, faka.EBadRequest},
		{"fractional quantity", body(`,"quantity":1.5`), nil, 422, faka.EInvalid},
		{"multipart content type", body(`,"quantity":1`), []string{"Content-Type", "multipart/form-data; boundary=x"}, 400, faka.EBadRequest},
		{"zero quantity", body(`,"quantity":0`), nil, 422, faka.EInvalid},
		{"no quantity", body(``), nil, 422, faka.EInvalid},
		{"negative quantity", body(`,"quantity":-1`), nil, 422, faka.EInvalid},
		{"quantity over product max", body(`,"quantity":4`), nil, 422, faka.EInvalid},
		{"huge quantity", body(`,"quantity":1000000000`), nil, 422, faka.EInvalid},
		{"overflowing quantity", body(`,"quantity":99999999999999999999999`), nil, 422, faka.EInvalid},
		{"unknown product", `{"product_id":9999,"quantity":1,"email":"buyer@example.com"}`, nil, 422, faka.EInvalid},
		{"inactive product", `{"product_id":` + fmt.Sprint(off.ID) + `,"quantity":1,"email":"buyer@example.com"}`, nil, 422, faka.EInvalid},
		{"no product", `{"quantity":1,"email":"buyer@example.com"}`, nil, 422, faka.EInvalid},
		{"no email", `{"product_id":` + fmt.Sprint(p.ID) + `,"quantity":1}`, nil, 422, faka.EInvalid},
		{"bad email", `{"product_id":` + fmt.Sprint(p.ID) + `,"quantity":1,"email":"not-an-email"}`, nil, 422, faka.EInvalid},
		{"email with name", `{"product_id":` + fmt.Sprint(p.ID) + `,"quantity":1,"email":"Bob <bob@example.com>"}`, nil, 422, faka.EInvalid},
		{"unknown gateway", body(`,"quantity":1,"gateway":"paypal"`), nil, 422, faka.EInvalid},
		{"long query password", body(`,"quantity":1,"query_password":"` + strings.Repeat("p", 200) + `"`), nil, 422, faka.EInvalid},
		{"long idempotency key", body(`,"quantity":1`), []string{"Idempotency-Key", strings.Repeat("k", 256)}, 422, faka.EInvalid},
		{"control char in idempotency key", body(`,"quantity":1`), []string{"Idempotency-Key", "a\x01b"}, 422, faka.EInvalid},
		{"non-ASCII idempotency key", body(`,"quantity":1`), []string{"Idempotency-Key", "clé"}, 422, faka.EInvalid},
		{"oversized body", body(`,"quantity":1,"query_password":"` + strings.Repeat("p", 70<<10) + `"`), nil, 413, faka.ETooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := b.state()
			w := b.do("POST", "/api/v1/orders", tc.body, tc.headers...)
			wantError(t, w, tc.status, tc.code)
			b.unchanged(before)
		})
	}
	if got := b.counter("faka_orders_total", "outcome", "invalid"); got == 0 {
		t.Fatal("refused orders are not counted as invalid")
	}
}

func TestNoGatewayEnabled(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *web.Config) { c.Gateways = nil })
	p := b.cardProduct(1, "")
	before := b.state()
	wantError(t, b.do("POST", "/api/v1/orders", fmt.Sprintf(`{"product_id":%d,"quantity":1,"email":"a@example.com"}`, p.ID)),
		http.StatusUnprocessableEntity, faka.EInvalid)
	b.unchanged(before)
}

func TestGetOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.cardProduct(2, "")
	c := b.order(p.ID, 1)
	path := "/api/v1/orders/" + c.OrderNo

	o := b.getOrder(c)
	if o.OrderNo != c.OrderNo || o.Status != "pending" || o.Keys == nil || len(o.Keys) != 0 ||
		o.Email != "buyer@example.com" || o.PayURL != c.PayURL || o.CreatedAt == "" || o.ExpiresAt != c.ExpiresAt {
		t.Fatalf("order %+v", o)
	}
	if got := decode[order](t, b.do("GET", path+"?token="+c.Token, ""), http.StatusOK); got.OrderNo != c.OrderNo {
		t.Fatalf("by ?token= %+v", got)
	}
	if got := decode[order](t, b.admin("GET", path, ""), http.StatusOK); got.OrderNo != c.OrderNo || got.PayURL != "" {
		t.Fatalf("as admin %+v", got)
	}

	w := b.do("GET", path, "")
	wantError(t, w, http.StatusUnauthorized, faka.EUnauthorized)
	wrong := b.do("GET", path, "", "X-Order-Token", c.Token+"x")
	unknown := b.do("GET", "/api/v1/orders/NO-SUCH-ORDER", "", "X-Order-Token", c.Token)
	wantError(t, wrong, http.StatusNotFound, faka.ENotFound)
	if wrong.Body.String() != unknown.Body.String() || unknown.Code != http.StatusNotFound {
		t.Fatalf("a wrong token (%s) and an unknown order (%s) must look alike", wrong.Body, unknown.Body)
	}
	wantError(t, b.do("GET", path, "", "Authorization", "Bearer wrong"), http.StatusUnauthorized, faka.EUnauthorized)
	for _, w := range []*httptest.ResponseRecorder{wrong, unknown} {
		if w.Header().Get("Cache-Control") != "no-store" {
			t.Fatal("order responses must be no-store")
		}
	}
}

func TestCancelOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.cardProduct(2, "")
	c := b.order(p.ID, 2)
	path := "/api/v1/orders/" + c.OrderNo + "/cancel"

	before := b.state()
	wantError(t, b.do("POST", path, ""), http.StatusUnauthorized, faka.EUnauthorized)
	wantError(t, b.do("POST", path, "", "X-Order-Token", "wrong"), http.StatusNotFound, faka.ENotFound)
	b.unchanged(before)

	o := decode[order](t, b.do("POST", path, "", "X-Order-Token", c.Token), http.StatusOK)
	if o.Status != "cancelled" {
		t.Fatalf("cancelled order %+v", o)
	}
	if st := b.stock(p.ID); st.Available != 2 || st.Reserved != 0 {
		t.Fatalf("stock after cancel %+v", st)
	}
	before = b.state()
	wantError(t, b.do("POST", path, "", "X-Order-Token", c.Token), http.StatusConflict, faka.EInvalidState)
	b.unchanged(before)

	c2 := b.order(p.ID, 1)
	if o := decode[order](t, b.admin("POST", "/api/v1/orders/"+c2.OrderNo+"/cancel", ""), http.StatusOK); o.Status != "cancelled" {
		t.Fatalf("admin cancel %+v", o)
	}
}

func TestRefundAndManualDelivery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.cardProduct(1, "")
	c := b.order(p.ID, 1)
	refund := "/api/v1/orders/" + c.OrderNo + "/refund"
	wantError(t, b.admin("POST", refund, ""), http.StatusConflict, faka.EInvalidState) // not paid
	if w := b.notify(paid(c, "T1"), sandboxSecret); w.Code != http.StatusOK {
		t.Fatalf("notify %d %s", w.Code, w.Body)
	}
	wantError(t, b.do("POST", refund, "", "X-Order-Token", c.Token), http.StatusUnauthorized, faka.EUnauthorized)
	if o := decode[order](t, b.admin("POST", refund, ""), http.StatusOK); o.Status != "refunded" || len(o.Keys) != 0 {
		t.Fatalf("refunded %+v", o)
	}
	if st := b.stock(p.ID); st.Void != 1 || st.Sold != 0 {
		t.Fatalf("stock after refund %+v", st)
	}
	wantError(t, b.admin("POST", "/api/v1/orders/NOPE/refund", ""), http.StatusNotFound, faka.ENotFound)

	m := decode[product](t, b.admin("POST", "/api/v1/products",
		`{"name":"Service","price":300,"currency":"CNY","delivery":"manual","stock":1}`), http.StatusCreated)
	mc := b.order(m.ID, 1)
	deliver := "/api/v1/orders/" + mc.OrderNo + "/deliver"
	if w := b.notify(paid(mc, "T2"), sandboxSecret); w.Code != http.StatusOK {
		t.Fatalf("notify %d %s", w.Code, w.Body)
	}
	if o := b.getOrder(mc); o.Status != "paid" || len(o.Keys) != 0 || o.PaidAt == "" {
		t.Fatalf("paid manual order %+v", o)
	}
	wantError(t, b.admin("POST", deliver, `{"note":"  "}`), http.StatusUnprocessableEntity, faka.EInvalid)
	wantError(t, b.admin("POST", deliver, `{"notes":"x"}`), http.StatusBadRequest, faka.EBadRequest)
	decode[order](t, b.admin("POST", deliver, `{"note":"Your account: alice / s3cret"}`), http.StatusOK)
	if o := b.getOrder(mc); o.Status != "delivered" || len(o.Keys) != 1 || o.Keys[0] != "Your account: alice / s3cret" || o.DeliveredAt == "" {
		t.Fatalf("delivered manual order %+v", o)
	}
}

func TestDeliverUnpaidManualOrder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	m := decode[product](t, b.admin("POST", "/api/v1/products",
		`{"name":"Service","price":300,"currency":"CNY","delivery":"manual","stock":1}`), http.StatusCreated)
	c := b.order(m.ID, 1)
	before := b.state()
	wantError(t, b.admin("POST", "/api/v1/orders/"+c.OrderNo+"/deliver", `{"note":"done"}`),
		http.StatusConflict, faka.EInvalidState)
	b.unchanged(before)
	if o := b.getOrder(c); o.Status != "pending" || len(o.Keys) != 0 {
		t.Fatalf("unpaid order after a refused delivery %+v", o)
	}
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.cardProduct(10, "")
	body := orderBody(p.ID, 1)
	key := []string{"Idempotency-Key", "retry-1"}

	first := decode[created](t, b.do("POST", "/api/v1/orders", body, key...), http.StatusCreated)
	w := b.do("POST", "/api/v1/orders", body, key...)
	again := decode[created](t, w, http.StatusCreated)
	if again != first {
		t.Fatalf("replay %+v, want %+v", again, first)
	}
	if w.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatal("a replay is not marked")
	}
	// The same fields in another order and spelling are the same request.
	same := fmt.Sprintf(`{ "gateway":"sandbox", "email":"buyer@EXAMPLE.com", "quantity":1, "product_id":%d }`, p.ID)
	if got := decode[created](t, b.do("POST", "/api/v1/orders", same, key...), http.StatusCreated); got.OrderNo != first.OrderNo {
		t.Fatalf("equivalent body made order %s, want %s", got.OrderNo, first.OrderNo)
	}
	before := b.state()
	wantError(t, b.do("POST", "/api/v1/orders", orderBody(p.ID, 2), key...), http.StatusUnprocessableEntity, faka.EInvalid)
	b.unchanged(before)
	if st := b.stock(p.ID); st.Reserved != 1 {
		t.Fatalf("stock %+v: replays reserved again", st)
	}
	if got := b.counter("faka_orders_total", "outcome", "replayed"); got != 2 {
		t.Fatalf("faka_orders_total{outcome=replayed} = %v, want 2", got)
	}
}

// TestIdempotencyKeyOfAnotherClient: a victim's Idempotency-Key and body,
// replayed from another address, are a different request: 422, nothing
// reserved, and the victim's token is not handed out.
func TestIdempotencyKeyOfAnotherClient(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.cardProduct(10, "")
	body := orderBody(p.ID, 1)
	key := []string{"Idempotency-Key", "victim-key"}
	victim := decode[created](t, b.send(req{method: "POST", path: "/api/v1/orders", body: body, headers: key,
		remote: "192.0.2.10:4000"}), http.StatusCreated)
	before := b.state()
	w := b.send(req{method: "POST", path: "/api/v1/orders", body: body, headers: key, remote: "198.51.100.7:5000"})
	wantError(t, w, http.StatusUnprocessableEntity, faka.EInvalid)
	if strings.Contains(w.Body.String(), victim.Token) || strings.Contains(w.Body.String(), victim.OrderNo) {
		t.Fatalf("the replay from another client shows the victim's order: %s", w.Body)
	}
	b.unchanged(before)
	// The victim's own retry is still a replay.
	again := decode[created](t, b.send(req{method: "POST", path: "/api/v1/orders", body: body, headers: key,
		remote: "192.0.2.10:4001"}), http.StatusCreated)
	if again != victim {
		t.Fatalf("the victim's retry %+v, want %+v", again, victim)
	}
}

func TestIdempotencyConcurrentTwins(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.cardProduct(50, "")
	const n = 20
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		orders   = map[string]bool{}
		statuses = map[int]int{}
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := b.do("POST", "/api/v1/orders", orderBody(p.ID, 2), "Idempotency-Key", "twin")
			mu.Lock()
			defer mu.Unlock()
			statuses[w.Code]++
			switch w.Code {
			case http.StatusCreated:
				c := decode[created](t, w, http.StatusCreated)
				orders[c.OrderNo] = true
			case http.StatusConflict:
				wantError(t, w, http.StatusConflict, faka.EConflict)
			default:
				t.Errorf("twin got %d %s", w.Code, w.Body)
			}
		}()
	}
	wg.Wait()
	t.Logf("twin statuses: %v", statuses)
	if len(orders) != 1 {
		t.Fatalf("twins made %d orders (%v); statuses %v", len(orders), orders, statuses)
	}
	if st := b.stock(p.ID); st.Reserved != 2 {
		t.Fatalf("stock %+v, want exactly one reservation of 2", st)
	}
	if s := b.state(); s.Orders != 1 {
		t.Fatalf("%d orders stored, want 1", s.Orders)
	}
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *web.Config) { c.OrderRate = 2 })
	p := b.cardProduct(20, "")
	post := func(remote, email string) *httptest.ResponseRecorder {
		return b.send(req{method: "POST", path: "/api/v1/orders", remote: remote,
			body: fmt.Sprintf(`{"product_id":%d,"quantity":1,"email":%q}`, p.ID, email)})
	}
	decode[created](t, post("198.51.100.1:1000", "a@example.com"), http.StatusCreated)
	decode[created](t, post("198.51.100.1:1001", "b@example.com"), http.StatusCreated)
	before := b.state()
	w := post("198.51.100.1:1002", "c@example.com")
	wantError(t, w, http.StatusTooManyRequests, faka.ERateLimited)
	if ra := w.Header().Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("Retry-After %q", ra)
	}
	b.unchanged(before)

	// Another network is not limited by the first one's use…
	decode[created](t, post("198.51.100.2:1000", "d@example.com"), http.StatusCreated)
	// …but one email address is, across networks (half the IP rate).
	before = b.state()
	wantError(t, post("198.51.100.3:1000", "a@EXAMPLE.com"), http.StatusTooManyRequests, faka.ERateLimited)
	b.unchanged(before)
	if got := b.counter("faka_orders_total", "outcome", "rate_limited"); got != 2 {
		t.Fatalf("faka_orders_total{outcome=rate_limited} = %v, want 2", got)
	}
}

func TestRateLimitBehindProxy(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *web.Config) {
		c.OrderRate = 1
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	p := b.cardProduct(20, "")
	post := func(remote, xff, email string) int {
		return b.send(req{method: "POST", path: "/api/v1/orders", remote: remote,
			headers: []string{"X-Forwarded-For", xff},
			body:    fmt.Sprintf(`{"product_id":%d,"quantity":1,"email":%q}`, p.ID, email)}).Code
	}
	// Two buyers behind the same proxy are two clients.
	if c := post("10.0.0.1:5000", "203.0.113.7", "a@example.com"); c != http.StatusCreated {
		t.Fatalf("first buyer %d", c)
	}
	if c := post("10.0.0.1:5000", "203.0.113.8", "b@example.com"); c != http.StatusCreated {
		t.Fatalf("second buyer %d", c)
	}
	// A forged left-most hop does not make a new client.
	if c := post("10.0.0.1:5000", "192.0.2.99, 203.0.113.7", "c@example.com"); c != http.StatusTooManyRequests {
		t.Fatalf("forged X-Forwarded-For got %d, want 429", c)
	}
	// An untrusted peer's X-Forwarded-For is ignored.
	if c := post("203.0.113.50:5000", "192.0.2.1", "d@example.com"); c != http.StatusCreated {
		t.Fatalf("direct client %d", c)
	}
	if c := post("203.0.113.50:5000", "192.0.2.2", "e@example.com"); c != http.StatusTooManyRequests {
		t.Fatalf("direct client spoofing X-Forwarded-For got %d, want 429", c)
	}
}
