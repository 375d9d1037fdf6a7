package web

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment"
)

// notify serves POST /pay/{gateway}/notify, and GET for gateways whose
// providers notify by GET too: the gateway verifies the notification, the
// engine applies it once, and the gateway writes the reply its provider
// expects.
func (s *Server) notify(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("gateway")
	gw, ok := s.gateways.Get(name)
	if !ok {
		s.writeError(w, r, faka.Errorf(faka.ENotFound, "no gateway %q is enabled", name))
		return
	}
	if r.Method != http.MethodPost {
		if _, ok := gw.(payment.GetNotifier); !ok {
			w.Header().Set("Allow", http.MethodPost)
			writeJSON(w, http.StatusMethodNotAllowed, errorBody{errorDetail{"method_not_allowed", "notifications are POSTed"}})
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxNotifyBytes))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			err = faka.Errorf(faka.ETooLarge, "the notification is larger than %d bytes", maxNotifyBytes)
		} else {
			err = faka.Errorf(faka.EBadRequest, "the notification could not be read: %w", err)
		}
		s.metrics.notification(gw.Name(), "rejected")
		gw.Reject(w, err)
		return
	}
	n, err := gw.ParseNotification(r, body)
	if errors.Is(err, payment.ErrIgnored) {
		// Genuine, and states no payment: nothing to apply, and the
		// provider must stop resending it.
		s.metrics.notification(gw.Name(), "ignored")
		s.log.Debug("web: notification ignored", "gateway", gw.Name(), "reason", faka.ErrorMessage(err))
		gw.Acknowledge(w)
		return
	}
	if err != nil {
		s.metrics.notification(gw.Name(), "rejected")
		s.log.Debug("web: notification refused", "gateway", gw.Name(), "code", faka.ErrorCode(err))
		gw.Reject(w, err)
		return
	}
	n.Gateway = gw.Name() // a gateway speaks for itself only
	if _, err := s.confirm(r.Context(), n); err != nil {
		gw.Reject(w, err)
		return
	}
	gw.Acknowledge(w)
}

// confirm applies a verified notification and counts the outcome. Every
// payment goes through here: notifications and the gateways' own pages.
func (s *Server) confirm(ctx context.Context, n faka.Notification) (*faka.ConfirmResult, error) {
	res, err := s.engine.ConfirmPayment(ctx, n)
	switch code := faka.ErrorCode(err); {
	case err == nil && res.Duplicate:
		s.metrics.notification(n.Gateway, "duplicate")
	case err == nil:
		s.metrics.notification(n.Gateway, "applied")
	case code == faka.EInternal || code == faka.EUnavailable:
		s.metrics.notification(n.Gateway, "error")
		if !errors.Is(err, context.Canceled) {
			s.log.Error("web: confirm payment", "gateway", n.Gateway, "order_no", n.OrderNo, "err", err)
		}
	default:
		s.metrics.notification(n.Gateway, "rejected")
	}
	return res, err
}

// gatewayPage serves /pay/{gateway}/… other than POST notify with the
// gateway's own pages.
func (s *Server) gatewayPage(w http.ResponseWriter, r *http.Request) {
	gw, ok := s.gateways.Get(r.PathValue("gateway"))
	if !ok {
		s.writeError(w, r, faka.Errorf(faka.ENotFound, "no gateway %q is enabled", r.PathValue("gateway")))
		return
	}
	if r.PathValue("rest") == "notify" {
		w.Header().Set("Allow", http.MethodPost)
		if _, ok := gw.(payment.GetNotifier); ok {
			w.Header().Set("Allow", "GET, HEAD, POST")
		}
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{errorDetail{"method_not_allowed", "notifications are POSTed"}})
		return
	}
	pg, ok := gw.(payment.PageGateway)
	if !ok {
		s.writeError(w, r, faka.Errorf(faka.ENotFound, "no such page"))
		return
	}
	s.gatewayPages(pg).ServeHTTP(w, r)
}

// gatewayPages is a page gateway and the handler of its pages.
type gatewayPages struct {
	gw payment.PageGateway
	h  http.Handler
}

// gatewayPages returns the handler of pg's pages, made once per gateway.
// A registry may replace the gateway of a name with one of new settings,
// whose pages are new too; the old one's are dropped with it.
func (s *Server) gatewayPages(pg payment.PageGateway) http.Handler {
	s.pagesMu.Lock()
	defer s.pagesMu.Unlock()
	gp, ok := s.pages[pg.Name()]
	if !ok || gp.gw != pg {
		if s.pages == nil {
			s.pages = map[string]gatewayPages{}
		}
		gp = gatewayPages{gw: pg, h: pg.Pages(host{s})}
		s.pages[pg.Name()] = gp
	}
	return gp.h
}

// host is the payment.Host the gateways' pages use.
type host struct{ s *Server }

var _ payment.Host = host{}

// OrderForBuyer returns the order when token is its buyer token.
func (h host) OrderForBuyer(ctx context.Context, orderNo, token string) (*faka.Order, error) {
	o, err := h.s.engine.OrderForBuyer(ctx, orderNo, token)
	switch faka.ErrorCode(err) {
	case "":
		return o, nil
	case faka.ENotFound:
		return nil, errNoOrder
	case faka.EInternal:
		if !errors.Is(err, context.Canceled) {
			h.s.log.Error("web: order for buyer", "order_no", orderNo, "err", err)
		}
	}
	return nil, err
}

// Confirm applies a verified notification like one received at notify.
func (h host) Confirm(ctx context.Context, n faka.Notification) (*faka.ConfirmResult, error) {
	return h.s.confirm(ctx, n)
}

// OrderURL is where the buyer sees the order.
func (h host) OrderURL(orderNo, token string) string { return h.s.orderURL(orderNo, token) }

// TestMode reports whether the sandbox (a test gateway) is enabled.
func (h host) TestMode() bool { return h.s.gateways.TestMode() }
