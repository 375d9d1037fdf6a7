// Package payment defines what a payment gateway is to faka and keeps the
// set of enabled gateways. Each gateway lives in a subpackage
// (payment/sandbox, …); the HTTP server routes /pay/{name}/notify to the
// gateway of that name and applies what it verified through the engine.
package payment

import (
	"context"
	"html/template"
	"net/http"
	"time"

	"github.com/faka-dev/faka"
)

// Gateway is one way to pay. Implementations must be safe for concurrent
// use.
type Gateway interface {
	// Name is the gateway's URL-safe identifier: lower-case letters,
	// digits, '-' and '_'. It appears in /pay/{name}/… and in orders.
	Name() string

	// PayURL returns where the buyer of order o, who holds token, pays:
	// a hosted page, a redirect to the provider, or a QR code page.
	PayURL(ctx context.Context, o *faka.Order, token string) (string, error)

	// ParseNotification verifies a notification the gateway sent to
	// /pay/{name}/notify (body is the raw request body, already read and
	// size-limited) and returns what it states. It returns an error coded
	// EUnauthorized when the signature does not verify, EInvalid or
	// EBadRequest when the content is unacceptable, and never a
	// Notification it has not verified.
	ParseNotification(r *http.Request, body []byte) (faka.Notification, error)

	// Acknowledge writes the reply the gateway expects for a notification
	// that was accepted, including a duplicate one.
	Acknowledge(w http.ResponseWriter)

	// Reject writes the reply for a notification that was refused. For an
	// internal or unavailable error it should ask the gateway to retry.
	Reject(w http.ResponseWriter, err error)
}

// Host is what the HTTP server offers to a gateway's own pages.
type Host interface {
	// OrderForBuyer returns the order when token is its buyer token, and
	// an ENotFound error otherwise.
	OrderForBuyer(ctx context.Context, orderNo, token string) (*faka.Order, error)
	// Confirm applies a verified notification exactly as one received at
	// /pay/{gateway}/notify is applied.
	Confirm(ctx context.Context, n faka.Notification) (*faka.ConfirmResult, error)
	// OrderURL is where the buyer sees the order (and its keys).
	OrderURL(orderNo, token string) string
	// TestMode reports whether a test gateway (the sandbox) is enabled:
	// every page then says that the shop is in test mode.
	TestMode() bool
	// Printer returns the messages of the visitor's language (the shop's
	// catalogue, web/i18n), so that a gateway's page speaks it.
	Printer(w http.ResponseWriter, r *http.Request) Printer
	// Page writes a page in the shop's layout: its name and logo, the
	// language switch, the test-mode banner, and c.
	Page(w http.ResponseWriter, r *http.Request, status int, c PageContent)
}

// PageContent is what a gateway's page shows inside the shop's layout.
type PageContent struct {
	Title string // the heading and the <title>
	// Body is the page's content, which the gateway made with
	// html/template (everything in it escaped). Images may be data: URLs.
	Body template.HTML
	// Refresh, when not zero, reloads the page that often (a QR page
	// waiting for the payment).
	Refresh time.Duration
}

// Printer gives the messages of one language.
type Printer interface {
	// T returns the message of key, formatted with args.
	T(key string, args ...any) string
	// Lang returns the language's tag, such as zh-CN.
	Lang() string
}

// TestGateway is a Gateway that moves no money, such as the sandbox. It is
// never the default while another gateway is enabled, and while one is
// enabled every storefront and pay page shows a test-mode banner.
type TestGateway interface {
	Gateway
	TestMode() bool
}

// IsTest reports whether g is a test gateway.
func IsTest(g Gateway) bool {
	t, ok := g.(TestGateway)
	return ok && t.TestMode()
}

// PageGateway is a Gateway that serves pages of its own under /pay/{name}/,
// such as a hosted pay page or the page the provider returns the buyer to.
type PageGateway interface {
	Gateway
	// Pages returns the handler for every path under /pay/{name}/ other
	// than notify. The server calls it once per gateway.
	Pages(h Host) http.Handler
}

// UnsignedQuerier is a Querier whose status replies the provider does not
// sign (EPay's). The gateway applies a paid state from one only when it
// came over verified TLS; the poller says so when it applies one.
type UnsignedQuerier interface {
	UnsignedQuery() bool
}
