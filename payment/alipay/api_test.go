package alipay_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/internal/gatewaytest"
	"github.com/faka-dev/faka/payment"
	"github.com/faka-dev/faka/payment/alipay"
)

// leaks reports whether an error's text shows the merchant's private key.
func leaks(err error) bool {
	s := err.Error()
	for _, k := range []string{pkcs8(merchantKey), pkcs1(merchantKey)} {
		for i := 0; i+32 <= len(k); i += 32 {
			if strings.Contains(s, k[i:i+32]) {
				return true
			}
		}
	}
	return false
}

func TestQuery(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	g := f.gateway("")
	want := faka.Notification{Gateway: "alipay", OrderNo: "2026A", TradeNo: "20260301220014002026A", Amount: 990, Currency: "CNY"}

	f.set("2026A", alipay.TradeSuccess, "9.90")
	n, paid, err := g.Query(t.Context(), "2026A")
	if err != nil || !paid || n != want {
		t.Fatalf("paid: %+v %v %v", n, paid, err)
	}
	if biz := f.lastBiz("alipay.trade.query"); biz["out_trade_no"] != "2026A" || len(biz) != 1 {
		t.Fatalf("query biz_content %v", biz)
	}
	f.set("2026A", alipay.TradeFinished, "9.90")
	if n, paid, err := g.Query(t.Context(), "2026A"); err != nil || !paid || n != want {
		t.Fatalf("finished: %+v %v %v", n, paid, err)
	}
	// The amount is stated; the engine compares it with the order's.
	f.set("2026A", alipay.TradeSuccess, "0.01")
	if n, paid, err := g.Query(t.Context(), "2026A"); err != nil || !paid || n.Amount != 1 {
		t.Fatalf("other amount: %+v %v %v", n, paid, err)
	}
	for _, status := range []string{alipay.WaitBuyerPay, alipay.TradeClosed} {
		f.set("2026A", status, "9.90")
		if n, paid, err := g.Query(t.Context(), "2026A"); err != nil || paid || n != (faka.Notification{}) {
			t.Fatalf("%s: %+v %v %v", status, n, paid, err)
		}
	}
	if _, paid, err := g.Query(t.Context(), "NOPE"); err != nil || paid {
		t.Fatalf("unknown trade: paid %v, %v", paid, err)
	}

	f.set("BADAMT", alipay.TradeSuccess, "9.999")
	f.set("ODD", "TRADE_PENDING", "9.90")
	f.setRaw("OTHER", `{"alipay_trade_query_response":{"code":"10000","msg":"Success","trade_no":"1","out_trade_no":"2026A","trade_status":"TRADE_SUCCESS","total_amount":"9.90"},"sign":"x"}`)
	f.setRaw("JUNK", `<html>busy</html>`)
	f.setRaw("DOWN", "HTTP 502")
	f.setRaw("SYS", `{"alipay_trade_query_response":{"code":"20000","msg":"Service Currently Unavailable","sub_code":"isp.unknow-error"},"sign":""}`)
	f.setRaw("UNSIGNED", `{"alipay_trade_query_response":{"code":"10000","msg":"Success","trade_no":"1","out_trade_no":"UNSIGNED","trade_status":"TRADE_SUCCESS","total_amount":"9.90"}}`)
	for _, no := range []string{"BADAMT", "ODD", "OTHER", "JUNK", "DOWN", "SYS", "UNSIGNED"} {
		n, paid, err := g.Query(t.Context(), no)
		if faka.ErrorCode(err) != faka.EUnavailable || paid || n != (faka.Notification{}) {
			t.Errorf("%s: %+v %v %v, want unavailable", no, n, paid, err)
		}
	}

	// A reply signed with another key than Alipay's.
	f.set("2026A", alipay.TradeSuccess, "9.90")
	f.signWith(merchantKey)
	if _, paid, err := g.Query(t.Context(), "2026A"); faka.ErrorCode(err) != faka.EUnavailable || paid {
		t.Fatalf("reply signed with another key: paid %v, %v", paid, err)
	}
	f.signWith(nil)

	// A gateway whose key Alipay does not know gets isv.invalid-signature.
	cfg := config()
	cfg.PrivateKey, cfg.AlipayPublicKey, cfg.APIURL = pkcs1(aliKey), pkix(merchantPub), f.url()
	wrong, err := alipay.New(cfg, publicURL, f.srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	if _, paid, err := wrong.Query(t.Context(), "2026A"); faka.ErrorCode(err) != faka.EUnavailable || paid ||
		!strings.Contains(err.Error(), "isv.invalid-signature") {
		t.Fatalf("refused signature: paid %v, %v", paid, err)
	}

	if _, _, err := g.Query(t.Context(), "has space"); faka.ErrorCode(err) != faka.EInvalid {
		t.Fatalf("malformed order number: %v", err)
	}
	f.srv.Close()
	_, paid, err = g.Query(t.Context(), "2026A")
	if faka.ErrorCode(err) != faka.EUnavailable || paid || leaks(err) {
		t.Fatalf("server down: paid %v, %v", paid, err)
	}
}

func TestCloseTrade(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	g := f.gateway("")

	f.set("WAIT", alipay.WaitBuyerPay, "9.90")
	if err := g.CloseTrade(t.Context(), "WAIT"); err != nil || f.status("WAIT") != alipay.TradeClosed {
		t.Fatalf("waiting trade: %v, now %s", err, f.status("WAIT"))
	}
	if err := g.CloseTrade(t.Context(), "WAIT"); err != nil {
		t.Fatalf("closed already: %v", err)
	}
	if err := g.CloseTrade(t.Context(), "NOPE"); err != nil {
		t.Fatalf("unknown trade: %v", err)
	}
	for _, status := range []string{alipay.TradeSuccess, alipay.TradeFinished} {
		f.set("PAID", status, "9.90")
		if err := g.CloseTrade(t.Context(), "PAID"); faka.ErrorCode(err) != faka.EConflict {
			t.Fatalf("%s trade: %v, want conflict", status, err)
		}
		if f.status("PAID") != status {
			t.Fatalf("a paid trade was closed")
		}
	}
	f.setRaw("SYS", `{"alipay_trade_close_response":{"code":"40004","msg":"Business Failed","sub_code":"ACQ.SYSTEM_ERROR","sub_msg":"系统异常"},"sign":"x"}`)
	if err := g.CloseTrade(t.Context(), "SYS"); faka.ErrorCode(err) != faka.EUnavailable {
		t.Fatalf("system error: %v", err)
	}
	f.set("FORGED", alipay.WaitBuyerPay, "9.90")
	f.signWith(merchantKey)
	if err := g.CloseTrade(t.Context(), "FORGED"); faka.ErrorCode(err) != faka.EUnavailable {
		t.Fatalf("reply signed with another key: %v", err)
	}
	f.signWith(nil)
	f.srv.Close()
	if err := g.CloseTrade(t.Context(), "WAIT"); faka.ErrorCode(err) != faka.EUnavailable || leaks(err) {
		t.Fatalf("server down: %v", err)
	}
}

func TestQRPage(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	g := f.gateway(alipay.ModeQR)
	until := time.Now().Add(5 * time.Minute)
	h := gatewaytest.NewHost(alipay.Name, publicURL)
	h.Put(&faka.Order{OrderNo: "2026A", Amount: 990, Currency: "CNY", Status: faka.StatusPending, ReservedUntil: until})
	pages := g.Pages(h)
	get := func(p payment.PageGateway, path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		pages := pages
		if p != nil {
			pages = p.Pages(h)
		}
		pages.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w
	}
	raw, err := g.PayURL(t.Context(), &faka.Order{OrderNo: "2026A", Amount: 990, Currency: "CNY"}, "tok")
	if err != nil || raw != publicURL+"/pay/alipay/qr/2026A?token=tok" {
		t.Fatalf("pay URL %s, %v", raw, err)
	}
	path := strings.TrimPrefix(raw, publicURL)
	code := "https://qr.alipay.com/bax02026A"
	for i := range 3 {
		w := get(nil, path)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `href="`+code+`"`) || !strings.Contains(w.Body.String(), "data:image/png;base64,") {
			t.Fatalf("load %d: %d %s", i, w.Code, w.Body)
		}
	}
	if n := f.count("alipay.trade.precreate"); n != 1 {
		t.Fatalf("%d precreate calls for three loads, want 1 (the code is kept)", n)
	}
	biz := f.lastBiz("alipay.trade.precreate")
	wantBiz := map[string]string{"out_trade_no": "2026A", "total_amount": "9.90", "subject": "Order 2026A", "time_expire": alipay.TimeExpire(until)}
	if len(biz) != len(wantBiz) {
		t.Errorf("precreate biz_content %v, want %v", biz, wantBiz)
	}
	for k, v := range wantBiz {
		if biz[k] != v {
			t.Errorf("precreate %s = %q, want %q", k, biz[k], v)
		}
	}
	// Another instance (or this one restarted) asks again and gets the same code.
	if w := get(f.gateway(alipay.ModeQR), path); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), code) {
		t.Fatalf("another instance: %d %s", w.Code, w.Body)
	}
	if n := f.count("alipay.trade.precreate"); n != 2 {
		t.Fatalf("%d precreate calls, want 2", n)
	}

	// Paid: to the order.
	h.Put(&faka.Order{OrderNo: "2026A", Amount: 990, Currency: "CNY", Status: faka.StatusDelivered, ReservedUntil: until})
	if w := get(nil, path); w.Code != http.StatusSeeOther || w.Header().Get("Location") != h.OrderURL("2026A", "tok") {
		t.Fatalf("paid: %d %s", w.Code, w.Header().Get("Location"))
	}
	// The reservation has ended: no code, no call.
	h.Put(&faka.Order{OrderNo: "LATE", Amount: 990, Currency: "CNY", Status: faka.StatusExpired, ReservedUntil: time.Now().Add(-time.Second)})
	if w := get(nil, "/pay/alipay/qr/LATE?token=tok"); w.Code != http.StatusConflict || f.count("alipay.trade.precreate") != 2 {
		t.Fatalf("ended reservation: %d %s", w.Code, w.Body)
	}
	// Another gateway's order: no page, no trade.
	h.Put(&faka.Order{OrderNo: "EPAY", Amount: 990, Currency: "CNY", Gateway: "epay", Status: faka.StatusPending, ReservedUntil: until})
	if w := get(nil, "/pay/alipay/qr/EPAY?token=tok"); w.Code != http.StatusNotFound || f.count("alipay.trade.precreate") != 2 {
		t.Fatalf("another gateway's order: %d %s", w.Code, w.Body)
	}
	// Alipay says the trade was paid already, or closed.
	f.set("PAID", alipay.TradeSuccess, "9.90")
	f.set("SHUT", alipay.TradeClosed, "9.90")
	for _, no := range []string{"PAID", "SHUT"} {
		h.Put(&faka.Order{OrderNo: no, Amount: 990, Currency: "CNY", Status: faka.StatusPending, ReservedUntil: until})
		if w := get(nil, "/pay/alipay/qr/"+no+"?token=tok"); w.Code != http.StatusConflict {
			t.Fatalf("%s: %d %s", no, w.Code, w.Body)
		}
	}
	// Closing the trade forgets the code.
	if err := g.CloseTrade(t.Context(), "2026A"); err != nil {
		t.Fatal(err)
	}
	h.Put(&faka.Order{OrderNo: "2026A", Amount: 990, Currency: "CNY", Status: faka.StatusPending, ReservedUntil: until})
	if w := get(nil, path); w.Code != http.StatusConflict || f.count("alipay.trade.precreate") != 5 {
		t.Fatalf("after close: %d, %d precreate calls", w.Code, f.count("alipay.trade.precreate"))
	}
	// Bad replies and a dead server: try again later, nothing internal shown.
	f.setRaw("JUNK", `{"alipay_trade_precreate_response":{"code":"10000","msg":"Success","out_trade_no":"JUNK","qr_code":"javascript:alert(1)"},"sign":"x"}`)
	h.Put(&faka.Order{OrderNo: "JUNK", Amount: 990, Currency: "CNY", Status: faka.StatusPending, ReservedUntil: until})
	if w := get(nil, "/pay/alipay/qr/JUNK?token=tok"); w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), "javascript") {
		t.Fatalf("bad reply: %d %s", w.Code, w.Body)
	}
	h.Put(&faka.Order{OrderNo: "DOWN", Amount: 990, Currency: "CNY", Status: faka.StatusPending, ReservedUntil: until})
	f.srv.Close()
	if w := get(nil, "/pay/alipay/qr/DOWN?token=tok"); w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), "127.0.0.1") {
		t.Fatalf("server down: %d %s", w.Code, w.Body)
	}

	// Page mode has no QR page.
	w := httptest.NewRecorder()
	f.gateway("").Pages(h).ServeHTTP(w, httptest.NewRequest("GET", path, nil))
	if w.Code != http.StatusNotFound {
		t.Fatalf("page mode QR page: %d", w.Code)
	}
}
