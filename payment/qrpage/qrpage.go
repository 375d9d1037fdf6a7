// Package qrpage is the page that shows a buyer the QR code to scan with a
// payment app (Alipay's precreate, WeChat Pay's Native code_url). Gateways
// that pay by QR code serve it from their Pages at
// /pay/{gateway}/qr/{order_no}?token=…: it shows the amount and the code,
// looks again every few seconds, and sends the buyer to the order once it
// is paid.
package qrpage

import (
	"bytes"
	"context"
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
// of that gateway, in the shop's layout and the visitor's language
// (h.Page, h.Printer): the code from code while the order is pending, a
// redirect to the order once it is paid, and no code once it has expired
// or been cancelled (a new trade then would never be closed). title names
// the payment app ("Alipay", "WeChat Pay").
func Handler(gateway, title string, h payment.Host, code CodeFunc) http.Handler {
	p := &page{gateway: gateway, title: title, host: h, code: code}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /pay/"+gateway+"/qr/{order_no}", p.serve)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		p.fail(w, r, faka.Errorf(faka.ENotFound, "there is no such page"))
	})
	return mux
}

type page struct {
	gateway, title string
	host           payment.Host
	code           CodeFunc
}

type view struct {
	L               payment.Printer
	App             string // the payment app's name
	Message         string
	OrderNo, Amount string
	Image           template.URL // data: URL of the PNG
	Link            string       // the code itself when it is an https URL the phone may open
	Order           string
}

func (p *page) serve(w http.ResponseWriter, r *http.Request) {
	orderNo, token := r.PathValue("order_no"), r.URL.Query().Get("token")
	if token == "" {
		p.fail(w, r, faka.Errorf(faka.EUnauthorized, "this link has no order token"))
		return
	}
	o, err := p.host.OrderForBuyer(r.Context(), orderNo, token)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if o.Gateway != p.gateway {
		// Another gateway's order: a trade here would be one the poller
		// never asks about nor closes.
		p.fail(w, r, faka.Errorf(faka.ENotFound, "this order is not paid with %s", p.title))
		return
	}
	orderURL := p.host.OrderURL(o.OrderNo, token)
	if o.Status.IsPaid() || o.Status == faka.StatusRefunded {
		http.Redirect(w, r, orderURL, http.StatusSeeOther)
		return
	}
	l := p.host.Printer(w, r)
	if o.Status != faka.StatusPending {
		// Expired or cancelled: no new trade, which nobody would close.
		p.render(w, r, http.StatusConflict, 0, view{L: l, App: p.title, Order: orderURL,
			Message: l.T("qr.closed", l.T("status."+string(o.Status)))})
		return
	}
	payload, err := p.code(r.Context(), o)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if payload == "" || len(payload) > maxCode {
		p.fail(w, r, faka.Errorf(faka.EUnavailable, "%s did not give a payment code; try again in a moment", p.title))
		return
	}
	png, err := qrcode.Encode(payload, qrcode.Medium, 256)
	if err != nil {
		p.fail(w, r, faka.Errorf(faka.EInternal, "qrpage: encode the code: %w", err))
		return
	}
	v := view{
		L:       l,
		App:     p.title,
		OrderNo: o.OrderNo,
		Amount:  payment.FormatAmount(o.Amount, o.Currency),
		Image:   template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)),
		Order:   orderURL,
	}
	if strings.HasPrefix(payload, "https://") {
		v.Link = payload
	}
	p.render(w, r, http.StatusOK, Refresh, v)
}

// fail shows err; internal details stay out of it. A provider's refusal
// (EUnavailable) is shown as the provider said it.
func (p *page) fail(w http.ResponseWriter, r *http.Request, err error) {
	l := p.host.Printer(w, r)
	p.render(w, r, payment.PageStatus(err), 0, view{L: l, App: p.title, Message: payment.PageErrorText(l, err)})
}

func (p *page) render(w http.ResponseWriter, r *http.Request, status int, refresh time.Duration, v view) {
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, v); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Referrer-Policy", "no-referrer") // the URL holds the buyer's token
	// html/template escaped the body.
	p.host.Page(w, r, status, payment.PageContent{Title: p.title, Body: template.HTML(buf.String()), Refresh: refresh})
}

var tmpl = template.Must(template.New("qr").Parse(`<div class="qrpay">
{{- if .Message}}
<p class="error" role="alert">{{.Message}}</p>
{{- else}}
<p>{{.L.T "qr.order"}} <code>{{.OrderNo}}</code></p>
<p class="amount">{{.Amount}}</p>
<p><img class="qr" src="{{.Image}}" width="256" height="256" alt="{{.L.T "qr.alt" .App}}"></p>
<p>{{.L.T "qr.scan" .App}}</p>
{{- if .Link}}
<p><a href="{{.Link}}">{{.L.T "qr.open" .App}}</a></p>
{{- end}}
{{- end}}
{{- if .Order}}
<p class="actions"><a class="button secondary" href="{{.Order}}">{{.L.T "qr.back"}}</a></p>
{{- end}}
</div>
`))
