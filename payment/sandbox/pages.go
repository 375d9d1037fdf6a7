package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment"
)

// maxFormBytes bounds the pay form: it carries only the token.
const maxFormBytes = 4 << 10

func payPath(orderNo string) string { return "/pay/" + Name + "/" + url.PathEscape(orderNo) }

// Pages serves the pay page GET /pay/sandbox/{order_no}?token=… and its
// form POST /pay/sandbox/{order_no}/pay, which pays the order through
// h.Confirm, the path every real notification takes, then sends the buyer
// to the order.
func (g *Gateway) Pages(h payment.Host) http.Handler {
	p := &pages{host: h}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /pay/"+Name+"/{order_no}", p.payPage)
	mux.HandleFunc("POST /pay/"+Name+"/{order_no}/pay", p.pay)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		p.message(w, http.StatusNotFound, "Not found", "There is no such page.")
	})
	return mux
}

type pages struct {
	host payment.Host
}

// payPage shows the amount and the Pay button.
func (p *pages) payPage(w http.ResponseWriter, r *http.Request) {
	orderNo, token := r.PathValue("order_no"), r.URL.Query().Get("token")
	o, err := p.order(r.Context(), orderNo, token)
	if err != nil {
		p.fail(w, err)
		return
	}
	p.render(w, http.StatusOK, payTmpl, payView{
		OrderNo: o.OrderNo,
		Amount:  payment.FormatAmount(o.Amount, o.Currency),
		Status:  string(o.Status),
		Payable: !o.Status.IsPaid(),
		Late:    o.Status == faka.StatusExpired || o.Status == faka.StatusCancelled,
		Action:  payPath(o.OrderNo) + "/pay",
		Left:    reservationLeft(o),
		Token:   token,
		Order:   p.host.OrderURL(o.OrderNo, token),
	})
}

// pay pays the order with a fresh trade number. An order already paid is
// not paid again: a double click must not make a second payment.
func (p *pages) pay(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			err = faka.Errorf(faka.ETooLarge, "the form is too large")
		} else {
			err = faka.Errorf(faka.EBadRequest, "the form could not be read: %w", err)
		}
		p.fail(w, err)
		return
	}
	orderNo, token := r.PathValue("order_no"), r.PostForm.Get("token")
	o, err := p.order(r.Context(), orderNo, token)
	if err != nil {
		p.fail(w, err)
		return
	}
	if !o.Status.IsPaid() {
		n := faka.Notification{
			Gateway:  Name,
			OrderNo:  o.OrderNo,
			TradeNo:  newTradeNo(),
			Amount:   o.Amount,
			Currency: o.Currency,
		}
		if _, err := p.host.Confirm(r.Context(), n); err != nil {
			p.fail(w, err)
			return
		}
	}
	http.Redirect(w, r, p.host.OrderURL(o.OrderNo, token), http.StatusSeeOther)
}

func (p *pages) order(ctx context.Context, orderNo, token string) (*faka.Order, error) {
	if token == "" {
		return nil, faka.Errorf(faka.EUnauthorized, "this link has no order token")
	}
	return p.host.OrderForBuyer(ctx, orderNo, token)
}

// newTradeNo returns a fresh random trade number.
func newTradeNo() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand panics rather than return an error)
	return "SBX" + hex.EncodeToString(b)
}

// fail shows err as a page. Internal details stay out of it; the host logs
// the internal errors of its methods.
func (p *pages) fail(w http.ResponseWriter, err error) {
	status := payment.PageStatus(err)
	p.message(w, status, http.StatusText(status), faka.ErrorMessage(err))
}

func (p *pages) message(w http.ResponseWriter, status int, title, text string) {
	p.render(w, status, messageTmpl, messageView{Title: title, Text: text})
}

func (p *pages) render(w http.ResponseWriter, status int, t *template.Template, data any) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	t.Execute(w, data) // a failed write means the buyer went away
}

type payView struct {
	OrderNo, Amount, Status string
	Payable, Late           bool
	Action, Token, Order    string
	Left                    string // time left to pay, "" when none
}

// reservationLeft says how long a pending order stays reserved, as m:ss
// at the time the page is made (the page has no script to count down).
func reservationLeft(o *faka.Order) string {
	if o.Status != faka.StatusPending {
		return ""
	}
	left := max(time.Until(o.ReservedUntil), 0).Round(time.Second)
	return fmt.Sprintf("%d:%02d", int(left/time.Minute), int(left%time.Minute/time.Second))
}

type messageView struct{ Title, Text string }

// style is the pages' only CSS. The CSP allows exactly it by hash, so no
// other inline style or any script can run.
const style = `body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem;color:#222}
.amount{font-size:2rem;font-weight:600;margin:.5rem 0 1.5rem}
button{font-size:1.1rem;padding:.6rem 2rem;cursor:pointer}
.note{color:#666;font-size:.9rem}
.testmode{background:#b00020;color:#fff;font-weight:600;padding:.6rem 1rem;border-radius:.3rem}`

var pageCSP = "default-src 'none'; style-src 'sha256-" + styleHash() + "'; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'"

func styleHash() string {
	sum := sha256.Sum256([]byte(style))
	return base64.StdEncoding.EncodeToString(sum[:])
}

const layout = `{{define "top"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>{{.}} · sandbox payment</title><style>` + style + `</style></head><body>
<p class="testmode" role="alert">TEST MODE: the sandbox gateway moves no money. 测试模式：沙盒支付不产生真实付款。</p>
{{end}}{{define "bottom"}}</body></html>
{{end}}`

var payTmpl = template.Must(template.New("pay").Parse(layout + `{{template "top" "Pay"}}
<h1>Sandbox payment</h1>
<p>Order <code>{{.OrderNo}}</code></p>
<p class="amount">{{.Amount}}</p>
{{if .Left}}<p class="note">Pay within {{.Left}} (min:sec), while the order is reserved.</p>{{end}}
{{if .Payable}}{{if .Late}}<p class="note">This order is {{.Status}}. Paying now is a late payment: you get keys if any are left, otherwise a backorder.</p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="token" value="{{.Token}}">
<button type="submit">Pay</button>
</form>
<p class="note">This is the sandbox gateway: no money moves.</p>
{{else}}<p>This order is already paid ({{.Status}}).</p>
<p><a href="{{.Order}}">View the order</a></p>
{{end}}{{template "bottom"}}`))

var messageTmpl = template.Must(template.New("message").Parse(layout + `{{template "top" .Title}}
<h1>{{.Title}}</h1>
<p>{{.Text}}</p>
{{template "bottom"}}`))
