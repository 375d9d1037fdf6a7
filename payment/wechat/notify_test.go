package wechat_test

import (
	"bufio"
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment"
	"github.com/faka-dev/faka/payment/wechat"
)

var paid = faka.Notification{Gateway: "wechat", OrderNo: "20260101000000000042", TradeNo: "4200001234202601011234567890",
	Amount: 990, Currency: "CNY"}

// at is the notifications' time; the gateway's clock is set to it.
var at = time.Date(2026, 1, 1, 12, 0, 2, 0, time.UTC)

func clockedGateway(t testing.TB, now time.Time) *wechat.Gateway {
	cfg := config("")
	cfg.Now = func() time.Time { return now }
	return newGateway(t, cfg, nil)
}

// sealed is a genuine notification body for trade.
func sealed(trade map[string]any) []byte {
	return envelope(wechat.EventPaid, seal(mustJSON(trade), apiV3Key, "N0nce1234567", "transaction"))
}

func TestParseNotification(t *testing.T) {
	t.Parallel()
	g := clockedGateway(t, at)
	k := keys()
	body := sealed(paidTrade())
	n, err := g.ParseNotification(notifyRequest(body, at, pubKeyID, k.wechat), body)
	if err != nil || n != paid {
		t.Fatalf("genuine: %+v, %v", n, err)
	}
	for _, skew := range []time.Duration{-wechat.MaxClockSkew, wechat.MaxClockSkew} {
		if _, err := g.ParseNotification(notifyRequest(body, at.Add(skew), pubKeyID, k.wechat), body); err != nil {
			t.Fatalf("timestamp %s away: %v", skew, err)
		}
	}
	coupon := paidTrade()
	coupon["amount"] = map[string]any{"total": 990, "payer_total": 890, "currency": "CNY", "payer_currency": "CNY"}
	coupon["promotion_detail"] = []any{map[string]any{"coupon_id": "109519", "amount": 100}}
	cb := sealed(coupon)
	if n, err := g.ParseNotification(notifyRequest(cb, at, pubKeyID, k.wechat), cb); err != nil || n != paid {
		t.Fatalf("coupon paid part (amount.total is the order's): %+v, %v", n, err)
	}

	with := func(field string, v any) []byte {
		trade := paidTrade()
		if v == nil {
			delete(trade, field)
		} else {
			trade[field] = v
		}
		return sealed(trade)
	}
	amount := func(total any, currency string) []byte {
		return with("amount", map[string]any{"total": total, "payer_total": total, "currency": currency})
	}
	otherNonce := envelope(wechat.EventPaid, seal(mustJSON(paidTrade()), apiV3Key, "N0nce1234567", "transaction"))
	var tampered map[string]any
	json.Unmarshal(otherNonce, &tampered)
	res := tampered["resource"].(map[string]any)
	ct := []byte(res["ciphertext"].(string))
	ct[10] ^= 'A' ^ 'B'
	if ct[10] == '+' || ct[10] == '/' {
		ct[10] = 'C'
	}
	res["ciphertext"] = string(ct)
	tamperedCT := mustJSON(tampered)
	res["ciphertext"] = seal(mustJSON(paidTrade()), apiV3Key, "N0nce1234567", "transaction")["ciphertext"]
	res["associated_data"] = "refund"
	otherAD := mustJSON(tampered)
	res["nonce"] = "N0nce12345678" // 13 bytes: AEAD.Open would panic
	longNonce := mustJSON(tampered)

	type req struct {
		body   []byte
		ts     time.Time
		serial string
		signer any // *rsa.PrivateKey, or a signature header to send as is
	}
	genuine := func(b []byte) req { return req{b, at, pubKeyID, k.wechat} }
	epayForm := []byte("pid=1001&trade_no=T1&out_trade_no=20260101000000000042&money=9.90&trade_status=TRADE_SUCCESS&sign=ec691e9bb4338a5d697ad640aaf28423&sign_type=MD5")
	for _, tc := range []struct {
		name string
		req  req
		code string
	}{
		{"forged signature", req{body, at, pubKeyID, "c2lnbmF0dXJl"}, faka.EUnauthorized},
		{"empty signature", req{body, at, pubKeyID, ""}, faka.EUnauthorized},
		{"signature not base64", req{body, at, pubKeyID, "!!"}, faka.EUnauthorized},
		{"signed with another key", req{body, at, pubKeyID, k.other}, faka.EUnauthorized},
		{"signed with the merchant's key", req{body, at, pubKeyID, k.merchant}, faka.EUnauthorized},
		{"wrong serial", req{body, at, "PUB_KEY_ID_0119000001092026010100000000000002", k.wechat}, faka.EUnauthorized},
		{"platform certificate serial", req{body, at, "5157F09EFDC096DE15EBE81A47057A7232F1B8E1", k.wechat}, faka.EUnauthorized},
		{"no serial", req{body, at, "", k.wechat}, faka.EUnauthorized},
		{"stale timestamp", req{body, at.Add(-wechat.MaxClockSkew - time.Second), pubKeyID, k.wechat}, faka.EUnauthorized},
		{"timestamp from the future", req{body, at.Add(wechat.MaxClockSkew + time.Second), pubKeyID, k.wechat}, faka.EUnauthorized},
		{"body changed after signing", req{append([]byte(" "), body...), at, pubKeyID, sign(k.wechat, strconv.FormatInt(at.Unix(), 10), notifyNonce, body)}, faka.EUnauthorized},
		{"ciphertext tampered", genuine(tamperedCT), faka.EUnauthorized},
		{"associated data changed", genuine(otherAD), faka.EUnauthorized},
		{"nonce of 13 bytes", genuine(longNonce), faka.EInvalid},
		{"encrypted with another APIv3 key", genuine(envelope(wechat.EventPaid, seal(mustJSON(paidTrade()), "0therAPIv3key0123456789abcdefghi", "N0nce1234567", "transaction"))), faka.EUnauthorized},
		{"another mchid", genuine(with("mchid", "1900000110")), faka.EInvalid},
		{"another appid", genuine(with("appid", "wx0000000000000000")), faka.EInvalid},
		{"no mchid", genuine(with("mchid", nil)), faka.EInvalid},
		{"trade_state NOTPAY", genuine(with("trade_state", "NOTPAY")), faka.EInvalid},
		{"trade_state REFUND", genuine(with("trade_state", "REFUND")), faka.EInvalid},
		{"missing out_trade_no", genuine(with("out_trade_no", nil)), faka.EInvalid},
		{"out_trade_no with a slash", genuine(with("out_trade_no", "2026/0101")), faka.EInvalid},
		{"missing transaction_id", genuine(with("transaction_id", nil)), faka.EInvalid},
		{"currency USD", genuine(amount(990, "USD")), faka.EInvalid},
		{"no currency", genuine(amount(990, "")), faka.EInvalid},
		{"zero total", genuine(amount(0, "CNY")), faka.EInvalid},
		{"negative total", genuine(amount(-990, "CNY")), faka.EInvalid},
		{"fractional total", genuine(amount(9.9, "CNY")), faka.EInvalid},
		{"no amount", genuine(with("amount", nil)), faka.EInvalid},
		{"refund event", genuine(envelope("REFUND.SUCCESS", seal(mustJSON(paidTrade()), apiV3Key, "N0nce1234567", "refund"))), faka.EInvalid},
		{"no resource", genuine(mustJSON(map[string]any{"id": "x", "event_type": wechat.EventPaid})), faka.EInvalid},
		{"another algorithm", genuine([]byte(strings.Replace(string(body), wechat.Algorithm, "AEAD_SM4_GCM", 1))), faka.EInvalid},
		{"plaintext not JSON", genuine(envelope(wechat.EventPaid, seal([]byte("paid"), apiV3Key, "N0nce1234567", "transaction"))), faka.EInvalid},
		{"signed body not JSON", genuine([]byte("not json")), faka.EBadRequest},
		{"an EPay form, unsigned", req{epayForm, at, "", ""}, faka.EUnauthorized},
		{"an EPay form, signed", genuine(epayForm), faka.EBadRequest},
		{"empty body", req{nil, at, pubKeyID, ""}, faka.EUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r *http.Request
			switch s := tc.req.signer.(type) {
			case string:
				r = notifyRequest(tc.req.body, tc.req.ts, tc.req.serial, nil)
				if s != "" {
					r.Header.Set(wechat.HeaderSignature, s)
				}
			case *rsa.PrivateKey:
				r = notifyRequest(tc.req.body, tc.req.ts, tc.req.serial, s)
			}
			n, err := g.ParseNotification(r, tc.req.body)
			if faka.ErrorCode(err) != tc.code {
				t.Fatalf("err %v, want %s", err, tc.code)
			}
			// Genuine, ours and no payment: acknowledged, nothing applied.
			ignored := strings.HasPrefix(tc.name, "trade_state ") || tc.name == "refund event"
			if errors.Is(err, payment.ErrIgnored) != ignored {
				t.Fatalf("ignored %v, want %v: %v", !ignored, ignored, err)
			}
			if n != (faka.Notification{}) {
				t.Fatalf("refused, yet filled: %+v", n)
			}
		})
	}
}

// TestParseNotificationConcurrently parses one notification from many
// goroutines: each gets the same Notification (the engine then applies
// it once).
func TestParseNotificationConcurrently(t *testing.T) {
	t.Parallel()
	g := clockedGateway(t, at)
	body := sealed(paidTrade())
	hdr := notifyRequest(body, at, pubKeyID, keys().wechat).Header
	var wg sync.WaitGroup
	got := make([]faka.Notification, 16)
	errs := make([]error, len(got))
	for i := range got {
		wg.Go(func() {
			r := notifyRequest(body, at, "", nil)
			r.Header = hdr.Clone()
			got[i], errs[i] = g.ParseNotification(r, body)
		})
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || got[i] != paid {
			t.Fatalf("goroutine %d: %+v, %v", i, got[i], errs[i])
		}
	}
}

// TestRecordedNotifications parses requests kept under testdata, made
// with the test-only keys kept there.
func TestRecordedNotifications(t *testing.T) {
	t.Parallel()
	g := recordedGateway(t)
	for _, tc := range []struct {
		file string
		want faka.Notification
		code string
	}{
		{"notify_paid.http", faka.Notification{Gateway: "wechat", OrderNo: "20260101000000000042",
			TradeNo: "4200001234202601011234567890", Amount: 990, Currency: "CNY"}, ""},
		{"notify_coupon.http", faka.Notification{Gateway: "wechat", OrderNo: "20260101000000000043",
			TradeNo: "4200001234202601011234567891", Amount: 1990, Currency: "CNY"}, ""},
		{"notify_notpay.http", faka.Notification{}, faka.EInvalid},
		{"notify_tampered.http", faka.Notification{}, faka.EUnauthorized},
	} {
		r, body := recorded(t, tc.file)
		n, err := g.ParseNotification(r, body)
		if faka.ErrorCode(err) != tc.code || n != tc.want {
			t.Errorf("%s: %+v, %v; want %+v, %q", tc.file, n, err, tc.want, tc.code)
		}
	}
}

// recordedGateway is the gateway of the test-only keys under testdata,
// its clock at the recordings' time.
func recordedGateway(t testing.TB) *wechat.Gateway {
	t.Helper()
	cfg := wechat.Config{MchID: mchID, AppID: appID, SerialNo: serialNo,
		APIv3Key:    strings.TrimSpace(string(readFile(t, "TEST_ONLY_apiv3_key.txt"))),
		PrivateKey:  string(readFile(t, "TEST_ONLY_merchant_key.pem")),
		PublicKey:   string(readFile(t, "TEST_ONLY_wechatpay_public_key.pem")),
		PublicKeyID: strings.TrimSpace(string(readFile(t, "TEST_ONLY_wechatpay_public_key_id.txt"))),
		Now:         func() time.Time { return recordedAt }}
	return newGateway(t, cfg, nil)
}

// recordedAt is when the recorded notifications were signed.
var recordedAt = time.Unix(1767240000, 0)

// recorded reads a raw HTTP request under testdata.
func recorded(t testing.TB, name string) (*http.Request, []byte) {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(readFile(t, name))))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var body bytes.Buffer
	if _, err := body.ReadFrom(r.Body); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return r, body.Bytes()
}
