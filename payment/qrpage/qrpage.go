// Package qrpage is the page that shows a buyer the QR code to scan with a
// payment app (Alipay's precreate, WeChat Pay's Native code_url). Gateways
// that pay by QR code serve it from their Pages at
// /pay/{gateway}/qr/{order_no}?token=…: it shows the amount and the code,
// looks again every few seconds, and sends the buyer to the order once it
// is paid.
package qrpage

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/skip2/go-qrcode"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment"
)

// Refresh is how often the page reloads itself while the order is unpaid.
const Refresh = 4 * time.Second

// maxCode bounds a code's payload; providers' codes are far shorter.
const maxCode = 1024

// CodeFunc returns the payload the QR code encodes for order o (the
// provider's code URL). It is called on every load of the page while the
// order is unpaid, so it should answer the same code for the same order
// (the providers do for the same trade; a gateway may cache).
type CodeFunc func(ctx context.Context, o *faka.Order) (string, error)

// Path returns the page's path for gateway's order orderNo with the buyer's
// token.
func Path(gateway, orderNo, token string) string {
	return "/pay/" + gateway + "/qr/" + url.PathEscape(orderNo) + "?token=" + url.QueryEscape(token)
}

// Handler serves GET /pay/{gateway}/qr/{order_no}?token=… for h's orders
// of that gateway: the code from code while the order is pending, a
// redirect to the order once it is paid, and no code once it has expired
// or been cancelled (a new trade then would never be closed). title names
// the payment app ("Alipay", "WeChat Pay").
func Handler(gateway, title string, h payment.Host, code CodeFunc) http.Handler {
	p := &page{gateway: gateway, title: title, host: h, code: code}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /pay/"+gateway+"/qr/{order_no}", p.serve)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		p.render(w, http.StatusNotFound, view{Title: title, Message: "There is no such page."})
	})
	return mux
}

type page struct {
	gateway, title string
	host           payment.Host
	code           CodeFunc
}

type view struct {
	Title, Message  string
	OrderNo, Amount string
	Image           template.URL // data: URL of the PNG
	Link            string       // the code itself when it is an https URL the phone may open
	Order           string
	Late            bool
	RefreshSeconds  int
	TestMode        bool // the shop's sandbox is on: say so
}

func (p *page) serve(w http.ResponseWriter, r *http.Request) {
	orderNo, token := r.PathValue("order_no"), r.URL.Query().Get("token")
	if token == "" {
		p.fail(w, faka.Errorf(faka.EUnauthorized, "this link has no order token"))
		return
	}
	o, err := p.host.OrderForBuyer(r.Context(), orderNo, token)
	if err != nil {
		p.fail(w, err)
		return
	}
	if o.Gateway != p.gateway {
		// Another gateway's order: a trade here would be one the poller
		// never asks about nor closes.
		p.fail(w, faka.Errorf(faka.ENotFound, "this order is not paid with %s", p.title))
		return
	}
	orderURL := p.host.OrderURL(o.OrderNo, token)
	if o.Status.IsPaid() || o.Status == faka.StatusRefunded {
		http.Redirect(w, r, orderURL, http.StatusSeeOther)
		return
	}
	if o.Status != faka.StatusPending {
		// Expired or cancelled: no new trade, which nobody would close.
		p.render(w, http.StatusConflict, view{Title: p.title, Order: orderURL,
			Message: "This order is " + string(o.Status) + " and can no longer be paid. Please place a new order."})
		return
	}
	payload, err := p.code(r.Context(), o)
	if err != nil {
		p.fail(w, err)
		return
	}
	if payload == "" || len(payload) > maxCode {
		p.fail(w, faka.Errorf(faka.EUnavailable, "%s did not give a payment code; try again in a moment", p.title))
		return
	}
	png, err := qrcode.Encode(payload, qrcode.Medium, 256)
	if err != nil {
		p.fail(w, faka.Errorf(faka.EInternal, "qrpage: encode the code: %w", err))
		return
	}
	v := view{
		Title:          p.title,
		OrderNo:        o.OrderNo,
		Amount:         payment.FormatAmount(o.Amount, o.Currency),
		Image:          template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)),
		Order:          orderURL,
		RefreshSeconds: int(Refresh / time.Second),
	}
	if strings.HasPrefix(payload, "https://") {
		v.Link = payload
	}
	p.render(w, http.StatusOK, v)
}

func (p *page) fail(w http.ResponseWriter, err error) {
	p.render(w, payment.PageStatus(err), view{Title: p.title, Message: faka.ErrorMessage(err)})
}

func (p *page) render(w http.ResponseWriter, status int, v view) {
	v.TestMode = p.host.TestMode()
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", csp)
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer") // the URL holds the buyer's token
	w.WriteHeader(status)
	tmpl.Execute(w, v) // a failed write means the buyer went away
}

// style is the page's only CSS; the CSP allows exactly it by hash, images
// only as data: URLs, and no script.
const style = `body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222;text-align:center}
.amount{font-size:2rem;font-weight:600;margin:.5rem 0}
img{width:16rem;height:16rem;image-rendering:pixelated}
.note{color:#666;font-size:.9rem}
.testmode{background:#b00020;color:#fff;font-weight:600;padding:.6rem 1rem;border-radius:.3rem}`

var csp = "default-src 'none'; img-src data:; style-src 'sha256-" + styleHash() + "'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

func styleHash() string {
	sum := sha256.Sum256([]byte(style))
	return base64.StdEncoding.EncodeToString(sum[:])
}

var tmpl = template.Must(template.New("qr").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex">{{if .RefreshSeconds}}<meta http-equiv="refresh" content="{{.RefreshSeconds}}">{{end}}
<title>{{.Title}} · pay</title><style>` + style + `</style></head><body>
{{if .TestMode}}<p class="testmode" role="alert">TEST MODE: this shop's sandbox gateway is on. 测试模式：本店已开启沙盒支付。</p>{{end}}
<h1>{{.Title}}</h1>
{{if .Message}}<p>{{.Message}}</p>{{if .Order}}<p class="note"><a href="{{.Order}}">View the order</a></p>{{end}}{{else}}
<p>Order <code>{{.OrderNo}}</code></p>
<p class="amount">{{.Amount}}</p>
<p><img src="{{.Image}}" alt="QR code to scan with {{.Title}}"></p>
<p>Scan the code with {{.Title}} to pay. This page moves on by itself once the payment arrives.</p>
{{if .Link}}<p><a href="{{.Link}}">Open {{.Title}} on this phone</a></p>{{end}}
<p class="note"><a href="{{.Order}}">View the order</a></p>
{{end}}</body></html>
`))
