package stripe_test

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	stripeapi "github.com/stripe/stripe-go/v85"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment"
	"github.com/faka-dev/faka/payment/stripe"
)

const (
	secretKey     = "sk_test_51FakaFakaFakaFakaFakaFakaFaka"
	webhookSecret = "whsec_FakaTestSigningSecret0000000000"
	shopURL       = "https://shop.example.com"
	orderNo       = "20260321482913650271"
)

// newGateway returns a gateway on the fake Stripe f (nil: an address
// nothing listens on).
func newGateway(t testing.TB, f *fakeStripe) *stripe.Gateway {
	t.Helper()
	base, client := "http://127.0.0.1:1", (*http.Client)(nil)
	if f != nil {
		base, client = f.srv.URL, f.srv.Client()
	}
	g, err := stripe.New(stripe.Config{SecretKey: secretKey, WebhookSecret: webhookSecret, APIBase: base}, shopURL+"/", client)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestNew(t *testing.T) {
	t.Parallel()
	good := stripe.Config{SecretKey: secretKey, WebhookSecret: webhookSecret}
	for _, c := range []stripe.Config{
		{SecretKey: "", WebhookSecret: webhookSecret},
		{SecretKey: "pk_test_abc", WebhookSecret: webhookSecret},
		{SecretKey: "sk_prod_abc", WebhookSecret: webhookSecret},
		{SecretKey: "sk_test_", WebhookSecret: webhookSecret},
		{SecretKey: "sk_test_a b", WebhookSecret: webhookSecret},
		{SecretKey: "sk_test_" + strings.Repeat("a", 250), WebhookSecret: webhookSecret},
		{SecretKey: secretKey, WebhookSecret: ""},
		{SecretKey: secretKey, WebhookSecret: "whsec_"},
		{SecretKey: secretKey, WebhookSecret: "secret"},
		{SecretKey: secretKey, WebhookSecret: "whsec_a b"},
		{SecretKey: secretKey, WebhookSecret: webhookSecret, PublishableKey: "sk_test_abc"},
		{SecretKey: secretKey, WebhookSecret: webhookSecret, PublishableKey: "pk_live_abc"}, // another mode
		{SecretKey: secretKey, WebhookSecret: webhookSecret, APIBase: "localhost:12111"},
		{SecretKey: secretKey, WebhookSecret: webhookSecret, APIBase: "ftp://localhost:12111"},
		{SecretKey: secretKey, WebhookSecret: webhookSecret, APIBase: "http://u:p@localhost:12111"},
		{SecretKey: secretKey, WebhookSecret: webhookSecret, APIBase: "http://localhost:12111/?x=1"},
		{SecretKey: "sk_live_51Abc", WebhookSecret: webhookSecret, APIBase: "http://localhost:12111"}, // would send a live key elsewhere
		{SecretKey: "rk_live_51Abc", WebhookSecret: webhookSecret, APIBase: "https://api.stripe.com"},
	} {
		_, err := stripe.New(c, shopURL, nil)
		if faka.ErrorCode(err) != faka.EInvalid {
			t.Errorf("New(%+v) = %v, want invalid", c, err)
		}
		if err != nil && len(c.SecretKey) > len("sk_test_") && strings.Contains(err.Error(), c.SecretKey) {
			t.Errorf("the error shows the secret key: %v", err)
		}
	}
	for _, c := range []stripe.Config{
		good,
		{SecretKey: "sk_live_51Abc", WebhookSecret: webhookSecret, PublishableKey: "pk_live_51Abc"},
		{SecretKey: "rk_test_51Abc", WebhookSecret: webhookSecret, PublishableKey: "pk_test_51Abc"},
		{SecretKey: " " + secretKey + " ", WebhookSecret: webhookSecret, APIBase: "http://localhost:12111/"},
	} {
		if _, err := stripe.New(c, shopURL, nil); err != nil {
			t.Errorf("New(%+v): %v", c, err)
		}
	}
	for _, pub := range []string{"", "shop.example.com", "https://shop.example.com/?a=b"} {
		if _, err := stripe.New(good, pub, nil); faka.ErrorCode(err) != faka.EInvalid {
			t.Errorf("public URL %q: %v", pub, err)
		}
	}
}

func TestKind(t *testing.T) {
	t.Parallel()
	k := stripe.Kind()
	if k.Name != "stripe" || !payment.ValidName(k.Name) {
		t.Fatalf("kind name %q", k.Name)
	}
	want := map[string][2]bool{ // required, secret
		"secret_key": {true, true}, "webhook_secret": {true, true}, "publishable_key": {false, false}, "api_base": {false, false},
	}
	if len(k.Fields) != len(want) {
		t.Fatalf("fields %+v", k.Fields)
	}
	for _, f := range k.Fields {
		if w, ok := want[f.Name]; !ok || w != [2]bool{f.Required, f.Secret} {
			t.Errorf("field %+v", f)
		}
	}
	g, err := k.New(payment.Settings{"secret_key": secretKey, "webhook_secret": webhookSecret}, payment.Env{PublicURL: shopURL})
	if err != nil || g.Name() != "stripe" {
		t.Fatalf("New from settings: %v, %v", g, err)
	}
	if _, ok := g.(payment.Querier); !ok {
		t.Error("not a payment.Querier")
	}
	if _, ok := g.(payment.Closer); !ok {
		t.Error("not a payment.Closer")
	}
	if _, ok := g.(payment.GetNotifier); ok {
		t.Error("Stripe does not notify by GET")
	}
	if _, err := k.New(payment.Settings{"secret_key": secretKey, "webhook_secret": webhookSecret, "api_base": "nope"},
		payment.Env{PublicURL: shopURL}); faka.ErrorCode(err) != faka.EInvalid {
		t.Fatalf("bad api_base: %v", err)
	}
}

func TestMoney(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cur          string
		faka, stripe int64
	}{
		{"USD", 990, 990}, {"CNY", 1, 1}, {"JPY", 500, 500}, {"KRW", 1000, 1000},
		{"ISK", 1000, 100000}, // whole krónur in faka; Stripe keeps two decimals
		{"MGA", 150000, 1500}, // Stripe: zero-decimal
		{"KWD", 1234, 12340},  // Stripe: three decimals
		{"HUF", 100, 100},
	} {
		if got, err := stripe.ToStripe(tc.faka, tc.cur); err != nil || got != tc.stripe {
			t.Errorf("ToStripe(%d %s) = %d, %v; want %d", tc.faka, tc.cur, got, err, tc.stripe)
		}
		if got, err := stripe.FromStripe(tc.stripe, tc.cur); err != nil || got != tc.faka {
			t.Errorf("FromStripe(%d %s) = %d, %v; want %d", tc.stripe, tc.cur, got, err, tc.faka)
		}
	}
	for _, tc := range []struct {
		amount int64
		cur    string
	}{{0, "USD"}, {-1, "USD"}, {150, "MGA"}, {1 << 60, "USD"}, {100, "usd"}, {100, "US"}} {
		if _, err := stripe.ToStripe(tc.amount, tc.cur); faka.ErrorCode(err) != faka.EInvalid {
			t.Errorf("ToStripe(%d %s): %v, want invalid", tc.amount, tc.cur, err)
		}
	}
	for _, tc := range []struct {
		amount int64
		cur    string
	}{{0, "USD"}, {-990, "USD"}, {12345, "KWD"}, {150, "ISK"}, {1 << 62, "USD"}, {100, "usd"}} {
		if _, err := stripe.FromStripe(tc.amount, tc.cur); faka.ErrorCode(err) != faka.EInvalid {
			t.Errorf("FromStripe(%d %s): %v, want invalid", tc.amount, tc.cur, err)
		}
	}
}

func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 3, 21, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		ttl  time.Duration // the reservation, from the order's creation
		now  time.Duration // the request, from the order's creation
		want time.Duration // the expiry sent, from the order's creation; 0: none
		code string        // the error's, if any
	}{
		{"five-minute reservation", 5 * time.Minute, 0, 40 * time.Minute, ""},
		{"asked again before it ends", 5 * time.Minute, 4 * time.Minute, 40 * time.Minute, ""},
		{"an hour", time.Hour, 0, 95 * time.Minute, ""},
		{"sub-second end", 5*time.Minute + 600*time.Millisecond, 0, 40 * time.Minute, ""},
		{"asked a little after it ended", 5 * time.Minute, 9 * time.Minute, 40 * time.Minute, ""},
		{"asked long after it ended: nothing stable to send", 5 * time.Minute, 10 * time.Minute, 0, faka.EConflict},
		{"23 hours", 23 * time.Hour, 0, 23*time.Hour + 35*time.Minute, ""},
		{"23 h 20 min: the longest sent", 23*time.Hour + 20*time.Minute, 0, 23*time.Hour + 55*time.Minute, ""},
		{"23 h 20 min, asked at its end", 23*time.Hour + 20*time.Minute, 23*time.Hour + 20*time.Minute, 23*time.Hour + 55*time.Minute, ""},
		{"23 h 21 min: Stripe's default", 23*time.Hour + 21*time.Minute, 0, 0, ""},
		{"23.5 hours, asked at creation", 23*time.Hour + 30*time.Minute, 0, 0, ""},
		{"23.5 hours, asked an hour later", 23*time.Hour + 30*time.Minute, time.Hour, 0, ""},
		{"23.5 hours, asked after it ended", 23*time.Hour + 30*time.Minute, 25 * time.Hour, 0, ""},
		{"24 hours", 24 * time.Hour, 12 * time.Hour, 0, ""},
	} {
		o := &faka.Order{OrderNo: orderNo, CreatedAt: created, ReservedUntil: created.Add(tc.ttl)}
		got, err := stripe.SessionExpiry(o, created.Add(tc.now))
		want := int64(0)
		if tc.want != 0 {
			want = created.Add(tc.want).Unix()
		}
		if faka.ErrorCode(err) != tc.code || got != want {
			t.Errorf("%s: %d, %v; want %d, code %q", tc.name, got, err, want, tc.code)
		}
	}
	if got, err := stripe.SessionExpiry(&faka.Order{OrderNo: orderNo}, created); got != 0 || err != nil {
		t.Errorf("no reservation: %d, %v", got, err)
	}
	if _, err := stripe.SessionExpiry(&faka.Order{OrderNo: orderNo, ReservedUntil: created}, created); faka.ErrorCode(err) != faka.EInvalid {
		t.Errorf("no creation time: %v", err)
	}
}

// TestSessionExpiryAcrossOrderLife follows orders of many reservation
// lengths from their creation to past their end: while the order is
// pending (its reservation not ended, or ended a few minutes ago and not
// yet swept), every request gets the same expiry, which Stripe accepts
// at that time — so the idempotency key never changes and one session is
// made per order —, and later requests are refused rather than given
// another expiry. Requests start a little before the creation, for an
// application clock behind the database's.
func TestSessionExpiryAcrossOrderLife(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 3, 21, 10, 0, 0, 123e6, time.UTC)
	ttls := []time.Duration{time.Second, 5 * time.Minute, time.Hour, 12 * time.Hour, 23 * time.Hour,
		23*time.Hour + 20*time.Minute, 23*time.Hour + 20*time.Minute + time.Second, 23*time.Hour + 25*time.Minute,
		23*time.Hour + 30*time.Minute, 23*time.Hour + 59*time.Minute, faka.MaxReservationTTL}
	for _, ttl := range ttls {
		o := &faka.Order{OrderNo: orderNo, CreatedAt: created, ReservedUntil: created.Add(ttl)}
		first, err := stripe.SessionExpiry(o, created)
		if err != nil {
			t.Fatalf("ttl %s, at creation: %v", ttl, err)
		}
		step := max(ttl/200, time.Second)
		for now := created.Add(-2 * time.Minute); now.Before(o.ReservedUntil.Add(4 * time.Minute)); now = now.Add(step) {
			got, err := stripe.SessionExpiry(o, now)
			if err != nil || got != first {
				t.Fatalf("ttl %s, at +%s: %d, %v; at creation %d", ttl, now.Sub(created), got, err, first)
			}
			if got != 0 {
				if d := time.Unix(got, 0).Sub(now); d < 30*time.Minute || d > 24*time.Hour {
					t.Fatalf("ttl %s, at +%s: expiry %s ahead, outside Stripe's 30 min .. 24 h", ttl, now.Sub(created), d)
				}
			} else if !now.Before(created) && now.Add(24*time.Hour).Before(o.ReservedUntil) {
				// (Stripe's default runs from Stripe's clock, which is
				// not behind the order's creation.)
				t.Fatalf("ttl %s, at +%s: Stripe's default expiry comes before the reservation ends", ttl, now.Sub(created))
			}
		}
		for _, late := range []time.Duration{10 * time.Minute, time.Hour, 30 * time.Hour} {
			got, err := stripe.SessionExpiry(o, o.ReservedUntil.Add(late))
			if first == 0 && (got != 0 || err != nil) || first != 0 && faka.ErrorCode(err) != faka.EConflict {
				t.Fatalf("ttl %s, %s after its end: %d, %v; at creation %d", ttl, late, got, err, first)
			}
		}
	}
}

// clock is a settable time for a gateway and its fake Stripe.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// TestPayURLAcrossOrderLife asks for the pay URL of pending orders, long
// and short, from their creation to the end of their reservation, each
// time from a fresh instance (so Stripe is asked each time, and checks
// the expiry against its own clock): one Checkout Session per order.
// After the reservation has ended the request is refused, not sent with
// another key.
func TestPayURLAcrossOrderLife(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Date(2026, 3, 21, 10, 0, 0, 0, time.UTC)}
	f := newFakeStripeAt(t, secretKey, c.Now)
	for i, ttl := range []time.Duration{5 * time.Minute, 23 * time.Hour, 23*time.Hour + 30*time.Minute, faka.MaxReservationTTL} {
		created := c.Now()
		o := &faka.Order{OrderNo: "2026032150000000000" + strconv.Itoa(i), Amount: 990, Currency: "USD", Quantity: 1,
			CreatedAt: created, ReservedUntil: created.Add(ttl), Status: faka.StatusPending}
		creates, _ := f.counts()
		var first string
		for now := created; now.Before(o.ReservedUntil); now = now.Add(ttl / 7) {
			c.Set(now)
			g := newGateway(t, f)
			stripe.SetClock(g, c.Now)
			u, err := g.PayURL(t.Context(), o, "t")
			if err != nil {
				t.Fatalf("ttl %s, at +%s: %v", ttl, now.Sub(created), err)
			}
			if first == "" {
				first = u
			} else if u != first {
				t.Fatalf("ttl %s, at +%s: pay URL %s, first %s", ttl, now.Sub(created), u, first)
			}
		}
		if after, _ := f.counts(); after != creates+1 {
			t.Fatalf("ttl %s: %d Checkout Sessions for one order, want 1", ttl, after-creates)
		}
		c.Set(o.ReservedUntil.Add(10 * time.Minute))
		g := newGateway(t, f)
		stripe.SetClock(g, c.Now)
		u, err := g.PayURL(t.Context(), o, "t")
		if after, _ := f.counts(); after != creates+1 {
			t.Fatalf("ttl %s, after its end: another session (%q, %v)", ttl, u, err)
		}
		if ttl <= 23*time.Hour && faka.ErrorCode(err) != faka.EConflict {
			t.Fatalf("ttl %s, after its end: %q, %v; want a conflict", ttl, u, err)
		}
	}
}

func order(amount int64, cur string) *faka.Order {
	now := time.Now()
	return &faka.Order{OrderNo: orderNo, Amount: amount, Currency: cur, Quantity: 1,
		CreatedAt: now, ReservedUntil: now.Add(5 * time.Minute), Status: faka.StatusPending}
}

func TestPayURL(t *testing.T) {
	t.Parallel()
	f := newFakeStripe(t, secretKey)
	g := newGateway(t, f)
	o := order(990, "USD")
	u, err := g.PayURL(t.Context(), o, "tok/+=")
	if err != nil {
		t.Fatal(err)
	}
	s := f.session(0)
	if u != s.URL || !strings.HasPrefix(u, "https://checkout.stripe.com/") {
		t.Fatalf("pay URL %q, session %+v", u, s)
	}
	req := f.lastRequest()
	if req.Method != "POST" || req.Path != "/v1/checkout/sessions" {
		t.Fatalf("request %s %s", req.Method, req.Path)
	}
	back := "https://shop.example.com/orders/" + orderNo // L8: no buyer token for the provider
	want := map[string]string{
		"mode":                                          "payment",
		"line_items[0][price_data][currency]":           "usd",
		"line_items[0][price_data][unit_amount]":        "990",
		"line_items[0][price_data][product_data][name]": "Order " + orderNo,
		"line_items[0][quantity]":                       "1",
		"client_reference_id":                           orderNo,
		"metadata[order_no]":                            orderNo,
		"payment_intent_data[metadata][order_no]":       orderNo,
		"success_url":                                   back,
		"cancel_url":                                    back,
		"adaptive_pricing[enabled]":                     "false",
		"expires_at":                                    strconv.FormatInt(o.ReservedUntil.Add(35*time.Minute).Unix(), 10),
	}
	for k, v := range want {
		if got := req.Form.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if len(req.Form) != len(want) {
		t.Errorf("unexpected fields in %v", req.Form)
	}
	key := req.Header.Get("Idempotency-Key")
	if !strings.HasPrefix(key, "faka-checkout-"+orderNo+"-") || len(key) > 255 {
		t.Errorf("Idempotency-Key %q", key)
	}
	if req.Header.Get("Stripe-Version") != stripeapi.APIVersion || req.Header.Get("Authorization") != "Bearer "+secretKey {
		t.Errorf("headers %v", req.Header)
	}

	// Asked again (the order page reloads): the same session, from memory.
	_, before := f.counts()
	if again, err := g.PayURL(t.Context(), o, "tok/+="); err != nil || again != u {
		t.Fatalf("again: %q, %v", again, err)
	}
	if _, after := f.counts(); after != before {
		t.Fatalf("asked Stripe again: %d requests, then %d", before, after)
	}
	// Another instance (or this one restarted): the same request and key,
	// so Stripe returns the first session.
	other := newGateway(t, f)
	if again, err := other.PayURL(t.Context(), o, "tok/+="); err != nil || again != u {
		t.Fatalf("another instance: %q, %v", again, err)
	}
	if r := f.lastRequest(); r.Header.Get("Idempotency-Key") != key {
		t.Fatalf("another instance used key %q, want %q", r.Header.Get("Idempotency-Key"), key)
	}
	if creates, _ := f.counts(); creates != 1 {
		t.Fatalf("%d sessions created for one order, want 1", creates)
	}
}

func TestPayURLCurrencies(t *testing.T) {
	t.Parallel()
	f := newFakeStripe(t, secretKey)
	g := newGateway(t, f)
	for i, tc := range []struct {
		amount     int64
		cur, want  string
		wantAmount string
	}{
		{500, "JPY", "jpy", "500"},
		{1000, "ISK", "isk", "100000"},
		{150000, "MGA", "mga", "1500"},
		{1234, "KWD", "kwd", "12340"},
		{990, "EUR", "eur", "990"},
	} {
		o := order(tc.amount, tc.cur)
		o.OrderNo = "2026032100000000000" + strconv.Itoa(i)
		if _, err := g.PayURL(t.Context(), o, "t"); err != nil {
			t.Fatalf("%d %s: %v", tc.amount, tc.cur, err)
		}
		r := f.lastRequest()
		if r.Form.Get("line_items[0][price_data][currency]") != tc.want || r.Form.Get("line_items[0][price_data][unit_amount]") != tc.wantAmount {
			t.Errorf("%d %s sent as %s %s", tc.amount, tc.cur, r.Form.Get("line_items[0][price_data][unit_amount]"), r.Form.Get("line_items[0][price_data][currency]"))
		}
	}
	_, before := f.counts()
	for _, o := range []*faka.Order{
		order(150, "MGA"), // cents of ariary: Stripe has none
		order(0, "USD"),
		order(-990, "USD"),
		order(990, "usd"),
		{OrderNo: "", Amount: 990, Currency: "USD"},
		{OrderNo: "has space", Amount: 990, Currency: "USD"},
	} {
		if _, err := g.PayURL(t.Context(), o, "t"); faka.ErrorCode(err) != faka.EInvalid {
			t.Errorf("order %+v: %v, want invalid", o, err)
		}
	}
	if _, after := f.counts(); after != before {
		t.Fatalf("invalid orders reached Stripe")
	}
	// A long reservation: Stripe's default expiry.
	o := order(990, "USD")
	o.OrderNo = "20260321999999999999"
	o.ReservedUntil = o.CreatedAt.Add(faka.MaxReservationTTL)
	if _, err := g.PayURL(t.Context(), o, "t"); err != nil {
		t.Fatal(err)
	}
	if r := f.lastRequest(); r.Form.Has("expires_at") {
		t.Fatalf("expires_at %q sent for a 24-hour reservation", r.Form.Get("expires_at"))
	}
}

func TestPayURLErrors(t *testing.T) {
	t.Parallel()
	f := newFakeStripe(t, secretKey)
	g := newGateway(t, f)
	// Refused by Stripe: the amount is below its minimum.
	if _, err := g.PayURL(t.Context(), order(10, "USD"), "t"); faka.ErrorCode(err) != faka.EInvalid || !strings.Contains(err.Error(), "at least") {
		t.Fatalf("amount too small: %v", err)
	}
	f.setFail("POST /v1/checkout/sessions", http.StatusServiceUnavailable)
	if _, err := g.PayURL(t.Context(), order(990, "USD"), "t"); faka.ErrorCode(err) != faka.EUnavailable {
		t.Fatalf("Stripe down: %v", err)
	}
	f.setFail("POST /v1/checkout/sessions", 0)
	wrongKey, err := stripe.New(stripe.Config{SecretKey: "sk_test_WrongWrongWrong", WebhookSecret: webhookSecret, APIBase: f.srv.URL},
		shopURL, f.srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	_, err = wrongKey.PayURL(t.Context(), order(990, "USD"), "t")
	if faka.ErrorCode(err) != faka.EUnavailable || strings.Contains(err.Error(), "sk_test_Wrong") {
		t.Fatalf("wrong key: %v", err)
	}
	f.srv.Close()
	_, err = g.PayURL(t.Context(), order(990, "USD"), "t")
	if faka.ErrorCode(err) != faka.EUnavailable || strings.Contains(err.Error(), secretKey) {
		t.Fatalf("server gone: %v", err)
	}
}
