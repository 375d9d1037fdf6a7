// Package stripe is the Stripe Checkout gateway, through
// github.com/stripe/stripe-go. PayURL creates a Checkout Session for the
// order (one line item in the order's currency and amount, the order
// number as client_reference_id and as metadata order_no on the session
// and on its PaymentIntent) and sends the buyer to the page Stripe hosts;
// Stripe returns the buyer to the order page.
//
// Stripe notifies POST /pay/stripe/notify with signed events (the
// Stripe-Signature header: an HMAC-SHA256 of "timestamp.body" under the
// endpoint's signing secret, refused when more than five minutes old).
// checkout.session.completed and checkout.session.async_payment_succeeded
// events of a paid session of this shop confirm the order; every other
// verified event is acknowledged and changes nothing, so that Stripe stops
// sending it. The trade number is the PaymentIntent's id, the same for
// both events and for Query, so that the engine applies a payment once
// however often, and through whichever path, it is stated.
package stripe

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	stripeapi "github.com/stripe/stripe-go/v85"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment"
)

// Name is the gateway's name.
const Name = "stripe"

// Event types that confirm a payment.
const (
	EventCompleted      = "checkout.session.completed"
	EventAsyncSucceeded = "checkout.session.async_payment_succeeded"
)

// SignatureHeader carries a notification's signature.
const SignatureHeader = "Stripe-Signature"

// MetadataOrderNo is the metadata key of the order number, on the
// Checkout Session and on its PaymentIntent.
const MetadataOrderNo = "order_no"

// MaxOrderNoLength bounds an order number sent to or read from Stripe.
const MaxOrderNoLength = 64

// MaxIDLength bounds a Stripe object id read from Stripe.
const MaxIDLength = 255

// Stripe's bounds on a Checkout Session's expires_at, from the time of
// the request.
const (
	minSessionLife = 30 * time.Minute
	maxSessionLife = 24 * time.Hour
)

// The bounds SessionExpiry keeps to, a little inside Stripe's so that
// clocks that disagree by a few minutes do not matter.
const (
	shortestExpiry = minSessionLife + time.Minute
	longestExpiry  = maxSessionLife - 5*time.Minute
)

// expiryGrace is how long after the reservation ends a session is made
// to expire: Stripe refuses an expiry less than 30 minutes away, and the
// expiry must be the same whenever the order's pay URL is asked for (see
// PayURL); 35 minutes leaves room for a clock that is a little off.
const expiryGrace = 35 * time.Minute

// Config is a merchant's Stripe account.
type Config struct {
	// SecretKey is the API key (sk_live_…, sk_test_…, or a restricted key
	// rk_live_…, rk_test_… allowed to write Checkout Sessions and read
	// PaymentIntents).
	SecretKey string
	// WebhookSecret is the signing secret (whsec_…) of the endpoint
	// https://<shop>/pay/stripe/notify.
	WebhookSecret string
	// PublishableKey (pk_live_…, pk_test_…) is optional; it is checked
	// against the secret key's mode and not otherwise used (Checkout is
	// hosted by Stripe).
	PublishableKey string
	// APIBase replaces https://api.stripe.com: for tests and self-hosted
	// mocks (stripe-mock) only, and so with test-mode keys only. Empty:
	// Stripe.
	APIBase string
}

// Gateway is the Stripe Checkout gateway. It is safe for concurrent use.
type Gateway struct {
	client        *stripeapi.Client
	webhookSecret string
	live          bool // the keys are live-mode keys
	publicURL     string
	now           func() time.Time // the clock; time.Now but in tests

	// The order page asks for the pay URL on every view (and reloads
	// itself while the order is pending): the sessions made are kept for
	// a while, in memory. Stripe's idempotency keys make another
	// instance, or this one after a restart, get the same session.
	mu       sync.Mutex
	sessions map[string]cachedSession // by order number
}

type cachedSession struct {
	id, url, key string
	until        time.Time
}

// maxSessions bounds the sessions kept in memory.
const maxSessions = 10000

var (
	_ payment.Gateway = (*Gateway)(nil)
	_ payment.Querier = (*Gateway)(nil)
	_ payment.Closer  = (*Gateway)(nil)
)

// New returns a Stripe gateway for cfg whose return URLs are under
// publicURL; httpClient makes the API calls (nil: one with a 30 s
// timeout). It makes no network call.
func New(cfg Config, publicURL string, httpClient *http.Client) (*Gateway, error) {
	key, secret, pk := strings.TrimSpace(cfg.SecretKey), strings.TrimSpace(cfg.WebhookSecret), strings.TrimSpace(cfg.PublishableKey)
	live, ok := keyMode(key, "sk_", "rk_")
	if !ok {
		return nil, faka.Errorf(faka.EInvalid, "secret_key must be a Stripe secret key (sk_live_…, sk_test_…) or restricted key (rk_live_…, rk_test_…)")
	}
	if !strings.HasPrefix(secret, "whsec_") || len(secret) <= len("whsec_") || !payment.Printable(secret, 255) {
		return nil, faka.Errorf(faka.EInvalid, "webhook_secret must be the endpoint's signing secret (whsec_…)")
	}
	if pk != "" {
		pkLive, ok := keyMode(pk, "pk_")
		if !ok {
			return nil, faka.Errorf(faka.EInvalid, "publishable_key must be a Stripe publishable key (pk_live_…, pk_test_…)")
		}
		if pkLive != live {
			return nil, faka.Errorf(faka.EInvalid, "publishable_key and secret_key must both be live-mode keys or both test-mode keys")
		}
	}
	pub, err := payment.BaseURL(publicURL)
	if err != nil {
		return nil, fmt.Errorf("stripe: public URL: %w", err)
	}
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 30 * time.Second}
	}
	bc := &stripeapi.BackendConfig{
		HTTPClient: httpClient,
		// Errors are returned to faka, which logs what it must; the
		// library's own logging goes nowhere.
		LeveledLogger: &stripeapi.LeveledLogger{Level: stripeapi.LevelNull},
	}
	if b := strings.TrimSpace(cfg.APIBase); b != "" {
		base, err := payment.ProviderURL(b)
		if err != nil {
			return nil, faka.Errorf(faka.EInvalid, "api_base: %s, such as http://localhost:12111", faka.ErrorMessage(err))
		}
		if live {
			// Whoever sets api_base receives the secret key with every
			// call: a live key is only ever sent to Stripe.
			return nil, faka.Errorf(faka.EInvalid, "api_base is for tests and mocks: it takes test-mode keys only")
		}
		bc.URL = stripeapi.String(base)
	}
	client := stripeapi.NewClient(key, stripeapi.WithBackends(stripeapi.NewBackendsWithConfig(bc)))
	return &Gateway{client: client, webhookSecret: secret, live: live, publicURL: pub, now: time.Now,
		sessions: map[string]cachedSession{}}, nil
}

// keyMode checks a Stripe key of one of the prefixes ("sk_" …) followed
// by "live_" or "test_" and reports whether it is a live-mode key.
func keyMode(key string, prefixes ...string) (live, ok bool) {
	for _, p := range prefixes {
		rest, found := strings.CutPrefix(key, p)
		if !found {
			continue
		}
		for _, mode := range []string{"live_", "test_"} {
			if tail, found := strings.CutPrefix(rest, mode); found && tail != "" && len(key) <= 255 && alnum(tail) {
				return mode == "live_", true
			}
		}
	}
	return false, false
}

func alnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Kind is Stripe as a gateway the merchant configures: {secret_key,
// webhook_secret, publishable_key, api_base}. api_base is for tests and
// self-hosted mocks only, with test-mode keys.
func Kind() payment.Kind {
	return payment.Kind{
		Name: Name,
		Fields: []payment.Field{
			{Name: "secret_key", Required: true, Secret: true},
			{Name: "webhook_secret", Required: true, Secret: true},
			{Name: "publishable_key"},
			{Name: "api_base"},
		},
		New: func(s payment.Settings, env payment.Env) (payment.Gateway, error) {
			return New(Config{SecretKey: s["secret_key"], WebhookSecret: s["webhook_secret"],
				PublishableKey: s["publishable_key"], APIBase: s["api_base"]}, env.PublicURL, env.Client)
		},
	}
}

// Name returns "stripe".
func (g *Gateway) Name() string { return Name }

// SessionExpiry returns the expires_at PayURL gives Stripe for order o
// at now, or 0 to leave Stripe's default (24 hours after the request).
//
// Stripe takes an expiry from 30 minutes to 24 hours after the request.
// The expiry must also be the same each time the pay URL of the order is
// asked for (the order page asks on every view) while the order is
// pending: it is part of the request and of its idempotency key, and
// another value would make a second Checkout Session for the order, of
// which CloseTrade could expire only the one it knows, leaving the other
// payable. So whether an expiry is sent, and which, depends on the order
// alone, never on now:
//
//   - The expiry is the reservation's end plus 35 minutes, to the second:
//     at least 35 minutes away while the reservation lasts. A payment made
//     in those 35 minutes is a late payment (fresh keys, else a
//     backorder); CloseTrade expires the session as soon as the order has
//     expired, to shorten that window.
//   - When that is more than 23 h 55 min after the order was created (a
//     reservation longer than 23 h 20 min), no expiry is sent, for every
//     request: the session lasts Stripe's default 24 hours from its
//     creation, which is after the reservation's end, as a reservation
//     lasts at most faka.MaxReservationTTL (24 hours). Otherwise the
//     expiry is at most 23 h 55 min after any request (which comes after
//     the order's creation), within Stripe's bound with 5 minutes to
//     spare for clocks that disagree.
//   - A request less than 31 minutes before that expiry (the reservation
//     ended more than 4 minutes ago and the order is not yet swept as
//     expired) can send neither that expiry, which Stripe would refuse,
//     nor another, which would make a second session: it is an EConflict
//     error, and the buyer places a new order.
//
// An order without a reservation end gets 0; one with a reservation but
// no creation time is an EInvalid error.
func SessionExpiry(o *faka.Order, now time.Time) (int64, error) {
	if o.ReservedUntil.IsZero() {
		return 0, nil
	}
	if o.CreatedAt.IsZero() {
		return 0, faka.Errorf(faka.EInvalid, "stripe: order %s has no creation time", o.OrderNo)
	}
	at := o.ReservedUntil.Add(expiryGrace).Truncate(time.Second)
	if at.Sub(o.CreatedAt) > longestExpiry {
		return 0, nil
	}
	if at.Sub(now) < shortestExpiry {
		return 0, faka.Errorf(faka.EConflict, "stripe: the reservation of order %s has ended: place a new order", o.OrderNo)
	}
	return at.Unix(), nil
}

// sessionParams returns the Checkout Session request for order o and
// the idempotency key that goes with it.
func (g *Gateway) sessionParams(o *faka.Order, token string, now time.Time) (*stripeapi.CheckoutSessionCreateParams, string, error) {
	if !payment.Printable(o.OrderNo, MaxOrderNoLength) {
		return nil, "", faka.Errorf(faka.EInvalid, "order number %q cannot be sent to Stripe", o.OrderNo)
	}
	amount, err := ToStripe(o.Amount, o.Currency)
	if err != nil {
		return nil, "", err
	}
	cur := strings.ToLower(o.Currency)
	back := payment.ReturnURL(g.publicURL, o.OrderNo)
	p := &stripeapi.CheckoutSessionCreateParams{
		Mode: stripeapi.String(string(stripeapi.CheckoutSessionModePayment)),
		LineItems: []*stripeapi.CheckoutSessionCreateLineItemParams{{
			PriceData: &stripeapi.CheckoutSessionCreateLineItemPriceDataParams{
				Currency:    stripeapi.String(cur),
				UnitAmount:  stripeapi.Int64(amount),
				ProductData: &stripeapi.CheckoutSessionCreateLineItemPriceDataProductDataParams{Name: stripeapi.String("Order " + o.OrderNo)},
			},
			Quantity: stripeapi.Int64(1),
		}},
		ClientReferenceID: stripeapi.String(o.OrderNo),
		Metadata:          map[string]string{MetadataOrderNo: o.OrderNo},
		PaymentIntentData: &stripeapi.CheckoutSessionCreatePaymentIntentDataParams{
			Metadata: map[string]string{MetadataOrderNo: o.OrderNo},
		},
		SuccessURL: stripeapi.String(back),
		CancelURL:  stripeapi.String(back),
		// Adaptive Pricing would charge the buyer in another currency,
		// which the order's amount and currency could not be checked
		// against.
		AdaptivePricing: &stripeapi.CheckoutSessionCreateAdaptivePricingParams{Enabled: stripeapi.Bool(false)},
	}
	exp, err := SessionExpiry(o, now)
	if err != nil {
		return nil, "", err
	}
	if exp != 0 {
		p.ExpiresAt = stripeapi.Int64(exp)
	}
	// The key is the order number and a digest of everything else sent:
	// the same request gets the same session back for 24 hours, whichever
	// instance sends it; a request that differs (another public URL, or
	// token) gets a new session instead of Stripe's refusal to reuse a
	// key with other parameters. The expiry never differs for one order
	// (see SessionExpiry).
	h := sha256.New()
	for _, s := range []string{o.OrderNo, strconv.FormatInt(amount, 10), cur, back, strconv.FormatInt(exp, 10)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	key := "faka-checkout-" + o.OrderNo + "-" + hex.EncodeToString(h.Sum(nil)[:12])
	p.IdempotencyKey = stripeapi.String(key)
	return p, key, nil
}

// PayURL creates the Checkout Session of order o and returns its URL on
// checkout.stripe.com. Asked again for the same order, it returns the
// same session: from memory, else through Stripe's idempotency key.
func (g *Gateway) PayURL(ctx context.Context, o *faka.Order, token string) (string, error) {
	now := g.now()
	p, key, err := g.sessionParams(o, token, now)
	if err != nil {
		return "", err
	}
	if u, ok := g.cached(o.OrderNo, key, now); ok {
		return u, nil
	}
	s, err := g.client.V1CheckoutSessions.Create(ctx, p)
	if err != nil {
		return "", apiError("create the Checkout Session of order "+o.OrderNo, err)
	}
	if s.ID == "" || !validPayURL(s.URL) {
		return "", faka.Errorf(faka.EUnavailable, "stripe: create the Checkout Session of order %s: the reply has no session URL", o.OrderNo)
	}
	until := now.Add(time.Hour)
	if s.ExpiresAt != 0 {
		until = time.Unix(s.ExpiresAt, 0).Add(-time.Minute)
	}
	g.remember(o.OrderNo, cachedSession{id: s.ID, url: s.URL, key: key, until: until})
	return s.URL, nil
}

func validPayURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func (g *Gateway) cached(orderNo, key string, now time.Time) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, ok := g.sessions[orderNo]
	if !ok || c.key != key || !now.Before(c.until) {
		return "", false
	}
	return c.url, true
}

func (g *Gateway) remember(orderNo string, c cachedSession) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.sessions) >= maxSessions {
		now := g.now()
		for k, old := range g.sessions {
			if !now.Before(old.until) {
				delete(g.sessions, k)
			}
		}
		for k := range g.sessions {
			if len(g.sessions) < maxSessions {
				break
			}
			delete(g.sessions, k)
		}
	}
	g.sessions[orderNo] = c
}

// sessionID returns the id of the session kept for orderNo.
func (g *Gateway) sessionID(orderNo string) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, ok := g.sessions[orderNo]
	return c.id, ok
}

// forget drops the session kept for orderNo.
func (g *Gateway) forget(orderNo string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.sessions, orderNo)
}
