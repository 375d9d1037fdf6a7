package gatewaytest

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"sync"
	"time"

	"github.com/faka-dev/faka/payment"

	"github.com/faka-dev/faka"
)

// BuyerToken is the buyer token of every order a Host holds.
const BuyerToken = "tok"

// Host is a payment.Host over orders held in memory, for tests of a
// gateway's own pages (the QR page). It refuses to confirm: a page under
// test that confirms a payment fails.
type Host struct {
	gateway, publicURL string

	mu     sync.Mutex
	orders map[string]*faka.Order
	test   bool
}

// NewHost returns a Host whose orders are gateway's unless they name
// another, with order pages under publicURL ("" for relative URLs).
func NewHost(gateway, publicURL string) *Host {
	return &Host{gateway: gateway, publicURL: publicURL, orders: map[string]*faka.Order{}}
}

// Put stores order o (kept, not copied: a test may change it later),
// filling in the Host's gateway when o names none.
func (h *Host) Put(o *faka.Order) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if o.Gateway == "" {
		o.Gateway = h.gateway
	}
	h.orders[o.OrderNo] = o
}

// OrderForBuyer returns a copy of the order when token is BuyerToken.
func (h *Host) OrderForBuyer(_ context.Context, orderNo, token string) (*faka.Order, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	o, ok := h.orders[orderNo]
	if !ok || token != BuyerToken {
		return nil, faka.Errorf(faka.ENotFound, "no such order")
	}
	c := *o
	return &c, nil
}

// Confirm is refused: the pages under test must not confirm.
func (h *Host) Confirm(context.Context, faka.Notification) (*faka.ConfirmResult, error) {
	return nil, faka.Errorf(faka.EInternal, "gatewaytest: a page under test confirmed a payment")
}

// OrderURL is the order page's URL.
func (h *Host) OrderURL(orderNo, token string) string {
	return h.publicURL + "/orders/" + orderNo + "?token=" + token
}

// SetTestMode makes the Host say that a test gateway is enabled.
func (h *Host) SetTestMode(on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.test = on
}

// TestMode reports what SetTestMode set (false at first).
func (h *Host) TestMode() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.test
}

// Printer returns messages that are their key, followed by their
// arguments in brackets: a test sees which message a page chose.
func (h *Host) Printer(http.ResponseWriter, *http.Request) payment.Printer { return KeyPrinter{} }

// Page writes c in a bare page: the title, a test-mode banner when
// SetTestMode turned it on, a <meta refresh> when c asks for one, the
// body. It sets the CSP the shop's layout sends, so that a test sees
// what the body may use.
func (h *Host) Page(w http.ResponseWriter, _ *http.Request, status int, c payment.PageContent) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(status)
	title := template.HTMLEscapeString(c.Title)
	fmt.Fprintf(w, "<!doctype html><title>%s</title>", title)
	if c.Refresh > 0 {
		fmt.Fprintf(w, `<meta http-equiv="refresh" content="%d">`, int(c.Refresh/time.Second))
	}
	if h.TestMode() {
		fmt.Fprint(w, `<p class="testmode">test mode</p>`)
	}
	fmt.Fprintf(w, "<h1>%s</h1>%s", title, c.Body)
}

// KeyPrinter is a payment.Printer whose messages are their keys, with
// the arguments in brackets.
type KeyPrinter struct{}

// T returns key, and args in brackets when there are any.
func (KeyPrinter) T(key string, args ...any) string {
	if len(args) == 0 {
		return key
	}
	return fmt.Sprintf("%s%v", key, args)
}

// Lang is "en".
func (KeyPrinter) Lang() string { return "en" }
