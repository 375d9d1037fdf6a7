package web

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/faka-dev/faka/engine"
	"github.com/faka-dev/faka/payment"
)

// emailLimitedError is checkout's answer when the buyer's email has made
// too many orders lately; Wait is when the next is allowed.
type emailLimitedError struct{ Wait time.Duration }

func (e *emailLimitedError) Error() string { return "too many orders for this email address" }

// payURLError is checkout's answer when the order was reserved but its
// gateway could not give a pay URL; the order has been cancelled (unless
// it was a replay).
type payURLError struct{ Err error }

func (e *payURLError) Error() string { return "pay URL: " + e.Err.Error() }
func (e *payURLError) Unwrap() error { return e.Err }

// checkout is the one path of an order, whether it came from the API or
// the storefront's form: the per-email limit, the engine's reservation,
// and the gateway's pay URL. It counts the outcome in the metrics except
// for the errors its callers render (they count those with orderOutcome).
func (s *Server) checkout(ctx context.Context, req engine.ReserveRequest, gw payment.Gateway) (*engine.Reservation, string, error) {
	if wait, ok := s.mailLim.allow(strings.ToLower(req.Email)); !ok {
		return nil, "", &emailLimitedError{Wait: wait}
	}
	start := time.Now()
	res, err := s.engine.Reserve(ctx, req)
	s.metrics.reserveSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		return nil, "", err
	}
	payURL, err := s.payURLOrCancel(ctx, gw, res)
	if err != nil {
		return nil, "", &payURLError{Err: err}
	}
	if res.Replayed {
		s.metrics.order("replayed")
	} else {
		s.metrics.order("created")
	}
	return res, payURL, nil
}

// payURLOrCancel asks the gateway for the order's pay URL; when it
// cannot give one, a new order is cancelled at once so that its stock goes
// back on sale.
func (s *Server) payURLOrCancel(ctx context.Context, gw payment.Gateway, res *engine.Reservation) (string, error) {
	u, err := gw.PayURL(ctx, res.Order, res.Token)
	if err == nil {
		return u, nil
	}
	s.metrics.order("error")
	if !res.Replayed {
		if _, cerr := s.engine.CancelOrder(ctx, res.Order.OrderNo); cerr != nil {
			s.log.Error("web: cancel order after pay URL failure", "order_no", res.Order.OrderNo, "err", cerr)
		}
	}
	return "", err
}

// asEmailLimited reports err's wait when it is an emailLimitedError.
func asEmailLimited(err error) (time.Duration, bool) {
	var e *emailLimitedError
	if errors.As(err, &e) {
		return e.Wait, true
	}
	return 0, false
}

// asPayURL returns the gateway's error when err is a payURLError.
func asPayURL(err error) (error, bool) {
	var e *payURLError
	if errors.As(err, &e) {
		return e.Err, true
	}
	return nil, false
}
