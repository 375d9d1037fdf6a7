package stripe_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/faka-dev/faka"
)

func TestQuery(t *testing.T) {
	t.Parallel()
	f := newFakeStripe(t, secretKey)
	g := newGateway(t, f)
	o := order(990, "USD")
	if _, err := g.PayURL(t.Context(), o, "t"); err != nil {
		t.Fatal(err)
	}
	if _, paid, err := g.Query(t.Context(), orderNo); err != nil || paid {
		t.Fatalf("unpaid order: paid %v, %v", paid, err)
	}
	r := f.lastRequest()
	if r.Method != "GET" || r.Path != "/v1/payment_intents/search" ||
		r.Form.Get("query") != "metadata['order_no']:'"+orderNo+"' AND status:'succeeded'" {
		t.Fatalf("search request %s %s %v", r.Method, r.Path, r.Form)
	}
	f.pay(f.session(0).ID, "pi_3TFakaPaid")
	n, paid, err := g.Query(t.Context(), orderNo)
	want := faka.Notification{Gateway: "stripe", OrderNo: orderNo, TradeNo: "pi_3TFakaPaid", Amount: 990, Currency: "USD"}
	if err != nil || !paid || n != want {
		t.Fatalf("paid order: %+v %v %v", n, paid, err)
	}
	if _, paid, err := g.Query(t.Context(), "20260321000000000000"); err != nil || paid {
		t.Fatalf("unknown order: paid %v, %v", paid, err)
	}
	if _, _, err := g.Query(t.Context(), "x' OR status:'succeeded"); faka.ErrorCode(err) != faka.EInvalid {
		t.Fatalf("an order number that would change the query: %v", err)
	}

	// A recorded search reply.
	f.mu.Lock()
	f.rawSearch = readFile(t, "search_paid.json")
	f.mu.Unlock()
	if n, paid, err := g.Query(t.Context(), orderNo); err != nil || !paid || n != paidNotification {
		t.Fatalf("recorded reply: %+v %v %v", n, paid, err)
	}
	// Search returned what was not asked for: not taken.
	for _, edit := range []struct{ from, to string }{
		{`"order_no": "` + orderNo + `"`, `"order_no": "20260321000000000000"`},
		{`"status": "succeeded"`, `"status": "processing"`},
		{`"livemode": false`, `"livemode": true`},
		{`"amount_received": 990`, `"amount_received": 0`},
		{`"currency": "usd"`, `"currency": "USD"`},
	} {
		f.mu.Lock()
		f.rawSearch = []byte(strings.Replace(string(readFile(t, "search_paid.json")), edit.from, edit.to, 1))
		f.mu.Unlock()
		if n, paid, err := g.Query(t.Context(), orderNo); err != nil || paid {
			t.Errorf("%s → %s: %+v paid %v, %v", edit.from, edit.to, n, paid, err)
		}
	}
	f.mu.Lock()
	f.rawSearch = []byte("not json")
	f.mu.Unlock()
	if _, paid, err := g.Query(t.Context(), orderNo); err == nil || paid {
		t.Fatalf("malformed reply: paid %v, %v", paid, err)
	}
	f.setFail("GET /v1/payment_intents/search", http.StatusServiceUnavailable)
	if _, _, err := g.Query(t.Context(), orderNo); faka.ErrorCode(err) != faka.EUnavailable {
		t.Fatalf("Stripe down: %v", err)
	}
}

func TestCloseTrade(t *testing.T) {
	t.Parallel()
	f := newFakeStripe(t, secretKey)
	g := newGateway(t, f)
	pay := func(no string) {
		t.Helper()
		o := order(990, "USD")
		o.OrderNo = no
		if _, err := g.PayURL(t.Context(), o, "t"); err != nil {
			t.Fatal(err)
		}
	}
	pay("20260321000000000001") // session 0
	pay("20260321000000000002") // session 1
	pay("20260321000000000003") // session 2

	// Made by this instance: expired straight away.
	if err := g.CloseTrade(t.Context(), "20260321000000000001"); err != nil {
		t.Fatal(err)
	}
	if s := f.session(0); s.Status != "expired" {
		t.Fatalf("session %+v", s)
	}
	if r := f.lastRequest(); r.Method != "POST" || r.Path != "/v1/checkout/sessions/"+f.session(0).ID+"/expire" {
		t.Fatalf("request %s %s", r.Method, r.Path)
	}
	// Again: already expired, not an error.
	if err := g.CloseTrade(t.Context(), "20260321000000000001"); err != nil {
		t.Fatal(err)
	}

	// Another instance knows no session: it finds it among the newest.
	other := newGateway(t, f)
	for i := range 150 { // more than a page of other orders' sessions since
		o := order(990, "USD")
		o.OrderNo = fmt.Sprintf("2026032110000000%04d", i)
		if _, err := other.PayURL(t.Context(), o, "t"); err != nil {
			t.Fatal(err)
		}
	}
	third := newGateway(t, f)
	if err := third.CloseTrade(t.Context(), "20260321000000000002"); err != nil {
		t.Fatal(err)
	}
	if s := f.session(1); s.Status != "expired" {
		t.Fatalf("session %+v", s)
	}
	if s := f.session(2); s.Status != "open" {
		t.Fatalf("another order's session was closed: %+v", s)
	}

	// Paid meanwhile: a conflict, from memory and from the list alike.
	f.pay(f.session(2).ID, "pi_3TFakaLate")
	if err := g.CloseTrade(t.Context(), "20260321000000000003"); faka.ErrorCode(err) != faka.EConflict {
		t.Fatalf("paid, from memory: %v", err)
	}
	if err := third.CloseTrade(t.Context(), "20260321000000000003"); faka.ErrorCode(err) != faka.EConflict {
		t.Fatalf("paid, from the list: %v", err)
	}
	// Unknown to Stripe: nothing to close.
	if err := third.CloseTrade(t.Context(), "20260321999999999999"); err != nil {
		t.Fatalf("unknown order: %v", err)
	}
	if err := g.CloseTrade(t.Context(), "bad no"); faka.ErrorCode(err) != faka.EInvalid {
		t.Fatalf("malformed order number: %v", err)
	}
	f.setFail("GET /v1/checkout/sessions", http.StatusServiceUnavailable)
	if err := third.CloseTrade(t.Context(), "20260321000000000002"); faka.ErrorCode(err) != faka.EUnavailable {
		t.Fatalf("Stripe down: %v", err)
	}
}
