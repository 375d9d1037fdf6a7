package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/faka-dev/faka"
)

// rememberFor is how long a browser remembers the orders bought or looked
// up in it.
const rememberFor = 30 * 24 * time.Hour

// maxRemembered bounds the orders one browser lists.
const maxRemembered = 50

// orderURL is where a buyer sees an order: the storefront's order page
// when it is on, else the API's order view. Gateways send buyers here
// after paying.
func (s *Server) orderURL(orderNo, token string) string {
	if s.views == nil {
		return s.cfg.PublicURL + "/api/v1/orders/" + url.PathEscape(orderNo) + "?token=" + url.QueryEscape(token)
	}
	return s.cfg.PublicURL + "/orders/" + url.PathEscape(orderNo) + "?token=" + url.QueryEscape(token)
}

// remember adds an order to the browser's remembered orders: the cookie
// holds a random token, the database its hash and the order.
func (s *Server) remember(w http.ResponseWriter, r *http.Request, orderID int64) {
	token := ""
	if c, err := r.Cookie(s.cookieName(ordersCookie)); err == nil && validToken(c.Value) {
		token = c.Value
	} else {
		token = newToken()
	}
	if err := s.shop.LookupTokenAdd(r.Context(), hashToken(token), orderID, time.Now().Add(rememberFor)); err != nil {
		s.log.Warn("web: remember order", "err", err)
		return
	}
	s.setCookie(w, ordersCookie, token, rememberFor, http.SameSiteLaxMode)
	s.maybePurge(r.Context())
}

// remembered returns the orders this browser remembers.
func (s *Server) remembered(ctx context.Context, r *http.Request) ([]*faka.Order, error) {
	c, err := r.Cookie(s.cookieName(ordersCookie))
	if err != nil || !validToken(c.Value) {
		return nil, nil
	}
	return s.shop.LookupTokenOrders(ctx, hashToken(c.Value), maxRemembered)
}

// errNoBuyerOrder is the one answer, on every page, for an unknown order
// and for a proof that does not match.
var errNoBuyerOrder = faka.Errorf(faka.ENotFound, "no such order")

// buyerOrder returns the order named in the path for a buyer who proves
// it: the order token in ?token=, or this browser's remembered orders.
// It returns the token ("" when the cookie proved it).
//
// A view by token writes a lookup row only for a browser whose cookie
// already remembers some order (it got one at checkout or lookup, which
// are rate-limited) and not this one yet: a row per (browser, order),
// never one per view, and a script that sends no cookie or a made-up one
// writes nothing.
func (s *Server) buyerOrder(w http.ResponseWriter, r *http.Request) (*faka.Order, string, error) {
	orderNo := r.PathValue("order_no")
	orders, err := s.remembered(r.Context(), r)
	if err != nil {
		return nil, "", err
	}
	if token := r.URL.Query().Get("token"); token != "" {
		o, err := s.engine.OrderForBuyer(r.Context(), orderNo, token)
		if faka.ErrorCode(err) == faka.ENotFound {
			return nil, "", errNoBuyerOrder
		}
		if err != nil {
			return nil, "", err
		}
		if len(orders) > 0 && !slices.ContainsFunc(orders, func(x *faka.Order) bool { return x.ID == o.ID }) {
			s.remember(w, r, o.ID)
		}
		return o, token, nil
	}
	for _, o := range orders {
		if o.OrderNo == orderNo {
			return o, "", nil
		}
	}
	return nil, "", errNoBuyerOrder
}

// orderData is the order page.
type orderData struct {
	OrderNo     string
	Product     string
	Quantity    int
	Amount      string
	Status      faka.OrderStatus
	StatusText  string
	StatusNote  string
	Email       string
	Created     time.Time
	Pending     bool
	Deadline    int64  // Unix ms of the reservation's end
	Remaining   string // m:ss at rendering
	PayURL      string
	Keys        []string
	Note        string // a manual order's delivery note
	AllKeys     string // the keys, one per line, for "copy all"
	TxtURL      string
	ProductURL  string
	Rebuyable   bool
	ByCookie    bool
	TokenQuery  string // "?token=…" to keep on links, or ""
	RefreshSecs int
}

// orderPage serves GET /orders/{order_no}: the order's state, a countdown
// while it waits for payment, and the keys once delivered.
func (s *Server) orderPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	o, token, err := s.buyerOrder(w, r)
	if err != nil {
		l := s.cat.Printer(s.lang(w, r))
		if faka.ErrorCode(err) == faka.ENotFound {
			s.message(w, r, http.StatusNotFound, l.T("order.none.title"), l.T("order.none.text"),
				link{"/lookup", l.T("nav.lookup")})
			return
		}
		s.pageError(w, r, err)
		return
	}
	p := s.newPage(w, r, "")
	d := orderData{
		OrderNo:    o.OrderNo,
		Quantity:   o.Quantity,
		Amount:     formatMoney(o.Amount, o.Currency),
		Status:     o.Status,
		StatusText: p.L.T("status." + string(o.Status)),
		StatusNote: p.L.T("status." + string(o.Status) + ".note"),
		Email:      maskEmail(o.Email),
		Created:    o.CreatedAt,
		ProductURL: fmt.Sprintf("/products/%d", o.ProductID),
		ByCookie:   token == "",
	}
	if token != "" {
		d.TokenQuery = "?token=" + url.QueryEscape(token)
	}
	if prod, err := s.engine.Product(r.Context(), o.ProductID); err == nil {
		d.Product = prod.Name
		d.Rebuyable = prod.Active
	}
	switch o.Status {
	case faka.StatusPending:
		d.Pending = true
		d.Deadline = o.ReservedUntil.UnixMilli()
		left := max(time.Until(o.ReservedUntil), 0).Round(time.Second)
		d.Remaining = fmt.Sprintf("%d:%02d", int(left/time.Minute), int(left%time.Minute/time.Second))
		if token != "" {
			d.PayURL = s.payURL(r.Context(), o, token)
		}
		p.Refresh = 5
	case faka.StatusPaid, faka.StatusPaidAwaitingStock:
		p.Refresh = 30
	case faka.StatusDelivered:
		keys, err := s.engine.OrderKeys(r.Context(), o)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		if o.Delivery == faka.DeliveryManual {
			d.Note = strings.Join(keys, "\n")
		} else {
			d.Keys = keys
			d.AllKeys = strings.Join(keys, "\n")
			d.TxtURL = "/orders/" + url.PathEscape(o.OrderNo) + "/keys.txt" + d.TokenQuery
		}
	}
	d.RefreshSecs = p.Refresh
	p.Title = p.L.T("order.title", o.OrderNo)
	p.Data = d
	s.render(w, r, http.StatusOK, "order", p)
}

// orderKeysText serves GET /orders/{order_no}/keys.txt: the delivered
// keys, one per line, as a download.
func (s *Server) orderKeysText(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	o, _, err := s.buyerOrder(w, r)
	if err == nil && (o.Status != faka.StatusDelivered || o.Delivery == faka.DeliveryManual) {
		err = errNoBuyerOrder
	}
	var keys []string
	if err == nil {
		keys, err = s.engine.OrderKeys(r.Context(), o)
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="order-`+safeFileName(o.OrderNo)+`.txt"`)
	for _, k := range keys {
		fmt.Fprintln(w, k)
	}
}

// safeFileName keeps letters, digits, '-' and '_'.
func safeFileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// maskEmail shows enough of an address to recognise it: "al***@example.com".
func maskEmail(e string) string {
	at := strings.LastIndexByte(e, '@')
	if at < 0 {
		return "***"
	}
	local := []rune(e[:at])
	keep := min(2, len(local)/2)
	return string(local[:keep]) + "***" + e[at:]
}

// lookupData is the lookup page.
type lookupData struct {
	OrderNo string
	Error   string
	Orders  []rememberedOrder
}

type rememberedOrder struct {
	OrderNo    string
	Amount     string
	StatusText string
	Status     faka.OrderStatus
	Created    time.Time
}

// lookupPage serves GET /lookup: the form, and the orders this browser
// remembers.
func (s *Server) lookupPage(w http.ResponseWriter, r *http.Request) {
	s.showLookup(w, r, http.StatusOK, s.newPage(w, r, "/lookup"), lookupData{})
}

func (s *Server) showLookup(w http.ResponseWriter, r *http.Request, status int, p *page, d lookupData) {
	w.Header().Set("Cache-Control", "no-store")
	orders, err := s.remembered(r.Context(), r)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	for _, o := range orders {
		d.Orders = append(d.Orders, rememberedOrder{
			OrderNo: o.OrderNo, Amount: formatMoney(o.Amount, o.Currency),
			Status: o.Status, StatusText: p.L.T("status." + string(o.Status)), Created: o.CreatedAt,
		})
	}
	p.Title = p.L.T("lookup.title")
	p.Data = d
	s.render(w, r, status, "lookup", p)
}

// lookup serves POST /lookup: order number and the email address or the
// query password the order was placed with. A match remembers the order
// in this browser and opens it; anything else gets one answer, whether
// the order exists or not. Lookups are rate-limited per client and per
// order number, so neither numbers nor addresses can be guessed.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request) {
	p := s.newPage(w, r, "/lookup")
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	orderNo := strings.TrimSpace(r.PostForm.Get("order_no"))
	proof := strings.TrimSpace(r.PostForm.Get("proof"))
	d := lookupData{OrderNo: orderNo}
	if wait, ok := s.lookupIP.allow(s.clientKey(r)); !ok {
		s.pageRateLimited(w, r, wait)
		return
	}
	if orderNo == "" || proof == "" || len(orderNo) > 64 || len(proof) > faka.MaxEmailLength {
		d.Error = p.L.T("lookup.err.missing")
		s.showLookup(w, r, http.StatusUnprocessableEntity, p, d)
		return
	}
	if wait, ok := s.lookupOrder.allow(orderNo); !ok {
		s.pageRateLimited(w, r, wait)
		return
	}
	o, err := s.engine.Order(r.Context(), orderNo)
	if err != nil && faka.ErrorCode(err) != faka.ENotFound {
		s.pageError(w, r, err)
		return
	}
	if err != nil || !s.proves(o, proof) {
		d.Error = p.L.T("lookup.err.nomatch")
		s.showLookup(w, r, http.StatusNotFound, p, d)
		return
	}
	s.remember(w, r, o.ID)
	http.Redirect(w, r, "/orders/"+url.PathEscape(o.OrderNo), http.StatusSeeOther)
}

// proves reports whether proof opens the order: its query password when
// the buyer set one (then the email address alone, which others may
// know, does not), else its email address (any case), comparing in
// constant time.
func (s *Server) proves(o *faka.Order, proof string) bool {
	if len(o.QueryPasswordHash) > 0 {
		return s.engine.CheckQueryPassword(o, proof)
	}
	a := sha256.Sum256([]byte(strings.ToLower(proof)))
	b := sha256.Sum256([]byte(strings.ToLower(o.Email)))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// forget serves POST /lookup/forget: this browser forgets its orders.
func (s *Server) forget(w http.ResponseWriter, r *http.Request) {
	s.clearCookie(w, ordersCookie, http.SameSiteLaxMode)
	http.Redirect(w, r, "/lookup", http.StatusSeeOther)
}
