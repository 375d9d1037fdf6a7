package wechat_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/internal/gatewaytest"
	"github.com/faka-dev/faka/payment/qrpage"
	"github.com/faka-dev/faka/payment/wechat"
)

func pendingOrder(no string, amount int64, until time.Time) *faka.Order {
	return &faka.Order{OrderNo: no, Amount: amount, Currency: "CNY", Status: faka.StatusPending, ReservedUntil: until}
}

func load(hd http.Handler, orderNo string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	hd.ServeHTTP(w, httptest.NewRequest(http.MethodGet, qrpage.Path("wechat", orderNo, "tok"), nil))
	return w
}

func (f *fakeWeChat) nativeCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.natives)
}

func TestQRPage(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	g := newGateway(t, config(f.srv.URL), f.srv.Client())
	h := gatewaytest.NewHost(wechat.Name, "")
	hd := g.Pages(h)
	until := time.Now().Add(5 * time.Minute).Truncate(time.Second)
	h.Put(pendingOrder("20260101000000000042", 990, until))

	w := load(hd, "20260101000000000042")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "9.90 CNY") || !strings.Contains(w.Body.String(), "data:image/png;base64,") {
		t.Fatalf("page: %d\n%s", w.Code, w.Body)
	}
	if f.nativeCount() != 1 {
		t.Fatalf("%d Native requests", f.nativeCount())
	}
	f.mu.Lock()
	req := f.natives[0]
	f.mu.Unlock()
	want := map[string]any{
		"appid": appID, "mchid": mchID, "description": "Order 20260101000000000042", "out_trade_no": "20260101000000000042",
		"notify_url": shop + "/pay/wechat/notify", "time_expire": until.In(time.FixedZone("", 8*3600)).Format(time.RFC3339),
	}
	for k, v := range want {
		if req[k] != v {
			t.Errorf("Native %s = %v, want %v", k, req[k], v)
		}
	}
	if !strings.HasSuffix(req["time_expire"].(string), "+08:00") {
		t.Errorf("time_expire %v is not in +08:00", req["time_expire"])
	}
	if amt, _ := req["amount"].(map[string]any); amt["total"] != float64(990) || amt["currency"] != "CNY" || len(amt) != 2 {
		t.Errorf("Native amount %v", req["amount"])
	}
	if len(req) != len(want)+1 {
		t.Errorf("Native request has other fields: %v", req)
	}

	// The code is kept: reloads do not create the trade again.
	for range 3 {
		if w := load(hd, "20260101000000000042"); w.Code != http.StatusOK {
			t.Fatalf("reload: %d", w.Code)
		}
	}
	if f.nativeCount() != 1 {
		t.Fatalf("reloads made %d Native requests", f.nativeCount())
	}

	// Concurrent first loads of another order share one request.
	f.mu.Lock()
	f.delay = 50 * time.Millisecond
	f.mu.Unlock()
	h.Put(pendingOrder("20260101000000000043", 100, until))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if w := load(hd, "20260101000000000043"); w.Code != http.StatusOK {
				t.Errorf("concurrent load: %d", w.Code)
			}
		})
	}
	wg.Wait()
	if f.nativeCount() != 2 {
		t.Fatalf("concurrent loads made %d Native requests in all", f.nativeCount())
	}
	f.mu.Lock()
	f.delay = 0
	f.mu.Unlock()

	// A reservation that has ended gets no code, and no trade.
	h.Put(pendingOrder("20260101000000000044", 990, time.Now().Add(-time.Second)))
	if w := load(hd, "20260101000000000044"); w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "new order") {
		t.Fatalf("ended reservation: %d\n%s", w.Code, w.Body)
	}
	if f.nativeCount() != 2 {
		t.Fatal("a trade was created for an ended reservation")
	}

	// A refusal is shown, not kept: the next load asks again.
	h.Put(pendingOrder("20260101000000000045", 990, until))
	f.mu.Lock()
	f.fail["20260101000000000045"] = fakeError{http.StatusInternalServerError, "SYSTEM_ERROR"}
	f.mu.Unlock()
	if w := load(hd, "20260101000000000045"); w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "SYSTEM_ERROR") {
		t.Fatalf("refused: %d\n%s", w.Code, w.Body)
	}
	f.mu.Lock()
	delete(f.fail, "20260101000000000045")
	f.mu.Unlock()
	if w := load(hd, "20260101000000000045"); w.Code != http.StatusOK {
		t.Fatalf("after a refusal: %d\n%s", w.Code, w.Body)
	}

	// Already paid on WeChat's side (the notification is on its way).
	h.Put(pendingOrder("20260101000000000046", 990, until))
	f.mu.Lock()
	f.fail["20260101000000000046"] = fakeError{http.StatusForbidden, "ORDERPAID"}
	f.mu.Unlock()
	if w := load(hd, "20260101000000000046"); w.Code != http.StatusConflict {
		t.Fatalf("ORDERPAID: %d\n%s", w.Code, w.Body)
	}

	// A reply that does not verify gives no code.
	h.Put(pendingOrder("20260101000000000047", 990, until))
	f.mu.Lock()
	f.signer = keys().other
	f.mu.Unlock()
	if w := load(hd, "20260101000000000047"); w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), "data:image/png") {
		t.Fatalf("forged reply: %d\n%s", w.Code, w.Body)
	}
	f.mu.Lock()
	f.signer, f.unsigned = keys().wechat, true
	f.mu.Unlock()
	if w := load(hd, "20260101000000000047"); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("unsigned reply: %d\n%s", w.Code, w.Body)
	}
	f.mu.Lock()
	f.unsigned, f.serial = false, "PUB_KEY_ID_0119000001092026010100000000000002"
	f.mu.Unlock()
	if w := load(hd, "20260101000000000047"); w.Code != http.StatusServiceUnavailable {
		t.Fatalf("reply of another key id: %d\n%s", w.Code, w.Body)
	}

	// Another gateway's order: no page, no trade.
	natives := f.nativeCount()
	other := pendingOrder("20260101000000000049", 990, until)
	other.Gateway = "alipay"
	h.Put(other)
	if w := load(hd, "20260101000000000049"); w.Code != http.StatusNotFound || f.nativeCount() != natives {
		t.Fatalf("another gateway's order: %d, %d Native requests, before %d", w.Code, f.nativeCount(), natives)
	}

	// A paid order goes to the order page.
	h.Put(&faka.Order{OrderNo: "20260101000000000048", Amount: 990, Currency: "CNY", Status: faka.StatusDelivered})
	if w := load(hd, "20260101000000000048"); w.Code != http.StatusSeeOther {
		t.Fatalf("paid order: %d", w.Code)
	}
}

// TestMerchantSignature makes the fake server refuse requests signed with
// another merchant key: the gateway's requests verify only with the
// merchant key it was given (which TestQRPage shows they do).
func TestMerchantSignature(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	cfg := config(f.srv.URL)
	cfg.PrivateKey = privatePEM(keys().other)
	g := newGateway(t, cfg, f.srv.Client())
	_, _, err := g.Query(t.Context(), "20260101000000000042")
	if faka.ErrorCode(err) != faka.EUnavailable || !strings.Contains(err.Error(), "SIGN_ERROR") {
		t.Fatalf("request with another merchant key: %v", err)
	}
}

func TestQuery(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	g := newGateway(t, config(f.srv.URL), f.srv.Client())
	set := func(no string, edit func(m map[string]any)) {
		m := paidTrade()
		m["out_trade_no"] = no
		if edit != nil {
			edit(m)
		}
		f.mu.Lock()
		f.trades[no] = m
		f.mu.Unlock()
	}

	set("20260101000000000042", nil)
	n, ok, err := g.Query(t.Context(), "20260101000000000042")
	if err != nil || !ok || n != paid {
		t.Fatalf("paid: %+v %v %v", n, ok, err)
	}
	for _, state := range []string{"NOTPAY", "USERPAYING", "CLOSED", "REVOKED", "PAYERROR", "REFUND"} {
		set("20260101000000000050", func(m map[string]any) { m["trade_state"] = state; delete(m, "transaction_id"); delete(m, "amount") })
		if n, ok, err := g.Query(t.Context(), "20260101000000000050"); err != nil || ok || n != (faka.Notification{}) {
			t.Errorf("%s: %+v %v %v", state, n, ok, err)
		}
	}
	if _, ok, err := g.Query(t.Context(), "20260101000000000051"); err != nil || ok {
		t.Fatalf("ORDER_NOT_EXIST: %v %v", ok, err)
	}

	for _, tc := range []struct {
		name string
		edit func(m map[string]any)
		code string
	}{
		{"another mchid", func(m map[string]any) { m["mchid"] = "1900000110" }, faka.EInvalid},
		{"another appid", func(m map[string]any) { m["appid"] = "wx0000000000000000" }, faka.EInvalid},
		{"another mchid, unpaid", func(m map[string]any) { m["mchid"] = "1900000110"; m["trade_state"] = "NOTPAY" }, faka.EInvalid},
		{"about another order", func(m map[string]any) { m["out_trade_no"] = "20260101000000000099" }, faka.EUnavailable},
		{"currency USD", func(m map[string]any) { m["amount"] = map[string]any{"total": 990, "currency": "USD"} }, faka.EInvalid},
		{"no amount", func(m map[string]any) { delete(m, "amount") }, faka.EInvalid},
		{"no transaction_id", func(m map[string]any) { delete(m, "transaction_id") }, faka.EInvalid},
		{"unknown state", func(m map[string]any) { m["trade_state"] = "LIMBO" }, faka.EUnavailable},
	} {
		set("20260101000000000052", tc.edit)
		n, ok, err := g.Query(t.Context(), "20260101000000000052")
		if faka.ErrorCode(err) != tc.code || ok || n != (faka.Notification{}) {
			t.Errorf("%s: %+v %v %v, want %s", tc.name, n, ok, err, tc.code)
		}
	}

	f.mu.Lock()
	f.fail["20260101000000000053"] = fakeError{http.StatusInternalServerError, "SYSTEM_ERROR"}
	f.mu.Unlock()
	if _, ok, err := g.Query(t.Context(), "20260101000000000053"); faka.ErrorCode(err) != faka.EUnavailable || ok {
		t.Fatalf("SYSTEM_ERROR: %v %v", ok, err)
	}
	if _, _, err := g.Query(t.Context(), "2026/01"); faka.ErrorCode(err) != faka.EInvalid {
		t.Fatalf("malformed order number: %v", err)
	}

	// Replies that do not verify are not believed.
	for name, edit := range map[string]func(){
		"signed with another key": func() { f.signer = keys().other },
		"unsigned":                func() { f.unsigned = true },
		"another key id":          func() { f.serial = "PUB_KEY_ID_0119000001092026010100000000000002" },
	} {
		f.mu.Lock()
		f.signer, f.unsigned, f.serial = keys().wechat, false, pubKeyID
		edit()
		f.mu.Unlock()
		n, ok, err := g.Query(t.Context(), "20260101000000000042")
		if faka.ErrorCode(err) != faka.EUnavailable || ok || n != (faka.Notification{}) {
			t.Errorf("%s: %+v %v %v", name, n, ok, err)
		}
	}

	// A server that is down: EUnavailable, and no secret in the error.
	f.srv.Close()
	_, _, err = g.Query(t.Context(), "20260101000000000042")
	if faka.ErrorCode(err) != faka.EUnavailable {
		t.Fatalf("server down: %v", err)
	}
	for _, secret := range []string{apiV3Key, "PRIVATE KEY", privatePEM(keys().merchant)[30:70]} {
		if strings.Contains(err.Error(), secret) || strings.Contains(faka.ErrorMessage(err), secret) {
			t.Fatalf("server down: the error shows a secret: %v", err)
		}
	}
	if strings.Contains(faka.ErrorMessage(err), f.srv.URL) {
		t.Errorf("the message for people names the API URL: %q", faka.ErrorMessage(err))
	}
}

func TestCloseTrade(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	g := newGateway(t, config(f.srv.URL), f.srv.Client())
	if err := g.CloseTrade(t.Context(), "20260101000000000042"); err != nil {
		t.Fatalf("close: %v", err)
	}
	f.mu.Lock()
	closes := f.closes
	f.mu.Unlock()
	if len(closes) != 1 || closes[0] != "20260101000000000042" {
		t.Fatalf("closes %v", closes)
	}
	for code, want := range map[string]string{
		"ORDER_CLOSED": "", "ORDER_NOT_EXIST": "", "ORDERPAID": faka.EConflict,
		"SYSTEM_ERROR": faka.EUnavailable, "SIGN_ERROR": faka.EUnavailable,
	} {
		status := map[string]int{"ORDER_NOT_EXIST": 404, "SYSTEM_ERROR": 500, "SIGN_ERROR": 401}[code]
		if status == 0 {
			status = 400
		}
		f.mu.Lock()
		f.fail["20260101000000000060"] = fakeError{status, code}
		f.mu.Unlock()
		if err := g.CloseTrade(t.Context(), "20260101000000000060"); faka.ErrorCode(err) != want {
			t.Errorf("%s: %v, want %q", code, err, want)
		}
	}
	f.mu.Lock()
	f.signer = keys().other
	f.mu.Unlock()
	if err := g.CloseTrade(t.Context(), "20260101000000000061"); faka.ErrorCode(err) != faka.EUnavailable {
		t.Fatalf("204 signed with another key: %v", err)
	}
	f.srv.Close()
	if err := g.CloseTrade(t.Context(), "20260101000000000042"); faka.ErrorCode(err) != faka.EUnavailable {
		t.Fatalf("server down: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := g.CloseTrade(ctx, "20260101000000000042"); faka.ErrorCode(err) != faka.EUnavailable {
		t.Fatalf("cancelled: %v", err)
	}
}

// TestCloseTradePaidMeanwhile: WeChat Pay may accept the close (204) of
// a trade whose payment completed as it was being closed. The trade is
// queried after the close, and a paid one is a conflict — which the
// poller applies as a late payment — not "closed, not paid".
func TestCloseTradePaidMeanwhile(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	g := newGateway(t, config(f.srv.URL), f.srv.Client())
	trade := func(no, state string) {
		m := paidTrade()
		m["out_trade_no"], m["trade_state"] = no, state
		if state != "SUCCESS" {
			delete(m, "transaction_id")
			delete(m, "success_time")
		}
		f.mu.Lock()
		f.trades[no] = m
		f.mu.Unlock()
	}
	trade("20260101000000000070", "SUCCESS")
	trade("20260101000000000071", "NOTPAY")
	trade("20260101000000000072", "SOMETHING_NEW")
	for no, want := range map[string]string{
		"20260101000000000070": faka.EConflict,    // 204, yet paid
		"20260101000000000071": "",                // 204, not paid
		"20260101000000000072": faka.EUnavailable, // 204, then a reply that cannot be read: checked again later
	} {
		if err := g.CloseTrade(t.Context(), no); faka.ErrorCode(err) != want {
			t.Errorf("%s: %v, want %q", no, err, want)
		}
	}
	f.mu.Lock()
	closes := len(f.closes)
	f.mu.Unlock()
	if closes != 3 {
		t.Fatalf("%d closes, want 3", closes)
	}
}
