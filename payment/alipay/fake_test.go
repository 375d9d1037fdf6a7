package alipay_test

import (
	"crypto"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faka-dev/faka/payment/alipay"
)

// fakeAlipay speaks the part of Alipay's openapi gateway the gateway
// uses: alipay.trade.precreate, .query and .close, POSTed as signed forms
// to /gateway.do, answered with JSON signed by the "Alipay" test key the
// way Alipay signs: SHA256withRSA over the xxx_response member's JSON.
type fakeAlipay struct {
	t   testing.TB
	srv *httptest.Server

	mu     sync.Mutex
	trades map[string]*fakeTrade // by out_trade_no
	calls  map[string]int        // by method
	last   map[string]string     // the last biz_content of each method
	// raw replaces the reply to any call about an out_trade_no.
	raw map[string]string
	// signer signs the replies; nil: the Alipay test key.
	signer *rsa.PrivateKey
}

type fakeTrade struct {
	status, amount, tradeNo, code, params string
}

func newFake(t testing.TB) *fakeAlipay {
	t.Helper()
	loadKeys(t)
	f := &fakeAlipay{t: t, trades: map[string]*fakeTrade{}, calls: map[string]int{}, last: map[string]string{}, raw: map[string]string{}}
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

// url is the gateway's api_url for this server.
func (f *fakeAlipay) url() string { return f.srv.URL + "/gateway.do" }

// gateway returns a gateway of the test app that calls this server.
func (f *fakeAlipay) gateway(mode string) *alipay.Gateway {
	return newGateway(f.t, mode, f.url(), f.srv.Client())
}

func (f *fakeAlipay) set(orderNo, status, amount string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.trades[orderNo] = &fakeTrade{status: status, amount: amount, tradeNo: "2026030122001400" + orderNo}
}

// setRaw makes the server answer raw to calls about orderNo ("HTTP 502":
// that status).
func (f *fakeAlipay) setRaw(orderNo, raw string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.raw[orderNo] = raw
}

// signWith makes the server sign its replies with key (nil: the Alipay
// test key).
func (f *fakeAlipay) signWith(key *rsa.PrivateKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signer = key
}

func (f *fakeAlipay) lastBiz(method string) map[string]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var biz map[string]string
	json.Unmarshal([]byte(f.last[method]), &biz)
	return biz
}

func (f *fakeAlipay) status(orderNo string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if tr, ok := f.trades[orderNo]; ok {
		return tr.status
	}
	return ""
}

func (f *fakeAlipay) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

func (f *fakeAlipay) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/gateway.do" || r.URL.Query().Get("charset") != "utf-8" {
		http.Error(w, "not the gateway", http.StatusNotFound)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	p := map[string]string{}
	for k, vs := range r.PostForm {
		if len(vs) != 1 {
			f.t.Errorf("request: %s given %d times", k, len(vs))
		}
		p[k] = vs[0]
	}
	method := p["method"]
	key := strings.ReplaceAll(method, ".", "_") + "_response"
	// What the real gateway checks first: the app, the signature, the
	// common parameters.
	ts, terr := beijingTime(p["timestamp"])
	switch {
	case p["app_id"] != appID:
		f.reply(w, key, map[string]any{"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-app-id"})
		return
	case !rsaVerify(merchantPub, crypto.SHA256, signContent(p, "sign"), p["sign"]):
		f.reply(w, key, map[string]any{"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature"})
		return
	case p["sign_type"] != "RSA2" || p["charset"] != "utf-8" || p["format"] != "JSON" || p["version"] != "1.0":
		f.t.Errorf("request common parameters %v", p)
	case terr != nil || time.Since(ts).Abs() > time.Minute:
		f.t.Errorf("timestamp %q is not now in Beijing time", p["timestamp"])
	}
	var biz map[string]string
	if err := json.Unmarshal([]byte(p["biz_content"]), &biz); err != nil {
		f.reply(w, key, map[string]any{"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-biz-content"})
		return
	}
	no := biz["out_trade_no"]
	f.calls[method]++
	f.last[method] = p["biz_content"]
	if raw, ok := f.raw[no]; ok {
		if raw == "HTTP 502" {
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return
		}
		w.Write([]byte(raw))
		return
	}
	fail := func(sub, msg string) {
		f.reply(w, key, map[string]any{"code": "40004", "msg": "Business Failed", "sub_code": sub, "sub_msg": msg})
	}
	tr, known := f.trades[no]
	switch method {
	case "alipay.trade.precreate":
		if p["notify_url"] != publicURL+"/pay/alipay/notify" {
			f.t.Errorf("precreate notify_url %q", p["notify_url"])
		}
		params := p["biz_content"] + p["notify_url"]
		switch {
		case !known:
			tr = &fakeTrade{status: alipay.WaitBuyerPay, amount: biz["total_amount"], tradeNo: "2026030122001400" + no,
				code: "https://qr.alipay.com/bax0" + no, params: params}
			f.trades[no] = tr
		case tr.status == alipay.TradeSuccess || tr.status == alipay.TradeFinished:
			fail("ACQ.TRADE_HAS_SUCCESS", "交易已被支付")
			return
		case tr.status == alipay.TradeClosed:
			fail("ACQ.TRADE_HAS_CLOSE", "交易已经关闭")
			return
		case tr.params != params:
			fail("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")
			return
		}
		f.reply(w, key, map[string]any{"code": "10000", "msg": "Success", "out_trade_no": no, "qr_code": tr.code})
	case "alipay.trade.query":
		if !known {
			fail("ACQ.TRADE_NOT_EXIST", "交易不存在")
			return
		}
		f.reply(w, key, map[string]any{"code": "10000", "msg": "Success", "trade_no": tr.tradeNo, "out_trade_no": no,
			"buyer_logon_id": "159****5620", "trade_status": tr.status, "total_amount": tr.amount, "buyer_pay_amount": "0.00",
			"point_amount": "0.00", "invoice_amount": "0.00", "receipt_amount": "0.00"})
	case "alipay.trade.close":
		switch {
		case !known:
			fail("ACQ.TRADE_NOT_EXIST", "交易不存在")
		case tr.status != alipay.WaitBuyerPay:
			fail("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
		default:
			tr.status = alipay.TradeClosed
			f.reply(w, key, map[string]any{"code": "10000", "msg": "Success", "trade_no": tr.tradeNo, "out_trade_no": no})
		}
	default:
		f.reply(w, key, map[string]any{"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-method"})
	}
}

// reply writes {"<key>":<inner>,"sign":"…"}, signing inner as written.
func (f *fakeAlipay) reply(w http.ResponseWriter, key string, inner map[string]any) {
	body, err := json.Marshal(inner)
	if err != nil {
		f.t.Error(err)
	}
	signer := f.signer // f.mu is held
	if signer == nil {
		signer = aliKey
	}
	w.Header().Set("Content-Type", "text/html;charset=utf-8") // as Alipay's gateway labels it
	fmt.Fprintf(w, `{%q:%s,"sign":%q}`, key, body, rsaSign(signer, crypto.SHA256, string(body)))
}
