package alipay_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/internal/gatewaytest"
	"github.com/faka-dev/faka/payment/alipay"
)

const formType = "application/x-www-form-urlencoded; charset=utf-8"

// webShop is the faka server with the Alipay gateway (page mode, the test
// app) and the sandbox gateway, on a real engine over a fresh SQLite file.
type webShop struct{ *gatewaytest.Shop }

func newWebShop(t *testing.T) webShop {
	t.Helper()
	// Page mode makes no API call: the pay URL is signed locally.
	return webShop{gatewaytest.NewShop(t, publicURL, newGateway(t, "", "", nil))}
}

// notify posts a form to Alipay's notify endpoint.
func (s webShop) notify(form string) *httptest.ResponseRecorder {
	return s.Do("POST", "/pay/alipay/notify", []byte(form), "Content-Type", formType)
}

// orderFields is a notification of Alipay trade tradeNo paying amount
// (yuan, as Alipay writes it) for order c, in the given status.
func orderFields(c gatewaytest.Placed, status, amount, tradeNo string) map[string]string {
	return with(paidFields(), "out_trade_no", c.OrderNo, "subject", "Order "+c.OrderNo, "trade_status", status,
		"trade_no", tradeNo, "total_amount", amount, "receipt_amount", amount, "buyer_pay_amount", amount, "invoice_amount", amount,
		"fund_bill_list", `[{"amount":"`+amount+`","fundChannel":"ALIPAYACCOUNT"}]`)
}

// checkReply checks a notification's reply: its status and its text body.
func checkReply(t *testing.T, w *httptest.ResponseRecorder, status int, body string) {
	t.Helper()
	if w.Code != status || w.Body.String() != body {
		t.Fatalf("reply %d %q, want %d %q", w.Code, w.Body, status, body)
	}
}

// TestWebConcurrentNotifications buys through the server: the order's pay
// URL is Alipay's page for the order's trade, Alipay's notification of the
// paid trade is sent many times at once (as TRADE_SUCCESS and as the later
// TRADE_FINISHED of the same trade), then again, and the payment is
// applied exactly once.
func TestWebConcurrentNotifications(t *testing.T) {
	t.Parallel()
	s := newWebShop(t)
	pid := s.Product(t, "CNY", 5)
	c := s.Order(t, pid, 2, alipay.Name)
	if c.Amount != 1980 || c.Currency != "CNY" {
		t.Fatalf("order %+v", c)
	}
	u, err := url.Parse(c.PayURL)
	if err != nil || u.Host != "openapi.alipay.com" || u.Query().Get("method") != "alipay.trade.page.pay" {
		t.Fatalf("pay URL %q: %v", c.PayURL, err)
	}
	var biz map[string]string
	if err := json.Unmarshal([]byte(u.Query().Get("biz_content")), &biz); err != nil ||
		biz["out_trade_no"] != c.OrderNo || biz["total_amount"] != "19.80" {
		t.Fatalf("biz_content %v: %v", biz, err)
	}
	const tradeNo = "2026030122001446881419000042"
	success := signedForm(orderFields(c, alipay.TradeSuccess, "19.80", tradeNo), aliKey)
	finished := signedForm(with(orderFields(c, alipay.TradeFinished, "19.80", tradeNo),
		"notify_id", "2026060100222120010046881420", "notify_time", "2026-06-01 12:00:10"), aliKey)

	const n = 30
	var wg sync.WaitGroup
	replies := make([]*httptest.ResponseRecorder, n)
	for i := range n {
		wg.Go(func() {
			body := success
			if i%3 == 0 {
				body = finished
			}
			replies[i] = s.notify(body)
		})
	}
	wg.Wait()
	for i, w := range replies {
		if w.Code != http.StatusOK || w.Body.String() != "success" {
			t.Fatalf("copy %d: %d %q", i, w.Code, w.Body)
		}
	}
	st := s.PaidOnce(t, c, alipay.Name, tradeNo)

	// Again, later, one by one, as Alipay resends: duplicates,
	// acknowledged, nothing changes.
	for _, body := range []string{success, finished, success} {
		checkReply(t, s.notify(body), http.StatusOK, "success")
		if after := s.State(t); !reflect.DeepEqual(st, after) {
			t.Fatalf("replay changed the state:\n%+v\n%+v", st, after)
		}
	}
}

// TestWebRefused sends notifications the server must refuse, or only
// acknowledge, without any change; then the genuine one still applies.
func TestWebRefused(t *testing.T) {
	t.Parallel()
	s := newWebShop(t)
	pid := s.Product(t, "CNY", 3)
	c := s.Order(t, pid, 1, alipay.Name)
	const tradeNo = "2026030122001446881419000077"
	fields := func() map[string]string { return orderFields(c, alipay.TradeSuccess, "9.90", tradeNo) }
	good := signedForm(fields(), aliKey)
	otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	unknown := c
	unknown.OrderNo = "20260321000000000000"
	resign := func(sig string) string { // good, with its sign replaced
		q, _ := url.ParseQuery(good)
		q.Set("sign", sig)
		return q.Encode()
	}
	stripped, _ := url.ParseQuery(good)
	stripped.Del("sign")
	// An EPay notification about this order, signed as EPay signs (MD5
	// with the EPay merchant's key).
	epayForm := gatewaytest.EPayForm(c.OrderNo, "alipay")
	recordedEPay, err := os.ReadFile("testdata/notify_epay.form")
	if err != nil {
		t.Fatal(err)
	}
	// A WeChat Pay v3 notification, and a Stripe event, about this order.
	wechatBody := fmt.Appendf(nil, `{"id":"EV-2026","event_type":"TRANSACTION.SUCCESS","resource_type":"encrypt-resource","resource":{"algorithm":"AEAD_AES_256_GCM","ciphertext":"AAAA","nonce":"N0nce1234567","associated_data":"transaction","original_type":"transaction"},"summary":"%s"}`, c.OrderNo)
	stripeBody := gatewaytest.StripeEvent(c.OrderNo)
	sandboxBody, sandboxHeaders := gatewaytest.SandboxNotification(c.OrderNo, tradeNo, 990, "CNY")

	const fail, success = "fail", "success"
	type call struct {
		path    string
		body    []byte
		headers []string
	}
	form := func(f string) call { return call{"/pay/alipay/notify", []byte(f), []string{"Content-Type", formType}} }
	before := s.State(t)
	if before.Statuses[c.OrderNo] != faka.StatusPending || len(before.Payments) != 0 {
		t.Fatalf("before: %+v", before)
	}
	// Each case's why is what the gateway says of it (a part of its
	// error), or "" when the gateway verifies it and the engine refuses
	// it: an amount that is not the order's, an order it does not know.
	const (
		badSign = "does not verify with the Alipay public key"
		noSign  = "missing sign"
		ignored = "acknowledged and ignored"
	)
	g := newGateway(t, "", "", nil)
	for _, tc := range []struct {
		name   string
		call   call
		status int
		reply  string
		why    string
	}{
		{"forged signature", form(resign(b64(bytes.Repeat([]byte{1}, 256)))), 400, fail, badSign},
		{"empty signature", form(resign("")), 400, fail, noSign},
		{"no signature", form(stripped.Encode()), 400, fail, noSign},
		{"signature not base64", form(resign("!!not base64!!")), 400, fail, badSign},
		{"signed with the merchant app's own key", form(signedForm(fields(), merchantKey)), 400, fail, badSign},
		{"signed with another key", form(signedForm(fields(), otherKey)), 400, fail, badSign},
		{"signed RSA (SHA-1)", form(signedFormHash(with(fields(), "sign_type", "RSA"), aliKey, crypto.SHA1)), 400, fail, badSign},
		{"amount tampered after signing", form(strings.Replace(good, "total_amount=9.90", "total_amount=0.01", 1)), 400, fail, badSign},
		{"order tampered after signing", form(strings.Replace(good, "out_trade_no="+c.OrderNo, "out_trade_no="+unknown.OrderNo, 1)), 400, fail, badSign},
		{"a field given twice", form(good + "&total_amount=0.01"), 400, fail, "given 2 times"},
		{"another app_id", form(signedForm(with(fields(), "app_id", "2021000000000002", "auth_app_id", "2021000000000002"), aliKey)), 400, fail, "app_id is not this shop's"},
		{"signed, amount less than the order's", form(signedForm(orderFields(c, alipay.TradeSuccess, "0.01", tradeNo), aliKey)), 400, fail, ""},
		{"signed, amount more than the order's", form(signedForm(orderFields(c, alipay.TradeSuccess, "99.00", tradeNo), aliKey)), 400, fail, ""},
		{"signed, amount not yuan", form(signedForm(orderFields(c, alipay.TradeSuccess, "9.9.0", tradeNo), aliKey)), 400, fail, "not a decimal number of yuan"},
		{"signed, WAIT_BUYER_PAY", form(signedForm(with(orderFields(c, alipay.WaitBuyerPay, "9.90", tradeNo),
			"gmt_payment", "", "fund_bill_list", "", "receipt_amount", "", "invoice_amount", "", "buyer_pay_amount", "", "point_amount", ""), aliKey)), 200, success, ignored},
		{"signed, TRADE_CLOSED", form(signedForm(with(fields(), "trade_status", alipay.TradeClosed, "gmt_close", "2026-03-01 12:05:00"), aliKey)), 200, success, ignored},
		{"signed, unknown trade status", form(signedForm(with(fields(), "trade_status", "TRADE_PENDING"), aliKey)), 400, fail, "trade_status must be"},
		{"signed, unknown order", form(signedForm(orderFields(unknown, alipay.TradeSuccess, "9.90", tradeNo), aliKey)), 400, fail, ""},
		{"signed, no out_trade_no", form(signedForm(with(fields(), "out_trade_no", ""), aliKey)), 400, fail, "out_trade_no must be"},
		{"empty body", form(""), 400, fail, noSign},
		{"an EPay notification of this order", form(epayForm), 400, fail, badSign},
		{"the recorded EPay notification", form(string(recordedEPay)), 400, fail, badSign},
		{"a WeChat Pay notification", call{"/pay/alipay/notify", wechatBody, []string{"Wechatpay-Serial", "PUB_KEY_ID_0119000001092026010100000000000001",
			"Wechatpay-Timestamp", strconv.FormatInt(time.Now().Unix(), 10), "Wechatpay-Nonce", "fHmxKnvVDx5jJ4d0ioWyK7o1dOmrREN6",
			"Wechatpay-Signature", b64(bytes.Repeat([]byte{2}, 256))}}, 400, fail, noSign},
		{"a Stripe event", call{"/pay/alipay/notify", stripeBody, []string{"Stripe-Signature", gatewaytest.StripeSignature(stripeBody, "whsec_test", time.Now())}}, 400, fail, noSign},
		{"the sandbox's notification", call{"/pay/alipay/notify", sandboxBody, sandboxHeaders}, 400, fail, noSign},
		{"Alipay's notification at the sandbox's endpoint", call{"/pay/sandbox/notify", []byte(good), []string{"Content-Type", formType}}, 400, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.call.path == "/pay/alipay/notify" {
				// Refused for the reason the case is about.
				n, err := g.ParseNotification(post(string(tc.call.body)), tc.call.body)
				switch {
				case tc.why == "" && (err != nil || n.OrderNo == ""):
					t.Fatalf("the gateway refused it: %+v, %v", n, err)
				case tc.why != "" && (err == nil || !strings.Contains(err.Error(), tc.why)):
					t.Fatalf("the gateway said %v, want %q", err, tc.why)
				}
			}
			w := s.Do("POST", tc.call.path, tc.call.body, tc.call.headers...)
			if w.Code != tc.status || (tc.reply != "" && w.Body.String() != tc.reply) {
				t.Fatalf("reply %d %q, want %d %q", w.Code, w.Body, tc.status, tc.reply)
			}
			if after := s.State(t); !reflect.DeepEqual(before, after) {
				t.Fatalf("state changed:\n%+v\n%+v", before, after)
			}
		})
	}

	// The genuine one still applies, once.
	checkReply(t, s.notify(good), http.StatusOK, success)
	st := s.State(t)
	if st.Statuses[c.OrderNo] != faka.StatusDelivered || len(st.Payments) != 1 || st.Payments[0].TradeNo != tradeNo || st.Payments[0].Amount != 990 {
		t.Fatalf("after the genuine notification: %+v", st)
	}
	if len(st.Stock) != 1 || st.Stock[0].Sold != 1 || st.Stock[0].Available != 2 || st.Stock[0].Reserved != 0 {
		t.Fatalf("stock %+v", st.Stock)
	}
	checkReply(t, s.notify(good), http.StatusOK, success)
	if after := s.State(t); !reflect.DeepEqual(st, after) {
		t.Fatalf("the replay changed the state:\n%+v\n%+v", st, after)
	}
}
