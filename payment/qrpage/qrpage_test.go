package qrpage_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"html"
	"image/png"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/internal/gatewaytest"
	"github.com/faka-dev/faka/payment/qrpage"
)

func get(t *testing.T, hd http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	hd.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	return w
}

var imgRE = regexp.MustCompile(`src="data:image/png;base64,([A-Za-z0-9+/=&#;]+)"`)

func TestPage(t *testing.T) {
	t.Parallel()
	order := &faka.Order{OrderNo: "2026A", Amount: 990, Currency: "CNY", Status: faka.StatusPending, Gateway: "alipay"}
	h := gatewaytest.NewHost("alipay", "")
	h.Put(order)
	calls := 0
	code := "https://qr.alipay.com/bax0\"<script>"
	hd := qrpage.Handler("alipay", "Alipay", h, func(_ context.Context, o *faka.Order) (string, error) {
		calls++
		if o.OrderNo != "2026A" {
			t.Errorf("code asked for order %q", o.OrderNo)
		}
		return code, nil
	})

	w := get(t, hd, qrpage.Path("alipay", "2026A", "tok"))
	body := w.Body.String()
	if w.Code != http.StatusOK || calls != 1 {
		t.Fatalf("pending order: status %d, code asked %d times\n%s", w.Code, calls, body)
	}
	for _, want := range []string{"<h1>Alipay</h1>", "9.90 CNY", "2026A", `http-equiv="refresh" content="4"`, "/orders/2026A?token=tok",
		"qr.scan[Alipay]", "qr.back"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>") {
		t.Error("the code's payload was not escaped")
	}
	// The page is the host's (the shop's layout) and its CSP allows the
	// data: image but no inline script.
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "data:") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}
	if w.Header().Get("Referrer-Policy") != "no-referrer" {
		t.Error("the page's URL (with the buyer's token) may leak in a Referer")
	}
	m := imgRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no QR image on the page")
	}
	raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil || img.Bounds().Dx() < 100 {
		t.Fatalf("the QR image is not a usable PNG: %v", err)
	}

	if w := get(t, hd, qrpage.Path("alipay", "2026A", "wrong")); w.Code != http.StatusNotFound || imgRE.MatchString(w.Body.String()) {
		t.Errorf("wrong token: status %d", w.Code)
	}
	if w := get(t, hd, "/pay/alipay/qr/2026A"); w.Code != http.StatusUnauthorized {
		t.Errorf("no token: status %d", w.Code)
	}

	// Another gateway's page for this order makes no trade.
	before := calls
	other := qrpage.Handler("wechat", "WeChat Pay", h, func(context.Context, *faka.Order) (string, error) {
		calls++
		return "weixin://wxpay/bizpayurl?pr=x", nil
	})
	if w := get(t, other, qrpage.Path("wechat", "2026A", "tok")); w.Code != http.StatusNotFound || calls != before {
		t.Errorf("another gateway's order: status %d, code asked: %v", w.Code, calls != before)
	}

	// An order that ended unpaid gets no new trade: nobody would close it.
	for _, st := range []faka.OrderStatus{faka.StatusExpired, faka.StatusCancelled} {
		order.Status = st
		w := get(t, hd, qrpage.Path("alipay", "2026A", "tok"))
		if w.Code != http.StatusConflict || imgRE.MatchString(w.Body.String()) || calls != before ||
			!strings.Contains(w.Body.String(), "qr.closed[status."+string(st)+"]") || !strings.Contains(w.Body.String(), "qr.back") {
			t.Errorf("%s order: status %d, code asked: %v", st, w.Code, calls != before)
		}
	}

	order.Status = faka.StatusDelivered
	w = get(t, hd, qrpage.Path("alipay", "2026A", "tok"))
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/orders/2026A?token=tok" || calls != before {
		t.Errorf("paid order: status %d, Location %q, code asked again: %v", w.Code, w.Header().Get("Location"), calls != before)
	}
}

func TestProviderDown(t *testing.T) {
	t.Parallel()
	h := gatewaytest.NewHost("wechat", "")
	h.Put(&faka.Order{OrderNo: "2026B", Amount: 100, Currency: "CNY", Status: faka.StatusPending})
	for name, fn := range map[string]qrpage.CodeFunc{
		"error": func(context.Context, *faka.Order) (string, error) {
			return "", faka.Errorf(faka.EUnavailable, "the provider did not answer")
		},
		"empty": func(context.Context, *faka.Order) (string, error) { return "", nil },
	} {
		w := get(t, qrpage.Handler("wechat", "WeChat Pay", h, fn), qrpage.Path("wechat", "2026B", "tok"))
		if w.Code != http.StatusServiceUnavailable || imgRE.MatchString(w.Body.String()) {
			t.Errorf("%s: status %d, want 503 without a code", name, w.Code)
		}
	}
}

// M1: while the shop's sandbox is on, a real gateway's pay page says the
// shop is in test mode; otherwise it does not.
func TestPageTestModeBanner(t *testing.T) {
	t.Parallel()
	h := gatewaytest.NewHost("alipay", "")
	h.Put(&faka.Order{OrderNo: "2026A", Amount: 990, Currency: "CNY", Status: faka.StatusPending, Gateway: "alipay"})
	hd := qrpage.Handler("alipay", "Alipay", h, func(context.Context, *faka.Order) (string, error) {
		return "https://qr.alipay.com/bax0", nil
	})
	if body := get(t, hd, qrpage.Path("alipay", "2026A", "tok")).Body.String(); strings.Contains(body, `class="testmode"`) {
		t.Fatalf("a banner without the sandbox:\n%s", body)
	}
	h.SetTestMode(true)
	if body := get(t, hd, qrpage.Path("alipay", "2026A", "tok")).Body.String(); !strings.Contains(body, `class="testmode"`) {
		t.Fatalf("no test-mode banner with the sandbox on:\n%s", body)
	}
}
