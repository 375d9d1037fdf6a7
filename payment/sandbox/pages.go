package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
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
// to the order. Both are in the shop's layout and the visitor's language
// (h.Page, h.Printer). Like a real provider's closed trade, an order that
// is no longer pending (cancelled, expired, refunded, already paid) is not
// paid: the page says so and nothing changes.
func (g *Gateway) Pages(h payment.Host) http.Handler {
	p := &pages{host: h}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /pay/"+Name+"/{order_no}", p.payPage)
	mux.HandleFunc("POST /pay/"+Name+"/{order_no}/pay", p.pay)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		p.fail(w, r, faka.Errorf(faka.ENotFound, "there is no such page"))
	})
	return mux
}

type pages struct {
	host payment.Host
}

// payPage shows the amount and, while the order is pending, the Pay
// button; always a way back to the order.
func (p *pages) payPage(w http.ResponseWriter, r *http.Request) {
	orderNo, token := r.PathValue("order_no"), r.URL.Query().Get("token")
	o, err := p.order(r.Context(), orderNo, token)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.show(w, r, http.StatusOK, o, token)
}

// pay pays a pending order with a fresh trade number. Any other order is
// refused with 409 and the pay page's explanation; a double click on a
// paid order so makes no second payment.
func (p *pages) pay(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			err = faka.Errorf(faka.ETooLarge, "the form is too large")
		} else {
			err = faka.Errorf(faka.EBadRequest, "the form could not be read: %w", err)
		}
		p.fail(w, r, err)
		return
	}
	orderNo, token := r.PathValue("order_no"), r.PostForm.Get("token")
	o, err := p.order(r.Context(), orderNo, token)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if o.Status != faka.StatusPending {
		p.show(w, r, http.StatusConflict, o, token)
		return
	}
	n := faka.Notification{
		Gateway:  Name,
		OrderNo:  o.OrderNo,
		TradeNo:  newTradeNo(),
		Amount:   o.Amount,
		Currency: o.Currency,
	}
	if _, err := p.host.Confirm(r.Context(), n); err != nil {
		p.fail(w, r, err)
		return
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

// show writes the pay page of o with status.
func (p *pages) show(w http.ResponseWriter, r *http.Request, status int, o *faka.Order, token string) {
	l := p.host.Printer(w, r)
	v := payView{
		L:       l,
		OrderNo: o.OrderNo,
		Amount:  payment.FormatAmount(o.Amount, o.Currency),
		Payable: o.Status == faka.StatusPending,
		Action:  payPath(o.OrderNo) + "/pay",
		Left:    reservationLeft(o),
		Token:   token,
		Order:   p.host.OrderURL(o.OrderNo, token),
	}
	if !v.Payable {
		st := l.T("status." + string(o.Status))
		switch o.Status {
		case faka.StatusPaid, faka.StatusDelivered, faka.StatusPaidAwaitingStock:
			v.Closed = l.T("sandbox.paid", st)
		default: // cancelled, expired, refunded
			v.Closed = l.T("sandbox.closed", st)
		}
	}
	p.page(w, r, status, l.T("sandbox.title"), payTmpl, v)
}

// fail shows err as a page. Internal details stay out of it; the host logs
// the internal errors of its methods.
func (p *pages) fail(w http.ResponseWriter, r *http.Request, err error) {
	l := p.host.Printer(w, r)
	p.page(w, r, payment.PageStatus(err), l.T("sandbox.error"), messageTmpl, messageView{Text: payment.PageErrorText(l, err)})
}

// page renders t with data as the body of a page in the shop's layout.
func (p *pages) page(w http.ResponseWriter, r *http.Request, status int, title string, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	p.host.Page(w, r, status, payment.PageContent{Title: title, Body: template.HTML(buf.String())}) // html/template escaped it
}

type payView struct {
	L                    payment.Printer
	OrderNo, Amount      string
	Payable              bool
	Closed               string // why the order cannot be paid
	Action, Token, Order string
	Left                 string // time left to pay, "" when none
}

// reservationLeft says how long a pending order stays reserved, as m:ss
// at the time the page is made.
func reservationLeft(o *faka.Order) string {
	if o.Status != faka.StatusPending {
		return ""
	}
	left := max(time.Until(o.ReservedUntil), 0).Round(time.Second)
	return fmt.Sprintf("%d:%02d", int(left/time.Minute), int(left%time.Minute/time.Second))
}

type messageView struct{ Text string }

var payTmpl = template.Must(template.New("pay").Parse(`<p>{{.L.T "sandbox.order"}} <code>{{.OrderNo}}</code></p>
<p class="amount">{{.Amount}}</p>
{{- if .Payable}}
{{- if .Left}}
<p class="hint">{{.L.T "sandbox.within" .Left}}</p>
{{- end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="token" value="{{.Token}}">
<button type="submit">{{.L.T "sandbox.pay"}}</button>
</form>
<p class="hint">{{.L.T "sandbox.nomoney"}}</p>
{{- else}}
<p class="error" role="alert">{{.Closed}}</p>
{{- end}}
<p class="actions"><a class="button secondary" href="{{.Order}}">{{.L.T "sandbox.back"}}</a></p>
`))

var messageTmpl = template.Must(template.New("message").Parse(`<p>{{.Text}}</p>
`))
