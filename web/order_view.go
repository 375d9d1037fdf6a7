package web

import (
	"context"
	"net/http"

	"github.com/faka-dev/faka"
)

// orderFor returns the order named in the path for the admin or for the
// buyer holding its token. No token is 401; a wrong token and an unknown
// order are the same 404, so order numbers cannot be enumerated.
func (s *Server) orderFor(r *http.Request) (o *faka.Order, token string, admin bool, err error) {
	orderNo := r.PathValue("order_no")
	if s.isAdmin(r) {
		o, err = s.engine.Order(r.Context(), orderNo)
		return o, "", true, err
	}
	token = buyerToken(r)
	if token == "" {
		return nil, "", false, faka.Errorf(faka.EUnauthorized, "send the order token as X-Order-Token or ?token=")
	}
	o, err = s.engine.OrderForBuyer(r.Context(), orderNo, token)
	if faka.ErrorCode(err) == faka.ENotFound {
		err = errNoOrder
	}
	return o, token, false, err
}

// errNoOrder is the one answer for an unknown order and a wrong token.
var errNoOrder = &faka.Error{Code: faka.ENotFound, Message: "No such order, or the token does not match."}

// getOrder serves GET /api/v1/orders/{order_no}.
func (s *Server) getOrder(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	o, token, admin, err := s.orderFor(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeOrder(w, r, http.StatusOK, o, token, admin)
}

// cancelOrder serves POST /api/v1/orders/{order_no}/cancel for the buyer
// or the admin: a pending order gives its stock back.
func (s *Server) cancelOrder(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	o, token, admin, err := s.orderFor(r)
	if err == nil {
		o, err = s.engine.CancelOrder(r.Context(), o.OrderNo)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeOrder(w, r, http.StatusOK, o, token, admin)
}

// refundOrder serves POST /api/v1/orders/{order_no}/refund (admin). The
// money goes back through the gateway's console; this voids the keys.
func (s *Server) refundOrder(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	o, err := s.engine.RefundOrder(r.Context(), r.PathValue("order_no"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeOrder(w, r, http.StatusOK, o, "", true)
}

// deliverOrder serves POST /api/v1/orders/{order_no}/deliver {"note": …}
// (admin): the merchant fulfils a paid manual order.
func (s *Server) deliverOrder(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	var req struct {
		Note string `json:"note"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	o, err := s.engine.DeliverManual(r.Context(), r.PathValue("order_no"), req.Note)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeOrder(w, r, http.StatusOK, o, "", true)
}

// writeOrder writes o with its keys once delivered (for a manual order,
// the merchant's note). The buyer of a pending order also gets the pay
// URL back. Keys shown to the admin are logged in the key audit first,
// as the console logs a reveal.
func (s *Server) writeOrder(w http.ResponseWriter, r *http.Request, status int, o *faka.Order, token string, admin bool) {
	out := orderJSON{
		OrderNo:     o.OrderNo,
		Status:      o.Status,
		ProductID:   o.ProductID,
		Quantity:    o.Quantity,
		Amount:      o.Amount,
		Currency:    o.Currency,
		Email:       o.Email,
		Gateway:     o.Gateway,
		CreatedAt:   timeString(o.CreatedAt),
		ExpiresAt:   timeString(o.ReservedUntil),
		PaidAt:      timeString(o.PaidAt),
		DeliveredAt: timeString(o.DeliveredAt),
		Keys:        []string{},
	}
	if o.Status == faka.StatusDelivered {
		keys, err := s.engine.OrderKeys(r.Context(), o)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if admin && len(keys) > 0 && o.Delivery != faka.DeliveryManual {
			if err := s.auditAPIReveal(r, o, len(keys)); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		if keys != nil {
			out.Keys = keys
		}
	}
	if o.Status == faka.StatusPending && token != "" {
		out.PayURL = s.payURL(r.Context(), o, token)
	}
	writeJSON(w, status, out)
}

// payURL returns the pay URL of a pending order, or "" when its gateway
// is gone or failing; the order view works without it.
func (s *Server) payURL(ctx context.Context, o *faka.Order, token string) string {
	gw, ok := s.gateways.Get(o.Gateway)
	if !ok {
		return ""
	}
	u, err := gw.PayURL(ctx, o, token)
	if err != nil {
		s.log.Warn("web: pay URL", "gateway", o.Gateway, "order_no", o.OrderNo, "err", err)
		return ""
	}
	return u
}

// auditAPIReveal logs that the admin API showed an order's n keys: the
// console's reveal entry, without an account (the API's token has none).
func (s *Server) auditAPIReveal(r *http.Request, o *faka.Order, n int) error {
	ip := s.clientIP(r).String()
	s.log.Info("web: keys revealed through the admin API", "order_no", o.OrderNo, "product_id", o.ProductID, "keys", n, "ip", ip)
	if s.shop == nil {
		return nil // API only: no audit log to write to, the log line stands
	}
	return s.shop.KeyAuditAdd(r.Context(), &faka.KeyAudit{ProductID: o.ProductID, Action: faka.AuditReveal, Count: n, IP: ip})
}
