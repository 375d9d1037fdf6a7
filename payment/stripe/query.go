package stripe

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	stripeapi "github.com/stripe/stripe-go/v85"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment"
)

// apiError codes an error of a Stripe API call. Stripe's own messages
// name no secret (a key is shown masked), but the reply to a refused key
// is replaced all the same.
func apiError(op string, err error) error {
	var se *stripeapi.Error
	if !errors.As(err, &se) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return faka.Errorf(faka.EUnavailable, "stripe: %s: %w", op, err)
		}
		// A network error: its text names the URL, which holds no secret.
		return faka.Errorf(faka.EUnavailable, "stripe: %s: the Stripe API did not answer: %w", op, err)
	}
	switch st := se.HTTPStatusCode; {
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		return faka.Errorf(faka.EUnavailable, "stripe: %s: Stripe refused the secret key (HTTP %d); check secret_key", op, st)
	case st == http.StatusTooManyRequests || st >= 500 || st == 0:
		return faka.Errorf(faka.EUnavailable, "stripe: %s: HTTP %d %s", op, st, se.Msg)
	case se.Type == stripeapi.ErrorTypeIdempotency || st == http.StatusConflict:
		return faka.Errorf(faka.EConflict, "stripe: %s: %s", op, se.Msg)
	case st == http.StatusNotFound:
		return faka.Errorf(faka.ENotFound, "stripe: %s: %s", op, se.Msg)
	}
	return faka.Errorf(faka.EInvalid, "stripe: %s: %s", op, se.Msg)
}

// searchable reports whether an order number can be put in a search
// query as it is (faka's are digits).
func searchable(orderNo string) bool {
	if orderNo == "" || len(orderNo) > MaxOrderNoLength {
		return false
	}
	for i := 0; i < len(orderNo); i++ {
		c := orderNo[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Query asks Stripe whether order orderNo was paid, for notifications
// that never came. A Checkout Session cannot be listed by
// client_reference_id or metadata and no session id is stored, so it
// searches PaymentIntents (GET /v1/payment_intents/search) for
// metadata['order_no']:'<no>' AND status:'succeeded': PayURL puts the
// order number on the PaymentIntent too, and the PaymentIntent's id is
// the trade number a notification states, so a payment found both ways
// is applied once.
//
// Limits of Stripe's search: it is eventually consistent (a payment is
// usually searchable within a minute, later during an outage at Stripe),
// so a fresh payment may not be found yet, which only means the poller
// finds it next time; search is not offered to accounts in India; a
// restricted key needs read access to PaymentIntents.
func (g *Gateway) Query(ctx context.Context, orderNo string) (faka.Notification, bool, error) {
	if !searchable(orderNo) {
		return faka.Notification{}, false, faka.Errorf(faka.EInvalid, "stripe: query: order number %q cannot be searched for", orderNo)
	}
	p := &stripeapi.PaymentIntentSearchParams{}
	p.Query = "metadata['" + MetadataOrderNo + "']:'" + orderNo + "' AND status:'succeeded'"
	p.Limit = stripeapi.Int64(10)
	p.Single = true // one page: more than ten payments of one order is no lost notification
	for pi, err := range g.client.V1PaymentIntents.Search(ctx, p).All(ctx) {
		if err != nil {
			return faka.Notification{}, false, apiError("query order "+orderNo, err)
		}
		if n, ok := g.paidIntent(pi, orderNo); ok {
			return n, true, nil
		}
	}
	return faka.Notification{}, false, nil
}

// paidIntent states the payment of a PaymentIntent that search returned
// for orderNo, checking what search matched rather than trusting it.
func (g *Gateway) paidIntent(pi *stripeapi.PaymentIntent, orderNo string) (faka.Notification, bool) {
	if pi == nil || pi.Status != stripeapi.PaymentIntentStatusSucceeded || pi.Metadata[MetadataOrderNo] != orderNo ||
		pi.Livemode != g.live || !payment.Printable(pi.ID, MaxIDLength) {
		return faka.Notification{}, false
	}
	cur := string(pi.Currency)
	if len(cur) != 3 || cur != strings.ToLower(cur) {
		return faka.Notification{}, false
	}
	cur = strings.ToUpper(cur)
	minor, err := FromStripe(pi.AmountReceived, cur)
	if err != nil {
		return faka.Notification{}, false
	}
	return faka.Notification{Gateway: Name, OrderNo: orderNo, TradeNo: pi.ID, Amount: minor, Currency: cur}, true
}

// maxScan bounds the Checkout Sessions CloseTrade looks through for an
// order's when it has none in memory.
const maxScan = 300

// CloseTrade expires the open Checkout Session of order orderNo, so that
// the buyer cannot pay an order whose reservation has ended.
//
// No session id is stored, and Stripe neither lists sessions by
// client_reference_id nor searches them. The session is found from
// memory when this instance asked for it (the usual case: one instance,
// not restarted since; the idempotency key gives every instance that
// asks for the order's pay URL the same session); otherwise among the newest sessions of the last 25
// hours (every session expires within 24 hours), at most 300 of them,
// matched on client_reference_id and metadata order_no. The poller calls
// CloseTrade soon after the order expires, so its session is among the
// newest unless hundreds were made meanwhile; one not found stays open
// until its expires_at (see SessionExpiry), and a payment made there is
// a late payment.
//
// A session already expired, or none found, is not an error; a completed
// one is an EConflict error: the order was paid (or its payment is being
// processed) meanwhile.
func (g *Gateway) CloseTrade(ctx context.Context, orderNo string) error {
	if !payment.Printable(orderNo, MaxOrderNoLength) {
		return faka.Errorf(faka.EInvalid, "stripe: close: malformed order number %q", orderNo)
	}
	if id, ok := g.sessionID(orderNo); ok {
		err := g.expire(ctx, orderNo, id)
		if code := faka.ErrorCode(err); code == "" || code == faka.EConflict {
			g.forget(orderNo)
		}
		return err
	}
	p := &stripeapi.CheckoutSessionListParams{
		CreatedRange: &stripeapi.RangeQueryParams{GreaterThanOrEqual: g.now().Add(-maxSessionLife - time.Hour).Unix()},
	}
	p.Limit = stripeapi.Int64(100)
	var open []string
	var conflict error
	seen := 0
	for s, err := range g.client.V1CheckoutSessions.List(ctx, p).All(ctx) {
		if err != nil {
			return apiError("close order "+orderNo+": list Checkout Sessions", err)
		}
		if seen++; seen > maxScan {
			break
		}
		if s == nil || s.ClientReferenceID != orderNo || s.Metadata[MetadataOrderNo] != orderNo {
			continue
		}
		switch s.Status {
		case stripeapi.CheckoutSessionStatusOpen:
			open = append(open, s.ID)
		case stripeapi.CheckoutSessionStatusComplete:
			conflict = completed(orderNo, s)
		}
	}
	for _, id := range open {
		if err := g.expire(ctx, orderNo, id); err != nil {
			return err
		}
	}
	return conflict
}

// expire expires Checkout Session id of order orderNo. One that is no
// longer open is looked at: expired or unknown is fine, completed is an
// EConflict error.
func (g *Gateway) expire(ctx context.Context, orderNo, id string) error {
	_, err := g.client.V1CheckoutSessions.Expire(ctx, id, nil)
	if err == nil {
		return nil
	}
	var se *stripeapi.Error
	if !errors.As(err, &se) || (se.HTTPStatusCode != http.StatusBadRequest && se.HTTPStatusCode != http.StatusNotFound) {
		return apiError("close order "+orderNo+": expire Checkout Session "+id, err)
	}
	// Not open any more, or unknown: which?
	s, gerr := g.client.V1CheckoutSessions.Retrieve(ctx, id, nil)
	switch {
	case gerr != nil && errors.As(gerr, &se) && se.HTTPStatusCode == http.StatusNotFound:
		return nil
	case gerr != nil:
		return apiError("close order "+orderNo+": retrieve Checkout Session "+id, gerr)
	case s.Status == stripeapi.CheckoutSessionStatusExpired:
		return nil
	case s.Status == stripeapi.CheckoutSessionStatusComplete:
		return completed(orderNo, s)
	}
	return apiError("close order "+orderNo+": expire Checkout Session "+id, err)
}

func completed(orderNo string, s *stripeapi.CheckoutSession) error {
	if s.PaymentStatus == stripeapi.CheckoutSessionPaymentStatusPaid {
		return faka.Errorf(faka.EConflict, "stripe: order %s was paid through Checkout Session %s", orderNo, s.ID)
	}
	return faka.Errorf(faka.EConflict, "stripe: the buyer of order %s completed Checkout Session %s; the payment is processing", orderNo, s.ID)
}
