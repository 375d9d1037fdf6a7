package stripe_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment"
	"github.com/faka-dev/faka/payment/stripe"
)

// verifies reports whether header holds a v1 signature of body under
// secret, made at most five minutes ago: checked here by hand, not by
// the library the gateway uses.
func verifies(header string, body []byte, secret string, now time.Time) bool {
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok || strings.Contains(v, "=") {
			return false // the library refuses the whole header too
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if s, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, s)
			}
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(t, 0)) > 5*time.Minute+time.Second {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.%s", t, body)
	want := mac.Sum(nil)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return true
		}
	}
	return false
}

// FuzzStripeNotification feeds arbitrary bodies and Stripe-Signature
// headers to ParseNotification. It must never panic, never accept (or
// even acknowledge as ignored) a body whose header does not hold a fresh
// signature of it under the webhook secret, and never accept a signed
// body that does not state a paid Checkout Session of an order. With
// sign set, the body is signed correctly now, so that the fuzzer
// explores the checks behind the signature.
func FuzzStripeNotification(f *testing.F) {
	f.Add(readFile(f, "event_completed.json"), "", true)
	f.Add(readFile(f, "event_completed.json"), "t=1774089000,v1="+strings.Repeat("00", 32), false)
	f.Add(readFile(f, "event_async_succeeded.json"), "", true)
	f.Add(readFile(f, "event_completed_unpaid.json"), "", true)
	f.Add(readFile(f, "event_payment_intent_succeeded.json"), "", true)
	f.Add(readFile(f, "event_other_site.json"), "", true)
	f.Add(readFile(f, "event_other_integration.json"), "", true)
	f.Add(readFile(f, "notify_epay.form"), "", false)
	f.Add([]byte(`{"object":"event","type":"checkout.session.completed","livemode":false,"data":{"object":{"object":"checkout.session",`+
		`"id":"cs_1","mode":"payment","payment_status":"paid","amount_total":1,"currency":"jpy","client_reference_id":"A",`+
		`"metadata":{"order_no":"A"},"payment_intent":{"id":"pi_1"}}}}`), "", true)
	f.Add([]byte(""), "", false)
	g := newGateway(f, nil)
	f.Fuzz(func(t *testing.T, body []byte, sig string, sign bool) {
		now := time.Now()
		if sign {
			sig = signed(body, webhookSecret, now)
		}
		n, err := g.ParseNotification(notifyRequest(body, sig), body)
		if err != nil {
			if faka.ErrorCode(err) == faka.EInternal {
				t.Fatalf("an internal error for bad input: %v", err)
			}
			if n != (faka.Notification{}) {
				t.Fatalf("refused, yet filled: %+v", n)
			}
			if errors.Is(err, stripe.ErrIgnored) && !verifies(sig, body, webhookSecret, now) {
				t.Fatalf("acknowledged an unsigned body: header %q", sig)
			}
			return
		}
		if !verifies(sig, body, webhookSecret, now) {
			t.Fatalf("accepted a body whose signature does not verify: header %q", sig)
		}
		var ev struct {
			Type     string `json:"type"`
			Livemode bool   `json:"livemode"`
			Data     struct {
				Object struct {
					PaymentStatus string `json:"payment_status"`
					Mode          string `json:"mode"`
				} `json:"object"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Fatalf("accepted a body that is not JSON: %v", err)
		}
		if (ev.Type != stripe.EventCompleted && ev.Type != stripe.EventAsyncSucceeded) || ev.Livemode ||
			ev.Data.Object.PaymentStatus != "paid" || ev.Data.Object.Mode != "payment" {
			t.Fatalf("accepted %+v", ev)
		}
		if n.Gateway != "stripe" || !payment.Printable(n.OrderNo, stripe.MaxOrderNoLength) || !payment.Printable(n.TradeNo, stripe.MaxIDLength) ||
			n.Amount <= 0 || !faka.ValidCurrency(n.Currency) {
			t.Fatalf("accepted a malformed payment %+v", n)
		}
	})
}
