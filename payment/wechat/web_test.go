package wechat_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/internal/gatewaytest"
	"github.com/faka-dev/faka/payment/wechat"
)

const webNotifyPath = "/pay/wechat/notify"

// webShop is the faka server with the WeChat Pay gateway (the test
// merchant, on a fake WeChat Pay) and the sandbox gateway, on a real
// engine over a fresh SQLite file.
type webShop struct {
	*gatewaytest.Shop
	wechat *fakeWeChat
}

func newWebShop(t *testing.T) webShop {
	t.Helper()
	f := newFake(t)
	return webShop{gatewaytest.NewShop(t, shop, newGateway(t, config(f.srv.URL), f.srv.Client())), f}
}

// orderTrade is WeChat Pay's statement of transaction txID paying total
// fen for order c.
func orderTrade(c gatewaytest.Placed, total int64, txID string) map[string]any {
	t := paidTrade()
	t["out_trade_no"] = c.OrderNo
	t["transaction_id"] = txID
	t["amount"] = map[string]any{"total": total, "payer_total": total, "currency": "CNY", "payer_currency": "CNY"}
	return t
}

// sealedTrade is a notification body of event about trade, its resource
// encrypted under key with the GCM nonce gcmNonce.
func sealedTrade(event string, trade map[string]any, key, gcmNonce string) []byte {
	return envelope(event, seal(mustJSON(trade), key, gcmNonce, "transaction"))
}

// wxHeaders are the headers of a notification of body: at ts, with nonce,
// naming key serial, signed by k (nil: no signature header).
func wxHeaders(body []byte, ts time.Time, nonce, serial string, k *rsa.PrivateKey) []string {
	timestamp := strconv.FormatInt(ts.Unix(), 10)
	h := []string{wechat.HeaderTimestamp, timestamp, wechat.HeaderNonce, nonce, wechat.HeaderSerial, serial,
		"Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048"}
	if k != nil {
		h = append(h, wechat.HeaderSignature, sign(k, timestamp, nonce, body))
	}
	return h
}

// checkAck checks that a reply is WeChat Pay's acknowledgement: 200, no
// body.
func checkAck(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code != http.StatusOK || w.Body.Len() != 0 {
		t.Fatalf("reply %d %q, want 200 and no body", w.Code, w.Body)
	}
}

// checkFail checks that a reply is WeChat Pay's refusal: status and
// {"code":"FAIL","message":…} whose message holds why.
func checkFail(t *testing.T, w *httptest.ResponseRecorder, status int, why string) {
	t.Helper()
	var r struct{ Code, Message string }
	if w.Code != status || json.Unmarshal(w.Body.Bytes(), &r) != nil || r.Code != "FAIL" || !strings.Contains(r.Message, why) {
		t.Fatalf("reply %d %q, want %d and a FAIL saying %q", w.Code, w.Body, status, why)
	}
}

// TestWebConcurrentNotifications buys through the server: the order's pay
// URL is the QR page, whose first load creates the Native trade at WeChat
// Pay; WeChat Pay's notification of the paid trade is sent many times at
// once (each signed anew, some sealed anew), then again, and the payment is
// applied exactly once.
func TestWebConcurrentNotifications(t *testing.T) {
	t.Parallel()
	s := newWebShop(t)
	pid := s.Product(t, "CNY", 5)
	c := s.Order(t, pid, 2, wechat.Name)
	if c.Amount != 1980 || c.Currency != "CNY" || !strings.HasPrefix(c.PayURL, shop+"/pay/wechat/") {
		t.Fatalf("order %+v", c)
	}
	if w := s.Do("GET", strings.TrimPrefix(c.PayURL, shop), nil); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "19.80") {
		t.Fatalf("QR page: %d\n%s", w.Code, w.Body)
	}
	s.wechat.mu.Lock()
	natives := slices.Clone(s.wechat.natives)
	s.wechat.mu.Unlock()
	if len(natives) != 1 || natives[0]["out_trade_no"] != c.OrderNo || natives[0]["notify_url"] != shop+webNotifyPath {
		t.Fatalf("Native requests %v", natives)
	}
	if amt, _ := natives[0]["amount"].(map[string]any); amt["total"] != float64(1980) || amt["currency"] != "CNY" {
		t.Fatalf("Native amount %v", natives[0]["amount"])
	}

	const txID = "4200001234202603211234567890"
	k := keys()
	bodies := [][]byte{ // WeChat Pay's resends, and the same trade sealed anew
		sealedTrade(wechat.EventPaid, orderTrade(c, 1980, txID), apiV3Key, "N0nce1234567"),
		sealedTrade(wechat.EventPaid, orderTrade(c, 1980, txID), apiV3Key, "0therN0nce12"),
	}
	const n = 30
	var wg sync.WaitGroup
	replies := make([]*httptest.ResponseRecorder, n)
	now := time.Now()
	for i := range n {
		wg.Go(func() {
			body := bodies[0]
			if i%3 == 0 {
				body = bodies[1]
			}
			at := now.Add(-time.Duration(i) * time.Second) // each copy signed anew
			replies[i] = s.Do("POST", webNotifyPath, body, wxHeaders(body, at, fmt.Sprintf("nonce%04d", i), pubKeyID, k.wechat)...)
		})
	}
	wg.Wait()
	for i, w := range replies {
		if w.Code != http.StatusOK || w.Body.Len() != 0 {
			t.Fatalf("copy %d: %d %q", i, w.Code, w.Body)
		}
	}
	st := s.PaidOnce(t, c, wechat.Name, txID)

	// Again, later, one by one, as WeChat Pay resends: duplicates,
	// acknowledged, nothing changes.
	for i, body := range [][]byte{bodies[0], bodies[1], bodies[0]} {
		checkAck(t, s.Do("POST", webNotifyPath, body, wxHeaders(body, time.Now(), fmt.Sprintf("again%d", i), pubKeyID, k.wechat)...))
		if after := s.State(t); !reflect.DeepEqual(st, after) {
			t.Fatalf("replay changed the state:\n%+v\n%+v", st, after)
		}
	}
}

// TestWebRefused sends notifications the server must refuse without any
// change; then the genuine one still applies.
func TestWebRefused(t *testing.T) {
	t.Parallel()
	s := newWebShop(t)
	pid := s.Product(t, "CNY", 3)
	c := s.Order(t, pid, 1, wechat.Name)
	const txID = "4200001234202603211234567891"
	k := keys()
	now := time.Now()
	trade := func(kv ...any) []byte { // the genuine trade, with fields changed (nil: removed)
		tr := orderTrade(c, 990, txID)
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(tr, kv[i].(string))
			} else {
				tr[kv[i].(string)] = kv[i+1]
			}
		}
		return sealedTrade(wechat.EventPaid, tr, apiV3Key, "N0nce1234567")
	}
	good := trade()
	unknown := c
	unknown.OrderNo = "20260321000000000000"

	var env map[string]any
	if err := json.Unmarshal(good, &env); err != nil {
		t.Fatal(err)
	}
	res := env["resource"].(map[string]any)
	ct, _ := base64.StdEncoding.DecodeString(res["ciphertext"].(string))
	ct[5] ^= 1
	res["ciphertext"] = base64.StdEncoding.EncodeToString(ct)
	tamperedCT := mustJSON(env)

	// Notifications of other gateways about this order.
	epayForm := gatewaytest.EPayForm(c.OrderNo, "wxpay")
	alipayForm := alipayNotification(c, k.other)
	stripeBody := gatewaytest.StripeEvent(c.OrderNo)
	sandboxBody, sandboxHeaders := gatewaytest.SandboxNotification(c.OrderNo, txID, 990, "CNY")
	recordedReq, recordedBody := recorded(t, "notify_paid.http") // another merchant's keys (testdata/)
	var recordedHeaders []string
	for name := range recordedReq.Header {
		recordedHeaders = append(recordedHeaders, name, recordedReq.Header.Get(name))
	}

	type call struct {
		path    string
		body    []byte
		headers []string
	}
	signed := func(body []byte) call {
		return call{webNotifyPath, body, wxHeaders(body, now, notifyNonce, pubKeyID, k.wechat)}
	}
	before := s.State(t)
	if before.Statuses[c.OrderNo] != faka.StatusPending || len(before.Payments) != 0 {
		t.Fatalf("before: %+v", before)
	}
	form := "application/x-www-form-urlencoded"
	// Each case's why is a part of the reason the reply gives; engine
	// marks those the gateway verifies and the engine refuses: an amount
	// that is not the order's, an order it does not know.
	const (
		sigBad        = "does not verify with the WeChat Pay public key"
		sigMissing    = "the Wechatpay-Signature header is missing"
		serialMissing = "the Wechatpay-Serial header is missing"
		otherKey      = "not the configured WeChat Pay public key"
		skew          = "away from our clock"
		noDecrypt     = "does not decrypt with the APIv3 key"
		mismatch      = "does not match the order's 990 CNY"
		ignored       = "ignored" // genuine, states no payment: acknowledged
	)
	g := newGateway(t, config(""), nil)
	for _, tc := range []struct {
		name   string
		call   call
		why    string // "": not this gateway's endpoint, any 400
		engine bool
	}{
		{"forged signature", call{webNotifyPath, good, append(wxHeaders(good, now, notifyNonce, pubKeyID, nil),
			wechat.HeaderSignature, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 256)))}, sigBad, false},
		{"empty signature", call{webNotifyPath, good, append(wxHeaders(good, now, notifyNonce, pubKeyID, nil), wechat.HeaderSignature, "")}, sigMissing, false},
		{"no signature header", call{webNotifyPath, good, wxHeaders(good, now, notifyNonce, pubKeyID, nil)}, sigMissing, false},
		{"no headers", call{webNotifyPath, good, nil}, serialMissing, false},
		{"signed with another key", call{webNotifyPath, good, wxHeaders(good, now, notifyNonce, pubKeyID, k.other)}, sigBad, false},
		{"signed with the merchant's key", call{webNotifyPath, good, wxHeaders(good, now, notifyNonce, pubKeyID, k.merchant)}, sigBad, false},
		{"another key id", call{webNotifyPath, good, wxHeaders(good, now, notifyNonce, "PUB_KEY_ID_0119000001092026010100000000000002", k.wechat)}, otherKey, false},
		{"another merchant's recorded notification", call{webNotifyPath, recordedBody, recordedHeaders}, otherKey, false},
		{"stale timestamp", call{webNotifyPath, good, wxHeaders(good, now.Add(-wechat.MaxClockSkew-time.Minute), notifyNonce, pubKeyID, k.wechat)}, skew, false},
		{"timestamp from the future", call{webNotifyPath, good, wxHeaders(good, now.Add(wechat.MaxClockSkew+time.Minute), notifyNonce, pubKeyID, k.wechat)}, skew, false},
		{"body changed after signing", call{webNotifyPath, trade("amount", map[string]any{"total": 1, "payer_total": 1, "currency": "CNY"}),
			wxHeaders(good, now, notifyNonce, pubKeyID, k.wechat)}, sigBad, false},
		{"ciphertext tampered, re-signed", signed(tamperedCT), noDecrypt, false},
		{"encrypted with another APIv3 key", signed(sealedTrade(wechat.EventPaid, orderTrade(c, 990, txID), "0therAPIv3key0123456789abcdefghi", "N0nce1234567")), noDecrypt, false},
		{"another mchid", signed(trade("mchid", "1900000110")), "mchid is not this shop's", false},
		{"another appid", signed(trade("appid", "wx0000000000000000")), "appid is not this shop's", false},
		{"signed, amount less than the order's", signed(trade("amount", map[string]any{"total": 1, "payer_total": 1, "currency": "CNY"})), mismatch, true},
		{"signed, amount more than the order's", signed(trade("amount", map[string]any{"total": 99000, "payer_total": 99000, "currency": "CNY"})), mismatch, true},
		{"signed, currency USD", signed(trade("amount", map[string]any{"total": 990, "payer_total": 990, "currency": "USD"})), "is not CNY", false},
		{"signed, trade_state NOTPAY", signed(trade("trade_state", "NOTPAY", "trade_state_desc", "未支付", "success_time", nil)), ignored, false},
		{"signed, trade_state CLOSED", signed(trade("trade_state", "CLOSED", "trade_state_desc", "已关闭", "success_time", nil)), ignored, false},
		{"signed, refund event", signed(sealedTrade("REFUND.SUCCESS", orderTrade(c, 990, txID), apiV3Key, "N0nce1234567")), ignored, false},
		{"signed, unknown order", signed(trade("out_trade_no", unknown.OrderNo)), "order not found", true},
		{"signed, no out_trade_no", signed(trade("out_trade_no", nil)), "out_trade_no is missing", false},
		{"signed, no transaction_id", signed(trade("transaction_id", nil)), "transaction_id must be", false},
		{"empty body", call{webNotifyPath, nil, wxHeaders(nil, now, notifyNonce, pubKeyID, nil)}, sigMissing, false},
		{"an EPay notification of this order", call{webNotifyPath, []byte(epayForm), []string{"Content-Type", form}}, serialMissing, false},
		{"an EPay notification, signed as WeChat Pay signs", call{webNotifyPath, []byte(epayForm),
			append(wxHeaders([]byte(epayForm), now, notifyNonce, pubKeyID, k.wechat), "Content-Type", form)}, "must be a JSON object", false},
		{"an Alipay notification of this order", call{webNotifyPath, []byte(alipayForm), []string{"Content-Type", form}}, serialMissing, false},
		{"a Stripe event", call{webNotifyPath, stripeBody, []string{"Stripe-Signature", gatewaytest.StripeSignature(stripeBody, "whsec_test", now)}}, serialMissing, false},
		{"the sandbox's notification", call{webNotifyPath, sandboxBody, sandboxHeaders}, serialMissing, false},
		{"WeChat Pay's notification at the sandbox's endpoint", call{"/pay/sandbox/notify", good, wxHeaders(good, now, notifyNonce, pubKeyID, k.wechat)}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.engine {
				r := gatewaytest.Request("POST", tc.call.path, tc.call.body, tc.call.headers...)
				if n, err := g.ParseNotification(r, tc.call.body); err != nil || n.Amount == 0 {
					t.Fatalf("the gateway refused it: %+v, %v", n, err)
				}
			}
			w := s.Do("POST", tc.call.path, tc.call.body, tc.call.headers...)
			if tc.why == ignored {
				// Genuine and no payment: acknowledged so that WeChat Pay
				// stops resending it, and nothing applied.
				checkAck(t, w)
			} else if tc.why == "" {
				if w.Code != http.StatusBadRequest {
					t.Fatalf("reply %d %q, want 400", w.Code, w.Body)
				}
			} else {
				checkFail(t, w, http.StatusBadRequest, tc.why)
			}
			if after := s.State(t); !reflect.DeepEqual(before, after) {
				t.Fatalf("state changed:\n%+v\n%+v", before, after)
			}
		})
	}

	// The genuine one still applies, once.
	checkAck(t, s.Do("POST", webNotifyPath, good, wxHeaders(good, time.Now(), notifyNonce, pubKeyID, k.wechat)...))
	st := s.State(t)
	if st.Statuses[c.OrderNo] != faka.StatusDelivered || len(st.Payments) != 1 || st.Payments[0].TradeNo != txID || st.Payments[0].Amount != 990 {
		t.Fatalf("after the genuine notification: %+v", st)
	}
	if len(st.Stock) != 1 || st.Stock[0].Sold != 1 || st.Stock[0].Available != 2 || st.Stock[0].Reserved != 0 {
		t.Fatalf("stock %+v", st.Stock)
	}
	checkAck(t, s.Do("POST", webNotifyPath, good, wxHeaders(good, time.Now(), "again", pubKeyID, k.wechat)...))
	if after := s.State(t); !reflect.DeepEqual(st, after) {
		t.Fatalf("the replay changed the state:\n%+v\n%+v", st, after)
	}
}

// alipayNotification is an Alipay notification of order c's payment,
// signed RSA2 (SHA256withRSA over the sorted fields) with key.
func alipayNotification(c gatewaytest.Placed, key *rsa.PrivateKey) string {
	p := map[string]string{"app_id": "2021000000000001", "charset": "utf-8", "notify_type": "trade_status_sync",
		"out_trade_no": c.OrderNo, "total_amount": "9.90", "trade_no": "2026030122001446881419000001",
		"trade_status": "TRADE_SUCCESS", "version": "1.0"}
	names := make([]string, 0, len(p))
	for k := range p {
		names = append(names, k)
	}
	slices.Sort(names)
	var content strings.Builder
	for i, k := range names {
		if i > 0 {
			content.WriteByte('&')
		}
		content.WriteString(k + "=" + p[k])
	}
	sum := sha256.Sum256([]byte(content.String()))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		panic(err)
	}
	q := url.Values{}
	for k, v := range p {
		q.Set(k, v)
	}
	q.Set("sign_type", "RSA2")
	q.Set("sign", base64.StdEncoding.EncodeToString(sig))
	return q.Encode()
}
