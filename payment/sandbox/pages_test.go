package sandbox_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/faka-dev/faka"
)

// host is a payment.Host over one order.
type host struct {
	mu         sync.Mutex
	order      faka.Order
	token      string
	confirmed  []faka.Notification
	confirmErr error
}

func (h *host) OrderForBuyer(_ context.Context, orderNo, token string) (*faka.Order, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if orderNo != h.order.OrderNo || token != h.token {
		return nil, faka.Errorf(faka.ENotFound, "no such order")
	}
	o := h.order
	return &o, nil
}

func (h *host) Confirm(_ context.Context, n faka.Notification) (*faka.ConfirmResult, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.confirmErr != nil {
		return nil, h.confirmErr
	}
	h.confirmed = append(h.confirmed, n)
	h.order.Status = faka.StatusDelivered
	o := h.order
	return &faka.ConfirmResult{Order: &o}, nil
}

func (h *host) OrderURL(orderNo, token string) string {
	return "/orders/" + orderNo + "?token=" + url.QueryEscape(token)
}

func (h *host) TestMode() bool { return true }

func newHost() *host {
	return &host{
		order: faka.Order{OrderNo: "2026A", Amount: 1990, Currency: "USD", Status: faka.StatusPending},
		token: `tok"><b>x`,
	}
}

func serve(h http.Handler, method, target, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestPayPage(t *testing.T) {
	t.Parallel()
	h := newHost()
	pages := newGateway(t).Pages(h)

	w := serve(pages, "GET", "/pay/sandbox/2026A?token="+url.QueryEscape(h.token), "")
	body := w.Body.String()
	if w.Code != http.StatusOK || !strings.Contains(body, "19.90 USD") || !strings.Contains(body, `action="/pay/sandbox/2026A/pay"`) {
		t.Fatalf("pay page %d:\n%s", w.Code, body)
	}
	if !strings.Contains(body, `class="testmode"`) || !strings.Contains(body, "TEST MODE") {
		t.Fatalf("the sandbox's pay page has no test-mode banner:\n%s", body)
	}
	if strings.Contains(body, `"><b>`) || !strings.Contains(body, "tok&#34;&gt;&lt;b&gt;x") {
		t.Fatalf("the token is not escaped:\n%s", body)
	}
	if strings.Contains(body, "<script") {
		t.Fatal("the page has a script")
	}
	csp := w.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "style-src 'sha256-") ||
		!strings.Contains(csp, "form-action 'self'") {
		t.Fatalf("CSP %q", csp)
	}
	if w.Header().Get("Cache-Control") != "no-store" || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("headers %v", w.Header())
	}

	for _, target := range []string{"/pay/sandbox/2026A?token=wrong", "/pay/sandbox/2026A", "/pay/sandbox/2026B?token=x"} {
		w := serve(pages, "GET", target, "")
		if w.Code != http.StatusNotFound && w.Code != http.StatusUnauthorized || strings.Contains(w.Body.String(), "<form") {
			t.Fatalf("GET %s: %d", target, w.Code)
		}
	}
	if w := serve(pages, "GET", "/pay/sandbox/2026A/other", ""); w.Code != http.StatusNotFound {
		t.Fatalf("unknown page %d", w.Code)
	}

	h.order.Status = faka.StatusExpired
	if w := serve(pages, "GET", "/pay/sandbox/2026A?token="+url.QueryEscape(h.token), ""); !strings.Contains(w.Body.String(), "late payment") {
		t.Fatalf("expired order page:\n%s", w.Body)
	}
}

func TestPay(t *testing.T) {
	t.Parallel()
	h := newHost()
	pages := newGateway(t).Pages(h)
	form := "token=" + url.QueryEscape(h.token)

	if w := serve(pages, "POST", "/pay/sandbox/2026A/pay", "token=wrong"); w.Code != http.StatusNotFound {
		t.Fatalf("wrong token: %d", w.Code)
	}
	if w := serve(pages, "POST", "/pay/sandbox/2026A/pay", ""); w.Code != http.StatusUnauthorized {
		t.Fatalf("no token: %d", w.Code)
	}
	if w := serve(pages, "POST", "/pay/sandbox/2026A/pay", form+"&pad="+strings.Repeat("x", 5000)); w.Code != http.StatusRequestEntityTooLarge && w.Code != http.StatusBadRequest {
		t.Fatalf("oversized form: %d", w.Code)
	}
	if len(h.confirmed) != 0 {
		t.Fatalf("refused requests confirmed %v", h.confirmed)
	}

	w := serve(pages, "POST", "/pay/sandbox/2026A/pay", form)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != h.OrderURL("2026A", h.token) {
		t.Fatalf("pay: %d, Location %q", w.Code, w.Header().Get("Location"))
	}
	if len(h.confirmed) != 1 {
		t.Fatalf("confirmed %d times", len(h.confirmed))
	}
	n := h.confirmed[0]
	if n.Gateway != "sandbox" || n.OrderNo != "2026A" || n.Amount != 1990 || n.Currency != "USD" ||
		!strings.HasPrefix(n.TradeNo, "SBX") || len(n.TradeNo) != 35 {
		t.Fatalf("notification %+v", n)
	}
	// Paid already: no second payment, straight to the order.
	if w := serve(pages, "POST", "/pay/sandbox/2026A/pay", form); w.Code != http.StatusSeeOther || len(h.confirmed) != 1 {
		t.Fatalf("second pay: %d, %d confirmations", w.Code, len(h.confirmed))
	}

	h2 := newHost()
	h2.confirmErr = faka.Errorf(faka.EInternal, "database locked")
	w = serve(newGateway(t).Pages(h2), "POST", "/pay/sandbox/2026A/pay", form)
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "database locked") {
		t.Fatalf("failed confirm: %d\n%s", w.Code, w.Body)
	}
}
