package stripe_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/internal/gatewaytest"
	"github.com/faka-dev/faka/payment/stripe"
)

// shop is the faka server with the Stripe gateway (on a fake Stripe)
// and the sandbox gateway, on a real engine over a fresh SQLite file.
type shop struct {
	*gatewaytest.Shop
	stripe *fakeStripe
}

func newShop(t *testing.T) shop {
	t.Helper()
	f := newFakeStripe(t, secretKey)
	return shop{gatewaytest.NewShop(t, shopURL, newGateway(t, f)), f}
}

// sessionEvent is the recorded completed event made to be about order c
// with Stripe's amount and currency, paid through PaymentIntent pi.
func sessionEvent(t *testing.T, file string, c gatewaytest.Placed, amount int64, cur, pi string) []byte {
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
	pid := s.Product(t, "USD", 5)
	c := s.Order(t, pid, 2, stripe.Name)
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
			replies[i] = s.Do("POST", "/pay/stripe/notify", body, stripe.SignatureHeader, signed(body, webhookSecret, at))
		})
	}
	wg.Wait()
	for i, w := range replies {
		if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != `{"received":true}` {
			t.Fatalf("copy %d: %d %s", i, w.Code, w.Body)
		}
	}
	o := s.Fetch(t, c)
	if o.Status != "delivered" || len(o.Keys) != 2 {
		t.Fatalf("order %+v", o)
	}
	st := s.State(t)
	if len(st.Payments) != 1 {
		t.Fatalf("%d payments recorded, want 1", len(st.Payments))
	}
	if len(st.Stock) != 1 || st.Stock[0].Sold != 2 || st.Stock[0].Available != 3 || st.Stock[0].Reserved != 0 {
		t.Fatalf("stock %+v", st.Stock)
	}

	// Once more, later: a duplicate, acknowledged, nothing changes.
	w := s.Do("POST", "/pay/stripe/notify", completed, stripe.SignatureHeader, signed(completed, webhookSecret, time.Now()))
	if w.Code != http.StatusOK {
		t.Fatalf("replay: %d %s", w.Code, w.Body)
	}
	if after := s.State(t); !reflect.DeepEqual(st, after) {
		t.Fatalf("replay changed the state:\n%+v\n%+v", st, after)
	}
}

// TestWebRefused sends notifications the server must refuse, or only
// acknowledge, without any change.
func TestWebRefused(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	pid := s.Product(t, "USD", 3)
	c := s.Order(t, pid, 1, stripe.Name)
	good := sessionEvent(t, "event_completed.json", c, 990, "usd", "pi_3TFakaWeb")
	now := time.Now()
	unknown := c
	unknown.OrderNo = "20260321000000000000"
	sandboxBody, sandboxHeaders := gatewaytest.SandboxNotification(c.OrderNo, "T-1", 990, "USD")
	before := s.State(t)
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
		{"the sandbox's notification at Stripe's endpoint", "/pay/stripe/notify", sandboxBody, sandboxHeaders, 400},
		{"an EPay notification at Stripe's endpoint", "/pay/stripe/notify", readFile(t, "notify_epay.form"), []string{"Content-Type", "application/x-www-form-urlencoded"}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.headers
			if h == nil {
				h = []string{stripe.SignatureHeader, signed(tc.body, webhookSecret, now)}
			}
			w := s.Do("POST", tc.path, tc.body, h...)
			if w.Code != tc.status {
				t.Fatalf("%d %s, want %d", w.Code, w.Body, tc.status)
			}
			if after := s.State(t); !reflect.DeepEqual(before, after) {
				t.Fatalf("state changed:\n%+v\n%+v", before, after)
			}
		})
	}
	// The genuine one still applies.
	if w := s.Do("POST", "/pay/stripe/notify", good, stripe.SignatureHeader, signed(good, webhookSecret, time.Now())); w.Code != http.StatusOK {
		t.Fatalf("genuine: %d %s", w.Code, w.Body)
	}
	if st := s.State(t); st.Statuses[c.OrderNo] != faka.StatusDelivered || len(st.Payments) != 1 {
		t.Fatalf("after the genuine event: %+v", st)
	}
}
