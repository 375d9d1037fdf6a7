package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/faka-dev/faka"
)

// ordersPage is how many orders the console lists at once.
const ordersPage = 50

// orderRow is one order in the console's list.
type orderRow struct {
	*faka.Order
	Product    string
	AmountText string
	StatusText string
}

type ordersData struct {
	Q, Email, Status, From, To string
	Statuses                   []statusOption
	Rows                       []orderRow
	Older                      string
	Error                      string
}

type statusOption struct {
	Value, Text string
	Selected    bool
}

var allStatuses = []faka.OrderStatus{faka.StatusPending, faka.StatusPaid, faka.StatusDelivered, faka.StatusExpired,
	faka.StatusCancelled, faka.StatusPaidAwaitingStock, faka.StatusRefunded}

// adminOrders serves GET /admin/orders: search by number (prefix), email,
// status and the day created.
func (s *Server) adminOrders(w http.ResponseWriter, r *http.Request, p *page, _ *faka.Admin) {
	ctx := r.Context()
	q := r.URL.Query()
	d := ordersData{Q: strings.TrimSpace(q.Get("q")), Email: strings.TrimSpace(q.Get("email")),
		Status: q.Get("status"), From: q.Get("from"), To: q.Get("to")}
	oq := faka.OrderQuery{OrderNo: d.Q, Email: d.Email, Limit: ordersPage}
	if st := faka.OrderStatus(d.Status); st.Valid() {
		oq.Status = st
	} else {
		d.Status = ""
	}
	for _, st := range allStatuses {
		d.Statuses = append(d.Statuses, statusOption{Value: string(st), Text: p.L.T("status." + string(st)),
			Selected: string(st) == d.Status})
	}
	var ok bool
	if oq.From, ok = parseDay(d.From, p.Loc); !ok {
		d.Error = p.L.T("admin.orders.err.date")
	}
	to, ok := parseDay(d.To, p.Loc)
	if !ok {
		d.Error = p.L.T("admin.orders.err.date")
	} else if !to.IsZero() {
		oq.To = to.AddDate(0, 0, 1) // the whole day
	}
	oq.BeforeID, _ = strconv.ParseInt(q.Get("before"), 10, 64)
	if d.Error == "" {
		orders, err := s.shop.OrderSearch(ctx, oq)
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		names := s.productNames(r)
		for _, o := range orders {
			d.Rows = append(d.Rows, orderRow{Order: o, Product: names[o.ProductID],
				AmountText: formatMoney(o.Amount, o.Currency), StatusText: p.L.T("status." + string(o.Status))})
		}
		if len(orders) == ordersPage {
			next := url.Values{}
			for k, v := range q {
				next[k] = v
			}
			next.Set("before", strconv.FormatInt(orders[len(orders)-1].ID, 10))
			d.Older = "/admin/orders?" + next.Encode()
		}
	}
	p.Title = p.L.T("admin.orders.title")
	p.Data = d
	s.render(w, r, http.StatusOK, "admin/orders", p)
}

// parseDay reads a date field ("2006-01-02") as midnight in loc.
func parseDay(s string, loc *time.Location) (time.Time, bool) {
	if s = strings.TrimSpace(s); s == "" {
		return time.Time{}, true
	}
	t, err := time.ParseInLocation("2006-01-02", s, loc)
	return t, err == nil
}

// productNames maps product IDs to names, for lists.
func (s *Server) productNames(r *http.Request) map[int64]string {
	names := map[int64]string{}
	if views, err := s.engine.Products(r.Context(), false); err == nil {
		for _, v := range views {
			names[v.ID] = v.Name
		}
	}
	return names
}

type orderDetail struct {
	Order      *faka.Order
	Product    string
	AmountText string
	StatusText string
	Payments   []paymentRow
	Keys       []keyRow
	Ledger     []faka.LedgerEntry
	Refundable bool
	Deliver    bool // a paid manual order waiting for the merchant
	Cancelable bool
	Error      string
	Note       string
}

type paymentRow struct {
	*faka.Payment
	AmountText string
}

// adminOrder serves GET /admin/orders/{order_no}: the order with its
// payments, keys and ledger entries, and what can be done with it.
func (s *Server) adminOrder(w http.ResponseWriter, r *http.Request, p *page, _ *faka.Admin) {
	p.Flash = flash(p.L, r)
	s.showOrder(w, r, http.StatusOK, p, nil)
}

func (s *Server) showOrder(w http.ResponseWriter, r *http.Request, status int, p *page, revealed map[int64]string, errMsg ...string) {
	ctx := r.Context()
	o, err := s.engine.Order(ctx, r.PathValue("order_no"))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	d := orderDetail{Order: o, AmountText: formatMoney(o.Amount, o.Currency), StatusText: p.L.T("status." + string(o.Status)),
		Refundable: o.Status == faka.StatusPaid || o.Status == faka.StatusDelivered || o.Status == faka.StatusPaidAwaitingStock,
		Deliver:    o.Status == faka.StatusPaid && o.Delivery == faka.DeliveryManual,
		Cancelable: o.Status == faka.StatusPending}
	if len(errMsg) > 0 {
		d.Error = errMsg[0]
	}
	if prod, err := s.engine.Product(ctx, o.ProductID); err == nil {
		d.Product = prod.Name
	}
	pays, err := s.engine.Payments(ctx, o.ID)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	for _, pay := range pays {
		d.Payments = append(d.Payments, paymentRow{Payment: pay, AmountText: formatMoney(pay.Amount, pay.Currency)})
	}
	keys, err := s.shop.KeyList(ctx, faka.KeyFilter{OrderID: o.ID})
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	d.Keys = s.keyRows(p, keys, revealed)
	for i := range d.Keys {
		d.Keys[i].Voidable = false
	}
	if d.Ledger, err = s.shop.LedgerByOrder(ctx, o.ID); err != nil {
		s.pageError(w, r, err)
		return
	}
	p.Title = p.L.T("order.title", o.OrderNo)
	p.Data = d
	s.render(w, r, status, "admin/order", p)
}

// adminOrderRefund serves POST /admin/orders/{order_no}/refund through
// the engine: the order's keys become void, never sold again. The money
// goes back in the gateway's own console.
func (s *Server) adminOrderRefund(w http.ResponseWriter, r *http.Request, p *page, a *faka.Admin) {
	s.orderAction(w, r, p, "refunded", func() error {
		_, err := s.engine.RefundOrder(r.Context(), r.PathValue("order_no"))
		if err == nil {
			s.log.Info("web: order refunded in the console", "order_no", r.PathValue("order_no"), "admin_id", a.ID)
		}
		return err
	})
}

// adminOrderDeliver serves POST /admin/orders/{order_no}/deliver: the
// merchant fulfils a paid manual order with a note the buyer sees.
func (s *Server) adminOrderDeliver(w http.ResponseWriter, r *http.Request, p *page, _ *faka.Admin) {
	s.orderAction(w, r, p, "delivered", func() error {
		_, err := s.engine.DeliverManual(r.Context(), r.PathValue("order_no"), strings.ReplaceAll(r.PostForm.Get("note"), "\r\n", "\n"))
		return err
	})
}

// adminOrderCancel serves POST /admin/orders/{order_no}/cancel: a pending
// order gives its stock back.
func (s *Server) adminOrderCancel(w http.ResponseWriter, r *http.Request, p *page, _ *faka.Admin) {
	s.orderAction(w, r, p, "cancelled", func() error {
		_, err := s.engine.CancelOrder(r.Context(), r.PathValue("order_no"))
		return err
	})
}

// orderAction runs one change of an order and shows the order again: a
// refused change with its reason, a done one after a redirect.
func (s *Server) orderAction(w http.ResponseWriter, r *http.Request, p *page, done string, fn func() error) {
	if err := parseForm(w, r); err != nil {
		s.pageError(w, r, err)
		return
	}
	if err := fn(); err != nil {
		switch faka.ErrorCode(err) {
		case faka.EInvalid, faka.EInvalidState, faka.EConflict:
			s.showOrder(w, r, http.StatusConflict, p, nil, faka.ErrorMessage(err))
		default:
			s.pageError(w, r, err)
		}
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/admin/orders/%s?done=%s", url.PathEscape(r.PathValue("order_no")), done), http.StatusSeeOther)
}
