package stripe

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	stripeapi "github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment"
)

// ErrIgnored is payment.ErrIgnored: it marks a genuine event that states
// no payment of this shop (another type of event, a session that is not
// faka's — the Stripe account may serve other sites too —, a checkout
// completed with a payment still processing). Nothing is confirmed, and
// the event is answered 200 so that Stripe does not retry it for days and
// then disable the endpoint.
var ErrIgnored = payment.ErrIgnored

func ignored(format string, args ...any) error { return payment.Ignored(format, args...) }

// session is what a notification's Checkout Session says, read with
// types of our own: the fields used have kept their meaning across
// Stripe's API versions, so the event may be of any version (the
// endpoint's, chosen in the Dashboard), not only the library's.
type session struct {
	Object             string            `json:"object"`
	ID                 string            `json:"id"`
	Mode               string            `json:"mode"`
	PaymentStatus      string            `json:"payment_status"`
	AmountTotal        *int64            `json:"amount_total"`
	Currency           string            `json:"currency"`
	ClientReferenceID  string            `json:"client_reference_id"`
	Metadata           map[string]string `json:"metadata"`
	PaymentIntent      json.RawMessage   `json:"payment_intent"` // an id, an expanded object, or null
	CurrencyConversion *struct {
		AmountTotal    *int64 `json:"amount_total"`
		SourceCurrency string `json:"source_currency"`
	} `json:"currency_conversion"`
}

// ParseNotification verifies the Stripe-Signature header over the body
// with the endpoint's signing secret (and that it is at most five minutes
// old), then reads the event. Only a paid Checkout Session of this shop
// in a checkout.session.completed or async_payment_succeeded event is a
// Notification; a genuine event that states nothing for this shop is an
// error wrapping ErrIgnored. Nothing but the signature is looked at
// before it verifies.
func (g *Gateway) ParseNotification(r *http.Request, body []byte) (faka.Notification, error) {
	ev, err := webhook.ConstructEventWithOptions(body, r.Header.Get(SignatureHeader), g.webhookSecret,
		webhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true})
	if err != nil {
		return faka.Notification{}, signatureError(err)
	}
	return g.notification(&ev)
}

// signatureError codes an error of webhook.ConstructEvent.
func signatureError(err error) error {
	switch {
	case errors.Is(err, webhook.ErrNotSigned):
		return faka.Errorf(faka.EUnauthorized, "the %s header is missing", SignatureHeader)
	case errors.Is(err, webhook.ErrInvalidHeader):
		return faka.Errorf(faka.EUnauthorized, "the %s header is malformed", SignatureHeader)
	case errors.Is(err, webhook.ErrNoValidSignature):
		return faka.Errorf(faka.EUnauthorized, "the signature does not verify")
	case errors.Is(err, webhook.ErrTooOld):
		return faka.Errorf(faka.EUnauthorized, "the signature is older than %s", webhook.DefaultTolerance)
	}
	// Signed, but not an event that can be read.
	return faka.Errorf(faka.EBadRequest, "malformed event: %w", err)
}

// notification checks a verified event and states its payment.
func (g *Gateway) notification(ev *stripeapi.Event) (faka.Notification, error) {
	if ev.Livemode != g.live {
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "a %s event for %s keys: the webhook secret is another mode's endpoint's",
			modeName(ev.Livemode), modeName(g.live))
	}
	switch string(ev.Type) {
	case EventCompleted, EventAsyncSucceeded:
	default:
		return faka.Notification{}, ignored("event type %q states no payment", ev.Type)
	}
	if ev.Data == nil || len(ev.Data.Raw) == 0 {
		return faka.Notification{}, faka.Errorf(faka.EBadRequest, "the event has no data.object")
	}
	var s session
	if err := json.Unmarshal(ev.Data.Raw, &s); err != nil {
		return faka.Notification{}, faka.Errorf(faka.EBadRequest, "malformed Checkout Session: %w", err)
	}
	if s.Object != "checkout.session" {
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "a %s event about a %q object", ev.Type, s.Object)
	}
	orderNo := s.Metadata[MetadataOrderNo]
	switch {
	case orderNo == "" || s.ClientReferenceID == "":
		// faka sets both on every session it makes. A session with
		// either missing is another integration's on the same account
		// (client_reference_id is Stripe's generic field, and order_no a
		// common metadata key): it is acknowledged, or Stripe would
		// resend it for days and then disable the endpoint.
		return faka.Notification{}, ignored("Checkout Session %s lacks client_reference_id or metadata %s: it is not this shop's", s.ID, MetadataOrderNo)
	case orderNo != s.ClientReferenceID:
		// Both set, as faka sets them, yet different: not a session faka
		// made; refused so that the merchant sees it in the Dashboard.
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "Checkout Session %s: client_reference_id and metadata order_no disagree", s.ID)
	case !payment.Printable(orderNo, MaxOrderNoLength):
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "Checkout Session %s: malformed order number", s.ID)
	case s.Mode != string(stripeapi.CheckoutSessionModePayment):
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "Checkout Session %s is in mode %q, not payment", s.ID, s.Mode)
	case s.PaymentStatus != string(stripeapi.CheckoutSessionPaymentStatusPaid):
		// completed with a delayed payment method: Stripe sends
		// async_payment_succeeded once the money is there.
		return faka.Notification{}, ignored("Checkout Session %s is %q, not paid", s.ID, s.PaymentStatus)
	}
	amount, cur := s.AmountTotal, s.Currency
	if c := s.CurrencyConversion; c != nil {
		// Charged in the buyer's currency: the order's is the source.
		amount, cur = c.AmountTotal, c.SourceCurrency
	}
	if amount == nil || *amount <= 0 {
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "Checkout Session %s: amount_total must be positive", s.ID)
	}
	if len(cur) != 3 || cur != strings.ToLower(cur) {
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "Checkout Session %s: currency %q is not a lower-case ISO 4217 code", s.ID, cur)
	}
	cur = strings.ToUpper(cur)
	minor, err := FromStripe(*amount, cur)
	if err != nil {
		return faka.Notification{}, err
	}
	trade, err := paymentIntentID(s.PaymentIntent)
	if err != nil {
		return faka.Notification{}, faka.Errorf(faka.EBadRequest, "Checkout Session %s: malformed payment_intent: %w", s.ID, err)
	}
	if trade == "" {
		trade = s.ID
	}
	if !payment.Printable(trade, MaxIDLength) {
		return faka.Notification{}, faka.Errorf(faka.EInvalid, "Checkout Session %s: no PaymentIntent or session id", s.ID)
	}
	return faka.Notification{Gateway: Name, OrderNo: orderNo, TradeNo: trade, Amount: minor, Currency: cur}, nil
}

func modeName(live bool) string {
	if live {
		return "live-mode"
	}
	return "test-mode"
}

// paymentIntentID reads a payment_intent field: an id, an expanded
// object with an id, or null ("").
func paymentIntentID(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", nil
	}
	var id string
	if raw[0] == '{' {
		var pi struct {
			ID string `json:"id"`
		}
		err := json.Unmarshal(raw, &pi)
		return pi.ID, err
	}
	err := json.Unmarshal(raw, &id)
	return id, err
}

// ack is the reply body Stripe is given for an event it need not send
// again.
var ack = []byte(`{"received":true}` + "\n")

// Acknowledge replies 200 {"received":true}, which stops Stripe's
// retries.
func (g *Gateway) Acknowledge(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(ack) //nolint:errcheck // Stripe went away
}

// Reject replies to a refused event: 200 {"received":true} when it was
// genuine but ignored (ErrIgnored), so that Stripe stops sending it;
// otherwise 400 when the event is at fault, 500 or 503 when faka is, so
// that Stripe retries (for up to three days), with the reason in a JSON
// body that Stripe's Dashboard shows the merchant.
func (g *Gateway) Reject(w http.ResponseWriter, err error) {
	if errors.Is(err, ErrIgnored) {
		g.Acknowledge(w)
		return
	}
	body, _ := json.Marshal(map[string]string{"error": faka.ErrorMessage(err)})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(payment.RejectStatus(err))
	w.Write(append(body, '\n')) //nolint:errcheck // Stripe went away
}
