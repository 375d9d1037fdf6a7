package stripe_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment/stripe"
)

// signed returns the Stripe-Signature header of body signed with secret
// at time at.
func signed(body []byte, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: at}).Header
}

func notifyRequest(body []byte, sig string) *http.Request {
	r := httptest.NewRequest("POST", "/pay/stripe/notify", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json; charset=utf-8")
	if sig != "" {
		r.Header.Set(stripe.SignatureHeader, sig)
	}
	return r
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// event returns the recorded event name with edit applied to the event
// and to its data.object.
func event(t testing.TB, name string, edit func(ev, obj map[string]any)) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(readFile(t, name), &ev); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(ev, ev["data"].(map[string]any)["object"].(map[string]any))
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var paidNotification = faka.Notification{Gateway: "stripe", OrderNo: orderNo, TradeNo: "pi_3TFakaIntent000000000001",
	Amount: 990, Currency: "USD"}

// TestSignatureByHand checks the signature scheme without the library:
// v1 is the hex HMAC-SHA256 of "t.body" under the signing secret.
func TestSignatureByHand(t *testing.T) {
	t.Parallel()
	g := newGateway(t, nil)
	body := readFile(t, "event_completed.json")
	ts := time.Now().Unix()
	mac := hmac.New(sha256.New, []byte(webhookSecret))
	fmt.Fprintf(mac, "%d.%s", ts, body)
	sig := fmt.Sprintf("t=%d,v1=%s", ts, hex.EncodeToString(mac.Sum(nil)))
	if n, err := g.ParseNotification(notifyRequest(body, sig), body); err != nil || n != paidNotification {
		t.Fatalf("hand-signed recorded event: %+v, %v", n, err)
	}
	// Several signatures, as while the secret is being rolled: one good
	// one is enough; v0 and unknown schemes are not signatures.
	multi := fmt.Sprintf("t=%d,v1=%s,%s,v0=%s", ts, strings.Repeat("ab", 32), sig[strings.Index(sig, "v1="):], strings.Repeat("cd", 32))
	if n, err := g.ParseNotification(notifyRequest(body, multi), body); err != nil || n != paidNotification {
		t.Fatalf("rolled secret: %+v, %v", n, err)
	}
	v0 := strings.Replace(sig, "v1=", "v0=", 1)
	if _, err := g.ParseNotification(notifyRequest(body, v0), body); faka.ErrorCode(err) != faka.EUnauthorized {
		t.Fatalf("v0 only: %v", err)
	}
}

func TestParseNotification(t *testing.T) {
	t.Parallel()
	g := newGateway(t, nil)
	now := time.Now()
	recorded := readFile(t, "event_completed.json")
	n, err := g.ParseNotification(notifyRequest(recorded, signed(recorded, webhookSecret, now)), recorded)
	if err != nil || n != paidNotification {
		t.Fatalf("recorded event: %+v, %v", n, err)
	}
	async := readFile(t, "event_async_succeeded.json")
	if n, err := g.ParseNotification(notifyRequest(async, signed(async, webhookSecret, now)), async); err != nil || n != paidNotification {
		t.Fatalf("async payment succeeded: %+v, %v", n, err)
	}
	jpy := event(t, "event_completed.json", func(_, o map[string]any) { o["currency"], o["amount_total"] = "jpy", 500 })
	if n, err := g.ParseNotification(notifyRequest(jpy, signed(jpy, webhookSecret, now)), jpy); err != nil ||
		n.Amount != 500 || n.Currency != "JPY" {
		t.Fatalf("JPY: %+v, %v", n, err)
	}
	kwd := event(t, "event_completed.json", func(_, o map[string]any) { o["currency"], o["amount_total"] = "kwd", 12340 })
	if n, err := g.ParseNotification(notifyRequest(kwd, signed(kwd, webhookSecret, now)), kwd); err != nil ||
		n.Amount != 1234 || n.Currency != "KWD" {
		t.Fatalf("KWD: %+v, %v", n, err)
	}
	expanded := event(t, "event_completed.json", func(_, o map[string]any) {
		o["payment_intent"] = map[string]any{"id": "pi_3TFakaIntent000000000001", "object": "payment_intent"}
	})
	if n, err := g.ParseNotification(notifyRequest(expanded, signed(expanded, webhookSecret, now)), expanded); err != nil || n != paidNotification {
		t.Fatalf("expanded payment_intent: %+v, %v", n, err)
	}
	noPI := event(t, "event_completed.json", func(_, o map[string]any) { o["payment_intent"] = nil })
	if n, err := g.ParseNotification(notifyRequest(noPI, signed(noPI, webhookSecret, now)), noPI); err != nil ||
		n.TradeNo != "cs_test_a1FakaSession0000000000000000000000000000000001" {
		t.Fatalf("no PaymentIntent: the session id is the trade: %+v, %v", n, err)
	}
	converted := event(t, "event_completed.json", func(_, o map[string]any) {
		o["currency"], o["amount_total"] = "eur", 915
		o["currency_conversion"] = map[string]any{"amount_subtotal": 990, "amount_total": 990, "fx_rate": "0.924", "source_currency": "usd"}
	})
	if n, err := g.ParseNotification(notifyRequest(converted, signed(converted, webhookSecret, now)), converted); err != nil || n != paidNotification {
		t.Fatalf("charged in the buyer's currency: %+v, %v", n, err)
	}
	otherVersion := event(t, "event_completed.json", func(ev, _ map[string]any) { ev["api_version"] = "2024-06-20" })
	if n, err := g.ParseNotification(notifyRequest(otherVersion, signed(otherVersion, webhookSecret, now)), otherVersion); err != nil || n != paidNotification {
		t.Fatalf("an endpoint of an older API version: %+v, %v", n, err)
	}

	tamperedAmount := bytes.Replace(recorded, []byte(`"amount_total": 990`), []byte(`"amount_total": 1`), 1)
	tamperedCurrency := bytes.Replace(recorded, []byte(`"currency": "usd"`), []byte(`"currency": "jpy"`), 1)
	if bytes.Equal(tamperedAmount, recorded) || bytes.Equal(tamperedCurrency, recorded) {
		t.Fatal("the tampering did not change the body")
	}
	edit := func(f func(ev, obj map[string]any)) []byte { return event(t, "event_completed.json", f) }
	good := signed(recorded, webhookSecret, now)
	for _, tc := range []struct {
		name    string
		body    []byte
		sig     string // "" signs body with the webhook secret now
		code    string
		ignored bool // genuine, acknowledged, nothing confirmed
	}{
		{"no signature", recorded, "-", faka.EUnauthorized, false},
		{"empty signature", recorded, "t=" + fmt.Sprint(now.Unix()) + ",v1=", faka.EUnauthorized, false},
		{"forged signature", recorded, "t=" + fmt.Sprint(now.Unix()) + ",v1=" + strings.Repeat("00", 32), faka.EUnauthorized, false},
		{"malformed header", recorded, "garbage", faka.EUnauthorized, false},
		{"another merchant's secret", recorded, signed(recorded, "whsec_AnotherMerchantSecret", now), faka.EUnauthorized, false},
		{"stale timestamp", recorded, signed(recorded, webhookSecret, now.Add(-301*time.Second)), faka.EUnauthorized, false},
		{"a day old", recorded, signed(recorded, webhookSecret, now.Add(-24*time.Hour)), faka.EUnauthorized, false},
		{"timestamp changed after signing", recorded, strings.Replace(good, fmt.Sprintf("t=%d", now.Unix()), fmt.Sprintf("t=%d", now.Unix()-1), 1), faka.EUnauthorized, false},
		{"amount changed after signing", tamperedAmount, good, faka.EUnauthorized, false},
		{"currency changed after signing", tamperedCurrency, good, faka.EUnauthorized, false},
		{"an EPay notification", readFile(t, "notify_epay.form"), "-", faka.EUnauthorized, false},
		{"an EPay notification with a header", readFile(t, "notify_epay.form"), good, faka.EUnauthorized, false},
		{"empty body", nil, "-", faka.EUnauthorized, false},
		{"signed, not JSON", []byte("not json"), "", faka.EBadRequest, false},
		{"signed, not an event", []byte(`{"object":"checkout.session"}`), "", faka.EBadRequest, false},
		{"signed, no data", []byte(`{"object":"event","type":"checkout.session.completed","livemode":false}`), "", faka.EBadRequest, false},
		{"unpaid", readFile(t, "event_completed_unpaid.json"), "", faka.EInvalid, true},
		{"no_payment_required", edit(func(_, o map[string]any) { o["payment_status"] = "no_payment_required" }), "", faka.EInvalid, true},
		{"async succeeded yet unpaid", event(t, "event_async_succeeded.json", func(_, o map[string]any) { o["payment_status"] = "unpaid" }), "", faka.EInvalid, true},
		{"another type of event", readFile(t, "event_payment_intent_succeeded.json"), "", faka.EInvalid, true},
		{"session expired", edit(func(ev, _ map[string]any) { ev["type"] = "checkout.session.expired" }), "", faka.EInvalid, true},
		{"async payment failed", edit(func(ev, _ map[string]any) { ev["type"] = "checkout.session.async_payment_failed" }), "", faka.EInvalid, true},
		{"no type", edit(func(ev, _ map[string]any) { delete(ev, "type") }), "", faka.EInvalid, true},
		{"another site's session", readFile(t, "event_other_site.json"), "", faka.EInvalid, true},
		{"no order number", edit(func(_, o map[string]any) { o["client_reference_id"] = nil; o["metadata"] = map[string]any{} }), "", faka.EInvalid, true},
		// Another integration on the same Stripe account: faka sets both
		// client_reference_id and metadata order_no, so a session with
		// one of them only is not faka's and is acknowledged.
		{"another integration's session", readFile(t, "event_other_integration.json"), "", faka.EInvalid, true},
		{"no metadata order number", edit(func(_, o map[string]any) { o["metadata"] = map[string]any{} }), "", faka.EInvalid, true},
		{"metadata without order number", edit(func(_, o map[string]any) { o["metadata"] = map[string]any{"cart": "8812"} }), "", faka.EInvalid, true},
		{"no client_reference_id", edit(func(_, o map[string]any) { delete(o, "client_reference_id") }), "", faka.EInvalid, true},
		// Both set, and different: refused (400), not acknowledged.
		{"order numbers disagree", edit(func(_, o map[string]any) { o["client_reference_id"] = "20260321000000000000" }), "", faka.EInvalid, false},
		{"metadata order number disagrees", edit(func(_, o map[string]any) { o["metadata"] = map[string]any{"order_no": "20260321000000000000"} }), "", faka.EInvalid, false},
		{"malformed order number", edit(func(_, o map[string]any) {
			o["client_reference_id"] = "a b"
			o["metadata"] = map[string]any{"order_no": "a b"}
		}), "", faka.EInvalid, false},
		{"subscription mode", edit(func(_, o map[string]any) { o["mode"] = "subscription" }), "", faka.EInvalid, false},
		{"no amount", edit(func(_, o map[string]any) { delete(o, "amount_total") }), "", faka.EInvalid, false},
		{"null amount", edit(func(_, o map[string]any) { o["amount_total"] = nil }), "", faka.EInvalid, false},
		{"zero amount", edit(func(_, o map[string]any) { o["amount_total"] = 0 }), "", faka.EInvalid, false},
		{"negative amount", edit(func(_, o map[string]any) { o["amount_total"] = -990 }), "", faka.EInvalid, false},
		{"fractional amount", edit(func(_, o map[string]any) { o["amount_total"] = 9.9 }), "", faka.EBadRequest, false},
		{"amount as text", edit(func(_, o map[string]any) { o["amount_total"] = "990" }), "", faka.EBadRequest, false},
		{"thousandths of a dinar", edit(func(_, o map[string]any) { o["currency"], o["amount_total"] = "kwd", 12345 }), "", faka.EInvalid, false},
		{"no currency", edit(func(_, o map[string]any) { delete(o, "currency") }), "", faka.EInvalid, false},
		{"upper-case currency", edit(func(_, o map[string]any) { o["currency"] = "USD" }), "", faka.EInvalid, false},
		{"bad currency", edit(func(_, o map[string]any) { o["currency"] = "us" }), "", faka.EInvalid, false},
		{"converted, no source amount", edit(func(_, o map[string]any) {
			o["currency_conversion"] = map[string]any{"source_currency": "usd"}
		}), "", faka.EInvalid, false},
		{"not a session", edit(func(_, o map[string]any) { o["object"] = "payment_intent" }), "", faka.EInvalid, false},
		{"live-mode event, test keys", edit(func(ev, _ map[string]any) { ev["livemode"] = true }), "", faka.EInvalid, false},
		{"malformed payment_intent", edit(func(_, o map[string]any) { o["payment_intent"] = 42 }), "", faka.EBadRequest, false},
		{"malformed metadata", edit(func(_, o map[string]any) { o["metadata"] = map[string]any{"order_no": 7} }), "", faka.EBadRequest, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sig := tc.sig
			switch sig {
			case "":
				sig = signed(tc.body, webhookSecret, now)
			case "-":
				sig = ""
			}
			n, err := g.ParseNotification(notifyRequest(tc.body, sig), tc.body)
			if faka.ErrorCode(err) != tc.code {
				t.Fatalf("err %v, want %s", err, tc.code)
			}
			if errors.Is(err, stripe.ErrIgnored) != tc.ignored {
				t.Fatalf("ignored %v, want %v: %v", errors.Is(err, stripe.ErrIgnored), tc.ignored, err)
			}
			if n != (faka.Notification{}) {
				t.Fatalf("refused, yet filled: %+v", n)
			}
			w := httptest.NewRecorder()
			g.Reject(w, err)
			wantStatus := http.StatusBadRequest
			if tc.ignored {
				wantStatus = http.StatusOK
			}
			if w.Code != wantStatus {
				t.Fatalf("reply %d %s, want %d", w.Code, w.Body, wantStatus)
			}
			if strings.Contains(w.Body.String(), webhookSecret) || strings.Contains(err.Error(), webhookSecret) {
				t.Fatal("the webhook secret is in the reply or the error")
			}
		})
	}
}

// TestReplay: Stripe sends an event again, signed anew each time, until
// it is acknowledged, and sends async_payment_succeeded after a
// completed one for the same session. Every copy states the same
// payment — the same (gateway, trade_no) — so the engine, which records
// a payment once per trade and answers a duplicate with the stored
// outcome, applies it once (TestWebConcurrentNotifications checks that
// through the server).
func TestReplay(t *testing.T) {
	t.Parallel()
	g := newGateway(t, nil)
	body := readFile(t, "event_completed.json")
	async := readFile(t, "event_async_succeeded.json")
	now := time.Now()
	var first faka.Notification
	for i, tc := range []struct {
		body []byte
		at   time.Time
	}{{body, now}, {body, now}, {body, now.Add(-4 * time.Minute)}, {body, now.Add(time.Minute)}, {async, now}} {
		n, err := g.ParseNotification(notifyRequest(tc.body, signed(tc.body, webhookSecret, tc.at)), tc.body)
		if err != nil {
			t.Fatalf("copy %d: %v", i, err)
		}
		if i == 0 {
			first = n
		} else if n != first {
			t.Fatalf("copy %d states %+v, the first %+v", i, n, first)
		}
	}
	if first != paidNotification {
		t.Fatalf("%+v", first)
	}
}

func TestReplies(t *testing.T) {
	t.Parallel()
	g := newGateway(t, nil)
	w := httptest.NewRecorder()
	g.Acknowledge(w)
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"received":true}` || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("ack %d %q %v", w.Code, w.Body, w.Header())
	}
	for code, status := range map[string]int{faka.EUnauthorized: 400, faka.EInvalid: 400, faka.EBadRequest: 400,
		faka.ENotFound: 400, faka.EConflict: 400, faka.EInternal: 500, faka.EUnavailable: 503} {
		w := httptest.NewRecorder()
		g.Reject(w, faka.Errorf(code, "reason %s", code))
		var body struct {
			Error string `json:"error"`
		}
		if w.Code != status || json.Unmarshal(w.Body.Bytes(), &body) != nil || body.Error == "" {
			t.Errorf("reject %s: %d %q", code, w.Code, w.Body)
		}
	}
	w = httptest.NewRecorder()
	g.Reject(w, errors.New("database password is hunter2"))
	if w.Code != 500 || strings.Contains(w.Body.String(), "hunter2") {
		t.Fatalf("internal error: %d %q", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	g.Reject(w, fmt.Errorf("wrapped: %w", faka.Errorf(faka.EInvalid, "x: %w", stripe.ErrIgnored)))
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"received":true}` {
		t.Fatalf("ignored: %d %q", w.Code, w.Body)
	}
}
