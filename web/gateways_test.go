package web_test

import (
	"bytes"
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
	"github.com/faka-dev/faka/keyring"
	"github.com/faka-dev/faka/payment"
	"github.com/faka-dev/faka/payment/epay"
	"github.com/faka-dev/faka/payment/epusdt"
	"github.com/faka-dev/faka/web"
)

const (
	epayPID     = "1001"
	epayKey     = "epay-merchant-key-0001"
	epusdtToken = "epusdt-api-token-0001"
)

// payBundle is a server whose EPay and epusdt gateways are configured
// through the admin API, with a local epusdt server.
type payBundle struct {
	*bundle
	gst    faka.GatewayStore
	usdt   *httptest.Server
	mu     sync.Mutex
	orders map[string]bool // order_ids the epusdt server was asked to create
}

func setupPay(t *testing.T) *payBundle {
	t.Helper()
	pb := &payBundle{orders: map[string]bool{}}
	pb.usdt = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req map[string]any
		json.NewDecoder(r.Body).Decode(&req)
		id, _ := req["order_id"].(string)
		pb.mu.Lock()
		pb.orders[id] = true
		pb.mu.Unlock()
		fmt.Fprintf(w, `{"status_code":200,"message":"success","data":{"trade_id":"U-%s","order_id":%q,"payment_url":"https://usdt.example.com/pay/checkout-counter/U-%s"}}`, id, id, id)
	}))
	t.Cleanup(pb.usdt.Close)
	kr, err := keyring.New(bytes.Repeat([]byte{9}, keyring.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	pb.bundle = setup(t, func(cfg *web.Config) {
		pb.gst = cfg.Shop.(faka.GatewayStore)
		mgr, err := payment.NewManager(pb.gst, kr, cfg.Gateways, payment.Env{PublicURL: publicURL, Client: pb.usdt.Client()},
			epay.Kind(), epusdt.Kind())
		if err != nil {
			t.Fatal(err)
		}
		cfg.GatewaySettings = mgr
	})
	pb.put("epay", fmt.Sprintf(`{"pid":%s,"key":%q,"url":"https://pay.example.com/","enabled":true}`, epayPID, epayKey), http.StatusOK)
	pb.put("epusdt", fmt.Sprintf(`{"url":%q,"token":%q,"enabled":true}`, pb.usdt.URL, epusdtToken), http.StatusOK)
	return pb
}

func (pb *payBundle) put(name, body string, status int) *httptest.ResponseRecorder {
	pb.t.Helper()
	w := pb.admin("PUT", "/api/v1/gateways/"+name, body)
	if w.Code != status {
		pb.t.Fatalf("PUT %s %s: %d %s, want %d", name, body, w.Code, w.Body, status)
	}
	return w
}

// orderVia creates an order paid through gateway.
func (pb *payBundle) orderVia(pid int64, qty int, gateway string) created {
	pb.t.Helper()
	body := fmt.Sprintf(`{"product_id":%d,"quantity":%d,"email":"buyer@example.com","gateway":%q}`, pid, qty, gateway)
	return decode[created](pb.t, pb.do("POST", "/api/v1/orders", body), http.StatusCreated)
}

// epayParams is a genuine EPay notification for c, unsigned.
func epayParams(c created, tradeNo string) map[string]string {
	return map[string]string{"pid": epayPID, "trade_no": tradeNo, "out_trade_no": c.OrderNo, "type": "alipay",
		"name": "Order " + c.OrderNo, "money": payment.FormatYuan(c.Amount), "trade_status": epay.TradeSuccess}
}

func epayForm(p map[string]string, key string) string {
	q := url.Values{}
	for k, v := range p {
		q.Set(k, v)
	}
	q.Set("sign", epay.Sign(p, key))
	q.Set("sign_type", "MD5")
	return q.Encode()
}

func (pb *payBundle) epayNotify(form string, get bool) *httptest.ResponseRecorder {
	if get {
		return pb.do("GET", "/pay/epay/notify?"+form, "")
	}
	r := httptest.NewRequest("POST", "/pay/epay/notify", strings.NewReader(form))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	pb.srv.ServeHTTP(w, r)
	return w
}

// epusdtBody is a genuine epusdt notification for c, signed with token.
func epusdtBody(c created, tradeID, status, token string) string {
	m := map[string]any{"trade_id": tradeID, "order_id": c.OrderNo, "amount": json.Number(payment.FormatYuan(c.Amount)),
		"actual_amount": json.Number("1.37"), "token": "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE",
		"block_transaction_id": "0b8e5f3c9a1d2e4f", "status": json.Number(status)}
	fields := map[string]string{}
	for k, v := range m {
		switch v := v.(type) {
		case string:
			fields[k] = v
		case json.Number:
			fields[k], _ = epusdt.FormatNumber(v)
		}
	}
	m["signature"] = epusdt.Sign(fields, token)
	b, _ := json.Marshal(m)
	return string(b)
}

func (pb *payBundle) payments(orderNo string) int {
	pb.t.Helper()
	o, err := pb.e.Store().OrderGet(context.Background(), orderNo)
	if err != nil {
		pb.t.Fatal(err)
	}
	ps, err := pb.e.Store().PaymentsByOrder(context.Background(), o.ID)
	if err != nil {
		pb.t.Fatal(err)
	}
	return len(ps)
}

func TestGatewaySettingsAPI(t *testing.T) {
	t.Parallel()
	pb := setupPay(t)

	// Validation: 422 for bad content, 404 for what cannot be configured.
	for _, tc := range []struct{ name, body string }{
		{"epay", `{"pid":"1","key":"k","url":"https://pay.example.com/","enabled":true,"extra":1}`},
		{"epay", `{"pid":"1","key":"","url":"","enabled":true}`},
		{"epay", `{"pid":"1","key":"k","url":"https://pay.example.com/"}`},
		{"epay", `{"pid":"1","key":"k","url":"https://pay.example.com/","enabled":"yes"}`},
		{"epay", `{"pid":"1","key":"k","url":"ftp://pay.example.com/","enabled":true}`},
		// M2: plain http to a provider that is not on this host.
		{"epay", `{"pid":"1","key":"k","url":"http://pay.example.com/","enabled":true}`},
		{"epusdt", `{"url":"http://usdt.example.com","token":"t","enabled":true}`},
		{"epay", `{"pid":["1"],"key":"k","url":"https://pay.example.com/","enabled":true}`},
		{"epusdt", `{"url":"https://usdt.example.com","enabled":true,"pid":"1"}`},
	} {
		before := pb.admin("GET", "/api/v1/gateways", "").Body.String()
		wantError(t, pb.admin("PUT", "/api/v1/gateways/"+tc.name, tc.body), http.StatusUnprocessableEntity, faka.EInvalid)
		if after := pb.admin("GET", "/api/v1/gateways", "").Body.String(); after != before {
			t.Fatalf("a refused PUT %s changed the settings:\n%s\n%s", tc.body, before, after)
		}
	}
	wantError(t, pb.admin("PUT", "/api/v1/gateways/epay", `{"enabled":`), http.StatusBadRequest, faka.EBadRequest)
	wantError(t, pb.admin("PUT", "/api/v1/gateways/sandbox", `{"enabled":false}`), http.StatusNotFound, faka.ENotFound)
	wantError(t, pb.admin("PUT", "/api/v1/gateways/paypal", `{"enabled":true}`), http.StatusNotFound, faka.ENotFound)
	wantError(t, pb.do("PUT", "/api/v1/gateways/epay", `{"enabled":false}`), http.StatusUnauthorized, faka.EUnauthorized)

	// The admin sees settings with secrets masked; nothing shows a key.
	type view struct {
		Name     string            `json:"name"`
		Enabled  bool              `json:"enabled"`
		Active   bool              `json:"active"`
		Settings map[string]string `json:"settings"`
	}
	type listing struct {
		Gateways []view `json:"gateways"`
	}
	w := pb.admin("GET", "/api/v1/gateways", "")
	for _, secret := range []string{epayKey, epusdtToken} {
		if strings.Contains(w.Body.String(), secret) {
			t.Fatalf("the listing shows a secret: %s", w.Body)
		}
	}
	l := decode[listing](t, w, http.StatusOK)
	if len(l.Gateways) != 2 || l.Gateways[0].Name != "epay" || !l.Gateways[0].Active ||
		l.Gateways[0].Settings["key"] != "••••0001" || l.Gateways[0].Settings["pid"] != epayPID ||
		l.Gateways[1].Settings["token"] != "••••0001" {
		t.Fatalf("listing %+v", l)
	}
	// At rest the settings are sealed, and bound to their name.
	gs, err := pb.gst.GatewaySettingsGet(t.Context(), "epay")
	if err != nil || bytes.Contains(gs.Sealed, []byte(epayKey)) || bytes.Contains(gs.Sealed, []byte(epayPID+`"`)) {
		t.Fatalf("stored settings %q, %v", gs.Sealed, err)
	}
	kr, _ := keyring.New(bytes.Repeat([]byte{9}, keyring.MasterKeySize))
	if _, err := kr.Open([]byte("faka/gateway/epusdt"), gs.Sealed); err == nil {
		t.Fatal("EPay's sealed settings open as epusdt's")
	}
	if pt, err := kr.Open([]byte("faka/gateway/epay"), gs.Sealed); err != nil || !strings.Contains(string(pt), epayKey) {
		t.Fatalf("open: %v", err)
	}

	// Buyers see the enabled gateways; an order names one.
	public := pb.do("GET", "/api/v1/gateways", "").Body.String()
	if !strings.Contains(public, `"epay"`) || !strings.Contains(public, `"epusdt"`) || strings.Contains(public, "settings") {
		t.Fatalf("public listing %s", public)
	}
	p := pb.cardProduct(5, "")
	c := pb.orderVia(p.ID, 1, "epay")
	if !strings.HasPrefix(c.PayURL, "https://pay.example.com/submit.php?") {
		t.Fatalf("pay_url %s", c.PayURL)
	}

	// Disabled at once, without a restart; the secret need not be resent.
	pb.put("epay", `{"enabled":false}`, http.StatusOK)
	wantError(t, pb.do("POST", "/api/v1/orders", fmt.Sprintf(`{"product_id":%d,"quantity":1,"email":"b@example.com","gateway":"epay"}`, p.ID)),
		http.StatusUnprocessableEntity, faka.EInvalid)
	if public := pb.do("GET", "/api/v1/gateways", "").Body.String(); strings.Contains(public, `"epay"`) {
		t.Fatalf("a disabled gateway is listed to buyers: %s", public)
	}
	if w := pb.epayNotify(epayForm(epayParams(c, "T-1"), epayKey), false); w.Code != http.StatusNotFound {
		t.Fatalf("notification to a disabled gateway: %d %s", w.Code, w.Body)
	}
	// Enabled again with the masked key sent back: the stored key stays.
	pb.put("epay", `{"pid":"1001","key":"••••0001","url":"https://pay.example.com/","enabled":true}`, http.StatusOK)
	if w := pb.epayNotify(epayForm(epayParams(c, "T-1"), epayKey), false); w.Code != http.StatusOK || w.Body.String() != "success" {
		t.Fatalf("notification after re-enabling: %d %s", w.Code, w.Body)
	}
	wantError(t, pb.do("POST", "/api/v1/orders", fmt.Sprintf(`{"product_id":%d,"quantity":1,"email":"b@example.com","gateway":"nope"}`, p.ID)),
		http.StatusUnprocessableEntity, faka.EInvalid)
}

// TestEPayNotifyOnce sends one genuine notification many times at once,
// by GET and by POST: every copy is answered success, one is applied.
func TestEPayNotifyOnce(t *testing.T) {
	t.Parallel()
	pb := setupPay(t)
	p := pb.cardProduct(4, "")
	c := pb.orderVia(p.ID, 2, "epay")
	form := epayForm(epayParams(c, "EPAY-T-1"), epayKey)
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			if w := pb.epayNotify(form, i%2 == 0); w.Code != http.StatusOK || w.Body.String() != "success" {
				t.Errorf("copy %d: %d %q", i, w.Code, w.Body)
			}
		})
	}
	wg.Wait()
	if o := pb.getOrder(c); o.Status != "delivered" || len(o.Keys) != 2 {
		t.Fatalf("order %+v", o)
	}
	if n := pb.payments(c.OrderNo); n != 1 {
		t.Fatalf("%d payments recorded", n)
	}
	if st := pb.stock(p.ID); st.Sold != 2 || st.Available != 2 {
		t.Fatalf("stock %+v", st)
	}
	if a := pb.counter("faka_notifications_total", "gateway", "epay", "outcome", "applied"); a != 1 {
		t.Fatalf("applied %v times", a)
	}
}

func TestEPayNotifyRefused(t *testing.T) {
	t.Parallel()
	pb := setupPay(t)
	p := pb.cardProduct(3, "")
	c := pb.orderVia(p.ID, 1, "epay")
	u := pb.orderVia(p.ID, 1, "epusdt")
	with := func(k, v string) map[string]string {
		m := epayParams(c, "EPAY-T-2")
		m[k] = v
		return m
	}
	good := epayForm(epayParams(c, "EPAY-T-2"), epayKey)
	for _, tc := range []struct{ name, form string }{
		{"forged sign", strings.Replace(good, "sign="+epay.Sign(epayParams(c, "EPAY-T-2"), epayKey), "sign="+strings.Repeat("0", 32), 1)},
		{"empty sign", strings.Replace(good, "sign="+epay.Sign(epayParams(c, "EPAY-T-2"), epayKey), "sign=", 1)},
		{"unsigned", "pid=1001&out_trade_no=" + c.OrderNo + "&trade_no=X&money=9.90&trade_status=TRADE_SUCCESS"},
		{"another merchant's key", epayForm(epayParams(c, "EPAY-T-2"), "another-merchant-key")},
		{"another pid", epayForm(with("pid", "1002"), epayKey)},
		{"amount tampered after signing", strings.Replace(good, "money=9.90", "money=0.01", 1)},
		{"signed wrong amount", epayForm(with("money", "0.01"), epayKey)},
		{"unfinished trade", epayForm(with("trade_status", "WAIT_BUYER_PAY"), epayKey)},
		{"unknown order", epayForm(with("out_trade_no", "NO-SUCH-ORDER"), epayKey)},
		{"epusdt's notification", epusdtBody(u, "U-1", "2", epusdtToken)},
		{"empty", ""},
	} {
		for _, get := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/get=%v", tc.name, get), func(t *testing.T) {
				before := pb.state()
				w := pb.epayNotify(tc.form, get)
				if w.Code != http.StatusBadRequest || w.Body.String() != "fail" {
					t.Fatalf("%d %q, want 400 fail", w.Code, w.Body)
				}
				pb.unchanged(before)
			})
		}
	}
	// EPay's genuine notification sent to epusdt's endpoint.
	before := pb.state()
	if w := pb.do("POST", "/pay/epusdt/notify", good); w.Code != http.StatusBadRequest || w.Body.String() != "fail" {
		t.Fatalf("EPay's notification at epusdt: %d %q", w.Code, w.Body)
	}
	pb.unchanged(before)
	if o := pb.getOrder(c); o.Status != "pending" || pb.payments(c.OrderNo) != 0 {
		t.Fatalf("order %s after refused notifications", o.Status)
	}
	if w := pb.epayNotify(good, false); w.Code != http.StatusOK || w.Body.String() != "success" {
		t.Fatalf("genuine notification after the refused ones: %d %q", w.Code, w.Body)
	}
}

func TestEpusdtNotifyOnce(t *testing.T) {
	t.Parallel()
	pb := setupPay(t)
	p := pb.cardProduct(3, "")
	c := pb.orderVia(p.ID, 1, "epusdt")
	if c.PayURL != "https://usdt.example.com/pay/checkout-counter/U-"+c.OrderNo {
		t.Fatalf("pay_url %s", c.PayURL)
	}
	pb.mu.Lock()
	asked := pb.orders[c.OrderNo]
	pb.mu.Unlock()
	if !asked {
		t.Fatal("the transaction was not created on the epusdt server")
	}
	if o := pb.getOrder(c); o.PayURL != c.PayURL {
		t.Fatalf("the order view's pay_url %q, want %q", o.PayURL, c.PayURL)
	}
	body := epusdtBody(c, "U-"+c.OrderNo, "2", epusdtToken)
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			w := pb.do("POST", "/pay/epusdt/notify", body)
			if w.Code != http.StatusOK || w.Body.String() != "ok" {
				t.Errorf("copy %d: %d %q", i, w.Code, w.Body)
			}
		})
	}
	wg.Wait()
	if o := pb.getOrder(c); o.Status != "delivered" || len(o.Keys) != 1 {
		t.Fatalf("order %+v", o)
	}
	if n := pb.payments(c.OrderNo); n != 1 {
		t.Fatalf("%d payments recorded", n)
	}
}

func TestEpusdtNotifyRefused(t *testing.T) {
	t.Parallel()
	pb := setupPay(t)
	p := pb.cardProduct(3, "")
	c := pb.orderVia(p.ID, 1, "epusdt")
	e := pb.orderVia(p.ID, 1, "epay")
	good := epusdtBody(c, "U-1", "2", epusdtToken)
	var m map[string]any
	json.Unmarshal([]byte(good), &m)
	sig := m["signature"].(string)
	unknown := c
	unknown.OrderNo = "NO-SUCH-ORDER"
	cheap := c
	cheap.Amount = 1
	for _, tc := range []struct{ name, body string }{
		{"forged signature", strings.Replace(good, sig, strings.Repeat("0", 32), 1)},
		{"empty signature", strings.Replace(good, sig, "", 1)},
		{"another merchant's token", epusdtBody(c, "U-1", "2", "another-token")},
		{"amount tampered after signing", strings.Replace(good, `"amount":9.9`, `"amount":0.01`, 1)},
		{"signed wrong amount", epusdtBody(cheap, "U-1", "2", epusdtToken)},
		{"unfinished status", epusdtBody(c, "U-1", "1", epusdtToken)},
		{"expired status", epusdtBody(c, "U-1", "3", epusdtToken)},
		{"unknown order", epusdtBody(unknown, "U-1", "2", epusdtToken)},
		{"EPay's notification", epayForm(epayParams(e, "EPAY-T-3"), epayKey)},
		{"empty", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "amount tampered after signing" && !strings.Contains(good, `"amount":9.9`) {
				t.Fatalf("the body %s has no amount to tamper with", good)
			}
			before := pb.state()
			w := pb.do("POST", "/pay/epusdt/notify", tc.body)
			if w.Code != http.StatusBadRequest || w.Body.String() != "fail" {
				t.Fatalf("%d %q, want 400 fail", w.Code, w.Body)
			}
			pb.unchanged(before)
		})
	}
	// epusdt's genuine notification sent to EPay's endpoint.
	before := pb.state()
	if w := pb.do("POST", "/pay/epay/notify", good); w.Code != http.StatusBadRequest || w.Body.String() != "fail" {
		t.Fatalf("epusdt's notification at EPay: %d %q", w.Code, w.Body)
	}
	pb.unchanged(before)
	if o := pb.getOrder(c); o.Status != "pending" || pb.payments(c.OrderNo) != 0 {
		t.Fatalf("order %s after refused notifications", o.Status)
	}
	if w := pb.do("POST", "/pay/epusdt/notify", good); w.Code != http.StatusOK || w.Body.String() != "ok" {
		t.Fatalf("genuine notification after the refused ones: %d %q", w.Code, w.Body)
	}
}

// TestEpusdtDown: when the transaction cannot be created, the order is
// cancelled and the buyer gets 503.
func TestEpusdtDown(t *testing.T) {
	t.Parallel()
	pb := setupPay(t)
	p := pb.cardProduct(2, "")
	pb.usdt.Close()
	body := fmt.Sprintf(`{"product_id":%d,"quantity":1,"email":"b@example.com","gateway":"epusdt"}`, p.ID)
	wantError(t, pb.do("POST", "/api/v1/orders", body), http.StatusServiceUnavailable, faka.EUnavailable)
	if st := pb.stock(p.ID); st.Available != 2 || st.Reserved != 0 {
		t.Fatalf("stock %+v after a failed create", st)
	}
}

// TestEpusdtDownMessage: the buyer's error does not name the merchant's
// epusdt server.
func TestEpusdtDownMessage(t *testing.T) {
	t.Parallel()
	pb := setupPay(t)
	p := pb.cardProduct(1, "")
	addr := strings.TrimPrefix(pb.usdt.URL, "http://")
	pb.usdt.Close()
	body := fmt.Sprintf(`{"product_id":%d,"quantity":1,"email":"b@example.com","gateway":"epusdt"}`, p.ID)
	w := pb.do("POST", "/api/v1/orders", body)
	if w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), addr) {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}

// TestGatewayCurrency: EPay and epusdt take CNY only; an order in another
// currency is refused with 422 and its stock returned.
func TestGatewayCurrency(t *testing.T) {
	t.Parallel()
	pb := setupPay(t)
	p := pb.cardProduct(2, `,"currency":"USD"`)
	if p.Currency != "USD" {
		t.Fatalf("product currency %s", p.Currency)
	}
	for _, gw := range []string{"epay", "epusdt"} {
		body := fmt.Sprintf(`{"product_id":%d,"quantity":1,"email":"b@example.com","gateway":%q}`, p.ID, gw)
		wantError(t, pb.do("POST", "/api/v1/orders", body), http.StatusUnprocessableEntity, faka.EInvalid)
	}
	if st := pb.stock(p.ID); st.Available != 2 || st.Reserved != 0 {
		t.Fatalf("stock %+v", st)
	}
}
