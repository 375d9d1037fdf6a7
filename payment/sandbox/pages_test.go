package sandbox_test

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/internal/gatewaytest"
	"github.com/faka-dev/faka/payment"
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

func (h *host) Printer(http.ResponseWriter, *http.Request) payment.Printer {
	return gatewaytest.KeyPrinter{}
}

// Page writes the title in <h1> and the body, as the shop's layout would.
func (h *host) Page(w http.ResponseWriter, _ *http.Request, status int, c payment.PageContent) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<h1>%s</h1>\n%s", template.HTMLEscapeString(c.Title), c.Body)
}

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
	for _, want := range []string{"<h1>sandbox.title</h1>", "19.90 USD", `action="/pay/sandbox/2026A/pay"`, "sandbox.pay",
		`href="/orders/2026A?token=tok%22%3E%3Cb%3Ex"`, "sandbox.back"} {
		if w.Code != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("pay page %d lacks %q:\n%s", w.Code, want, body)
		}
	}
	if strings.Contains(body, `"><b>`) || !strings.Contains(body, "tok&#34;&gt;&lt;b&gt;x") {
		t.Fatalf("the token is not escaped:\n%s", body)
	}
	if strings.Contains(body, "<script") {
		t.Fatal("the page has a script")
	}

	for _, tc := range []struct {
		target string
		status int
		text   string
	}{
		{"/pay/sandbox/2026A?token=wrong", http.StatusNotFound, "pay.notfound"},
		{"/pay/sandbox/2026A", http.StatusUnauthorized, "pay.notoken"},
		{"/pay/sandbox/2026B?token=x", http.StatusNotFound, "pay.notfound"},
		{"/pay/sandbox/2026A/other", http.StatusNotFound, "pay.notfound"},
	} {
		w := serve(pages, "GET", tc.target, "")
		if b := w.Body.String(); w.Code != tc.status || strings.Contains(b, "<form") || !strings.Contains(b, tc.text) ||
			!strings.Contains(b, "<h1>sandbox.error</h1>") {
			t.Fatalf("GET %s: %d\n%s", tc.target, w.Code, b)
		}
	}

	// An order no longer pending shows why, no Pay button, and the way back.
	for _, tc := range []struct {
		status faka.OrderStatus
		text   string
	}{
		{faka.StatusExpired, "sandbox.closed[status.expired]"},
		{faka.StatusCancelled, "sandbox.closed[status.cancelled]"},
		{faka.StatusRefunded, "sandbox.closed[status.refunded]"},
		{faka.StatusDelivered, "sandbox.paid[status.delivered]"},
		{faka.StatusPaidAwaitingStock, "sandbox.paid[status.paid_awaiting_stock]"},
	} {
		h.order.Status = tc.status
		w := serve(pages, "GET", "/pay/sandbox/2026A?token="+url.QueryEscape(h.token), "")
		if b := w.Body.String(); w.Code != http.StatusOK || strings.Contains(b, "<form") || !strings.Contains(b, tc.text) ||
			!strings.Contains(b, "sandbox.back") {
			t.Fatalf("%s order page %d:\n%s", tc.status, w.Code, b)
		}
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
	// Paid already: no second payment; the page says so.
	if w := serve(pages, "POST", "/pay/sandbox/2026A/pay", form); w.Code != http.StatusConflict || len(h.confirmed) != 1 ||
		!strings.Contains(w.Body.String(), "sandbox.paid[status.delivered]") {
		t.Fatalf("second pay: %d, %d confirmations\n%s", w.Code, len(h.confirmed), w.Body)
	}
	// A closed trade is never paid: cancelled, expired, refunded.
	for _, st := range []faka.OrderStatus{faka.StatusCancelled, faka.StatusExpired, faka.StatusRefunded} {
		h.order.Status = st
		w := serve(pages, "POST", "/pay/sandbox/2026A/pay", form)
		if w.Code != http.StatusConflict || len(h.confirmed) != 1 || !strings.Contains(w.Body.String(), "sandbox.closed[status."+string(st)+"]") {
			t.Fatalf("pay a %s order: %d, %d confirmations\n%s", st, w.Code, len(h.confirmed), w.Body)
		}
	}

	h2 := newHost()
	h2.confirmErr = faka.Errorf(faka.EInternal, "database locked")
	w = serve(newGateway(t).Pages(h2), "POST", "/pay/sandbox/2026A/pay", form)
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body.String(), "database locked") ||
		!strings.Contains(w.Body.String(), "pay.failed") {
		t.Fatalf("failed confirm: %d\n%s", w.Code, w.Body)
	}
}
