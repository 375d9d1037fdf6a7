package poller_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
	"github.com/faka-dev/faka/keyring"
	"github.com/faka-dev/faka/payment"
	"github.com/faka-dev/faka/poller"
	"github.com/faka-dev/faka/sqlite"
)

// clock is the SQLite store's clock in these tests: the database clock
// judges every due time (MinAge, backoff, lease, expiry), so moving it
// forward replaces sleeping.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// fakeGateway is a provider that can be asked about orders and close
// trades: paid holds the payments made at the provider, by order number.
type fakeGateway struct {
	name string

	mu         sync.Mutex
	paid       map[string]faka.Notification
	closed     map[string]bool
	queries    map[string]int
	closes     map[string]int
	queryErr   error                        // every query fails with it
	failOrder  map[string]error             // queries of these orders fail
	block      chan struct{}                // when set, queries wait for their context and report each start here
	payOnClose map[string]faka.Notification // closing these orders finds them paid meanwhile
}

var (
	_ payment.Querier = (*fakeGateway)(nil)
	_ payment.Closer  = (*fakeGateway)(nil)
)

func newFakeGateway(name string) *fakeGateway {
	return &fakeGateway{name: name, paid: map[string]faka.Notification{}, closed: map[string]bool{},
		queries: map[string]int{}, closes: map[string]int{}, failOrder: map[string]error{}, payOnClose: map[string]faka.Notification{}}
}

func (g *fakeGateway) Name() string { return g.name }
func (g *fakeGateway) PayURL(context.Context, *faka.Order, string) (string, error) {
	return "https://pay.example/", nil
}
func (g *fakeGateway) ParseNotification(*http.Request, []byte) (faka.Notification, error) {
	return faka.Notification{}, faka.Errorf(faka.EUnauthorized, "the fake gateway sends no notifications")
}
func (g *fakeGateway) Acknowledge(w http.ResponseWriter)     { w.WriteHeader(http.StatusOK) }
func (g *fakeGateway) Reject(w http.ResponseWriter, _ error) { w.WriteHeader(http.StatusBadRequest) }

// pay records a payment of o at the provider, as a buyer paying would.
func (g *fakeGateway) pay(o *faka.Order, tradeNo string) faka.Notification {
	n := faka.Notification{Gateway: g.name, OrderNo: o.OrderNo, TradeNo: tradeNo, Amount: o.Amount, Currency: o.Currency}
	g.mu.Lock()
	g.paid[o.OrderNo] = n
	g.mu.Unlock()
	return n
}

func (g *fakeGateway) Query(ctx context.Context, orderNo string) (faka.Notification, bool, error) {
	g.mu.Lock()
	g.queries[orderNo]++
	block, err := g.block, g.queryErr
	if e := g.failOrder[orderNo]; e != nil {
		err = e
	}
	n, paid := g.paid[orderNo]
	g.mu.Unlock()
	if block != nil {
		block <- struct{}{}
		<-ctx.Done()
		return faka.Notification{}, false, ctx.Err()
	}
	if err != nil {
		return faka.Notification{}, false, err
	}
	// A provider fills in its own name; the poller must not trust it.
	n.Gateway = "someone-else"
	return n, paid, nil
}

func (g *fakeGateway) CloseTrade(_ context.Context, orderNo string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closes[orderNo]++
	if n, ok := g.payOnClose[orderNo]; ok {
		delete(g.payOnClose, orderNo)
		g.paid[orderNo] = n
	}
	if _, ok := g.paid[orderNo]; ok {
		return faka.Errorf(faka.EConflict, "trade %s was paid", orderNo)
	}
	g.closed[orderNo] = true
	return nil
}

func (g *fakeGateway) counts(orderNo string) (queries, closes int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.queries[orderNo], g.closes[orderNo]
}

// plainGateway cannot be asked about orders (like the sandbox).
type plainGateway struct{ name string }

func (g plainGateway) Name() string { return g.name }
func (g plainGateway) PayURL(context.Context, *faka.Order, string) (string, error) {
	return "https://pay.example/", nil
}
func (g plainGateway) ParseNotification(*http.Request, []byte) (faka.Notification, error) {
	return faka.Notification{}, faka.Errorf(faka.EUnauthorized, "no")
}
func (g plainGateway) Acknowledge(w http.ResponseWriter)     { w.WriteHeader(http.StatusOK) }
func (g plainGateway) Reject(w http.ResponseWriter, _ error) { w.WriteHeader(http.StatusBadRequest) }

// queryOnly can be asked about orders but cannot close trades (like
// EPay). It does not embed the fake, whose CloseTrade would be promoted.
type queryOnly struct {
	plainGateway
	g *fakeGateway
}

func (q queryOnly) Query(ctx context.Context, no string) (faka.Notification, bool, error) {
	return q.g.Query(ctx, no)
}

// env is a shop on one SQLite file with a fake clock: a store, an engine,
// and the registry with the fake gateway "fakepay".
type env struct {
	t    *testing.T
	path string
	clk  *clock
	kr   *keyring.Keyring
	st   *sqlite.Store
	e    *engine.Engine
	reg  *payment.Registry
	gw   *fakeGateway
	seq  int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	kr, err := keyring.New(bytes.Repeat([]byte{9}, keyring.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	v := &env{t: t, path: filepath.Join(t.TempDir(), "faka.db"), kr: kr,
		clk: &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}, gw: newFakeGateway("fakepay")}
	if v.reg, err = payment.NewRegistry(v.gw, plainGateway{"plain"}); err != nil {
		t.Fatal(err)
	}
	v.open()
	return v
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// open opens the store and an engine on the database file; close and
// open again is a restart.
func (v *env) open() {
	v.t.Helper()
	st, err := sqlite.Open(context.Background(), v.path, sqlite.Options{Now: v.clk.Now, Synchronous: "OFF"})
	if err != nil {
		v.t.Fatal(err)
	}
	e, err := engine.New(engine.Config{Store: st, Keyring: v.kr, Logger: quiet, SweepInterval: time.Hour, ResyncInterval: time.Hour})
	if err != nil {
		v.t.Fatal(err)
	}
	e.Start(context.Background())
	v.st, v.e = st, e
	v.t.Cleanup(v.close)
}

func (v *env) close() {
	if v.e != nil {
		v.e.Close()
		v.st.Close()
		v.e, v.st = nil, nil
	}
}

// poller returns a poller over the env's engine with the production
// defaults but for opts' non-zero fields.
func (v *env) poller(opts poller.Options) *poller.Poller {
	v.t.Helper()
	return v.pollerOn(v.e, opts)
}

func (v *env) pollerOn(e *engine.Engine, opts poller.Options) *poller.Poller {
	v.t.Helper()
	p, err := poller.New(e.ConfirmPayment, v.st, v.reg, quiet, opts)
	if err != nil {
		v.t.Fatal(err)
	}
	return p
}

func (v *env) product(keys int, ttl time.Duration) *faka.Product {
	v.t.Helper()
	ctx := context.Background()
	v.seq++
	p := &faka.Product{Name: fmt.Sprintf("Card %d", v.seq), Price: 990, Currency: "CNY", ReservationTTL: ttl, Active: true}
	if err := v.e.CreateProduct(ctx, p, 0, nil); err != nil {
		v.t.Fatal(err)
	}
	var sb strings.Builder
	for i := range keys {
		fmt.Fprintf(&sb, "KEY-%d-%04d\n", p.ID, i)
	}
	if res, err := v.e.ImportKeys(ctx, p.ID, strings.NewReader(sb.String())); err != nil || res.Imported != keys {
		v.t.Fatalf("import %d keys: %+v, %v", keys, res, err)
	}
	return p
}

func (v *env) reserve(p *faka.Product, qty int, gateway string) *faka.Order {
	v.t.Helper()
	r, err := v.e.Reserve(context.Background(), engine.ReserveRequest{ProductID: p.ID, Quantity: qty,
		Email: "buyer@example.com", Gateway: gateway})
	if err != nil {
		v.t.Fatalf("reserve %d through %s: %v", qty, gateway, err)
	}
	return r.Order
}

func (v *env) order(o *faka.Order) *faka.Order {
	v.t.Helper()
	got, err := v.st.OrderGet(context.Background(), o.OrderNo)
	if err != nil {
		v.t.Fatal(err)
	}
	return got
}

func (v *env) wantStatus(o *faka.Order, want faka.OrderStatus) *faka.Order {
	v.t.Helper()
	got := v.order(o)
	if got.Status != want {
		v.t.Fatalf("order %s is %s, want %s", o.OrderNo, got.Status, want)
	}
	return got
}

// wantDelivered asserts that o is delivered with n of its product's keys.
func (v *env) wantDelivered(o *faka.Order, n int) {
	v.t.Helper()
	got := v.wantStatus(o, faka.StatusDelivered)
	keys, err := v.e.OrderKeys(context.Background(), got)
	if err != nil {
		v.t.Fatal(err)
	}
	prefix := fmt.Sprintf("KEY-%d-", o.ProductID)
	if len(keys) != n {
		v.t.Fatalf("order %s holds %d keys, want %d", o.OrderNo, len(keys), n)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) {
			v.t.Fatalf("order %s holds key %q, not one of product %d", o.OrderNo, k, o.ProductID)
		}
	}
}

// wantPayments asserts that o has exactly one payment, the given trade.
func (v *env) wantPayments(o *faka.Order, gateway, trade string) {
	v.t.Helper()
	pays, err := v.st.PaymentsByOrder(context.Background(), o.ID)
	if err != nil {
		v.t.Fatal(err)
	}
	if len(pays) != 1 || pays[0].Gateway != gateway || pays[0].TradeNo != trade {
		v.t.Fatalf("order %s has payments %+v, want one: %s/%s", o.OrderNo, pays, gateway, trade)
	}
}

func (v *env) reconcile() *faka.ReconcileReport {
	v.t.Helper()
	rep, err := v.e.Reconcile(context.Background())
	if err != nil {
		v.t.Fatal(err)
	}
	if !rep.OK {
		v.t.Fatalf("invariants broken: %+v", rep.Violations)
	}
	return rep
}

func (v *env) state(o *faka.Order) *faka.PaymentCheckState {
	v.t.Helper()
	st, err := v.st.PaymentCheckGet(context.Background(), o.ID)
	if err != nil {
		v.t.Fatalf("PaymentCheckGet(%s): %v", o.OrderNo, err)
	}
	return st
}

func tick(t *testing.T, p *poller.Poller) poller.Stats {
	t.Helper()
	st, err := p.Tick(context.Background())
	if err != nil {
		t.Fatalf("Tick: %v", err)
	}
	return st
}

func wantStats(t *testing.T, got, want poller.Stats) {
	t.Helper()
	if got != want {
		t.Fatalf("tick: %+v, want %+v", got, want)
	}
}

func TestDroppedNotificationIsConfirmed(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	p := v.poller(poller.Options{})
	prod := v.product(3, 5*time.Minute)
	o := v.reserve(prod, 2, "fakepay")
	v.gw.pay(o, "T-1") // the buyer pays; the notification is lost

	// A young order is left to its notification.
	wantStats(t, tick(t, p), poller.Stats{})
	v.clk.Advance(29 * time.Second)
	wantStats(t, tick(t, p), poller.Stats{})
	if q, _ := v.gw.counts(o.OrderNo); q != 0 {
		t.Fatalf("a %v-old order was queried %d times", 29*time.Second, q)
	}

	v.clk.Advance(2 * time.Second)
	wantStats(t, tick(t, p), poller.Stats{Claimed: 1, Confirmed: 1})
	v.wantDelivered(o, 2)
	v.wantPayments(o, "fakepay", "T-1")
	if st := v.state(o); st.ClosedAt.IsZero() || st.LastError != "" || st.Checks != 1 {
		t.Fatalf("check row after confirming: %+v", st)
	}
	rep := v.reconcile()
	if s := rep.Products[0]; s.Sold != 2 || s.Available != 1 || s.Reserved != 0 {
		t.Fatalf("stock after the confirmed payment: %+v", s)
	}

	// Done with: never asked again.
	v.clk.Advance(time.Hour)
	wantStats(t, tick(t, p), poller.Stats{})
	if q, c := v.gw.counts(o.OrderNo); q != 1 || c != 0 {
		t.Fatalf("queried %d times, closed %d; want 1, 0", q, c)
	}
}

func TestUnpaidBacksOff(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	p := v.poller(poller.Options{})
	o := v.reserve(v.product(1, time.Hour), 1, "fakepay")
	// The waits after each check: 30s, 1m, 2m, 5m, then 10m.
	v.clk.Advance(30 * time.Second)
	for i, wait := range []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 10 * time.Minute} {
		wantStats(t, tick(t, p), poller.Stats{Claimed: 1, Unpaid: 1})
		st := v.state(o)
		if st.Checks != i+1 || !st.NextCheckAt.Equal(v.clk.Now().Add(wait).Truncate(time.Millisecond)) {
			t.Fatalf("after check %d: %+v; want Checks %d, next check in %v", i+1, st, i+1, wait)
		}
		v.clk.Advance(wait - time.Millisecond)
		wantStats(t, tick(t, p), poller.Stats{})
		v.clk.Advance(time.Millisecond)
	}
	v.wantStatus(o, faka.StatusPending)
}

func TestGatewayErrorBacksOffAndIsRetried(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	p := v.poller(poller.Options{})
	o := v.reserve(v.product(1, time.Hour), 1, "fakepay")
	v.gw.pay(o, "T-err")
	v.gw.mu.Lock()
	v.gw.queryErr = faka.Errorf(faka.EUnavailable, "fakepay: the API did not answer")
	v.gw.mu.Unlock()

	v.clk.Advance(time.Minute)
	wantStats(t, tick(t, p), poller.Stats{Claimed: 1, Errors: 1})
	st := v.state(o)
	if !strings.Contains(st.LastError, "did not answer") || !st.ClosedAt.IsZero() ||
		!st.NextCheckAt.Equal(v.clk.Now().Add(30*time.Second)) {
		t.Fatalf("check row after a failed query: %+v", st)
	}
	v.wantStatus(o, faka.StatusPending)
	wantStats(t, tick(t, p), poller.Stats{}) // backing off
	v.clk.Advance(30 * time.Second)
	wantStats(t, tick(t, p), poller.Stats{Claimed: 1, Errors: 1}) // still down: the next wait is longer
	if st := v.state(o); st.Checks != 2 || !st.NextCheckAt.Equal(v.clk.Now().Add(time.Minute)) {
		t.Fatalf("check row after a second failure: %+v", st)
	}

	v.gw.mu.Lock()
	v.gw.queryErr = nil
	v.gw.mu.Unlock()
	v.clk.Advance(time.Minute)
	wantStats(t, tick(t, p), poller.Stats{Claimed: 1, Confirmed: 1})
	v.wantDelivered(o, 1)
	if st := v.state(o); st.LastError != "" || st.ClosedAt.IsZero() {
		t.Fatalf("check row after the retry worked: %+v", st)
	}
}

func TestDisabledGatewayLeftAlone(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	p := v.poller(poller.Options{})
	prod := v.product(3, time.Hour)
	off := v.reserve(prod, 1, "laterpay") // a gateway not enabled (yet)
	plain := v.reserve(prod, 1, "plain")  // enabled, but cannot be asked
	later := newFakeGateway("laterpay")
	later.pay(off, "T-later")

	v.clk.Advance(time.Hour)
	wantStats(t, tick(t, p), poller.Stats{})
	for _, o := range []*faka.Order{off, plain} {
		if _, err := v.st.PaymentCheckGet(context.Background(), o.ID); faka.ErrorCode(err) != faka.ENotFound {
			t.Fatalf("order %s of a gateway the poller cannot ask has a check row (%v)", o.OrderNo, err)
		}
	}
	if q, _ := later.counts(off.OrderNo); q != 0 {
		t.Fatalf("a disabled gateway was queried %d times", q)
	}

	// Enabled while the poller runs: picked up at the next tick.
	if err := v.reg.Register(later); err != nil {
		t.Fatal(err)
	}
	wantStats(t, tick(t, p), poller.Stats{Claimed: 1, Confirmed: 1})
	v.wantDelivered(off, 1)
	v.wantPayments(off, "laterpay", "T-later")
	v.wantStatus(plain, faka.StatusPending)

	// Disabled again: its orders are left alone once more.
	v.reg.Remove("laterpay")
	o2 := v.reserve(prod, 1, "laterpay")
	v.clk.Advance(time.Hour)
	wantStats(t, tick(t, p), poller.Stats{})
	if q, _ := later.counts(o2.OrderNo); q != 0 {
		t.Fatalf("a disabled gateway was queried %d times", q)
	}
}

func TestExpiredUnpaidTradeClosedOnce(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	p1, p2 := v.poller(poller.Options{}), v.poller(poller.Options{})
	prod := v.product(4, time.Minute)
	checked := v.reserve(prod, 1, "fakepay") // asked about while pending, then expires
	never := v.reserve(prod, 1, "fakepay")   // expires before any check
	cancelled := v.reserve(prod, 1, "fakepay")

	v.clk.Advance(30 * time.Second)
	if _, err := v.e.CancelOrder(context.Background(), cancelled.OrderNo); err != nil {
		t.Fatal(err)
	}
	// never is kept from the pending check by failing it once.
	v.gw.mu.Lock()
	v.gw.failOrder[never.OrderNo] = faka.Errorf(faka.EUnavailable, "down")
	v.gw.mu.Unlock()
	// The cancelled order's trade is not closed while its reservation
	// runs: a pay link given out may still make a trade until then.
	wantStats(t, tick(t, p1), poller.Stats{Claimed: 2, Unpaid: 1, Errors: 1})
	if q, c := v.gw.counts(cancelled.OrderNo); q != 0 || c != 0 {
		t.Fatalf("cancelled order asked %d times, closed %d times before its reservation ran out", q, c)
	}
	v.gw.mu.Lock()
	delete(v.gw.failOrder, never.OrderNo)
	v.gw.mu.Unlock()

	v.clk.Advance(31 * time.Second)
	if _, err := v.e.ExpireDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	v.wantStatus(checked, faka.StatusExpired)
	v.wantStatus(never, faka.StatusExpired)

	// Two pollers at once, several times over a day: each trade is closed
	// exactly once.
	var total poller.Stats
	for range 6 {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, p := range []*poller.Poller{p1, p2} {
			wg.Go(func() {
				st := tick(t, p)
				mu.Lock()
				total.Closed += st.Closed
				total.Errors += st.Errors
				mu.Unlock()
			})
		}
		wg.Wait()
		v.clk.Advance(4 * time.Hour)
	}
	if total.Closed != 3 || total.Errors != 0 {
		t.Fatalf("ticks over a day: %+v; want 3 trades closed", total)
	}
	for _, o := range []*faka.Order{checked, never, cancelled} {
		q, c := v.gw.counts(o.OrderNo)
		if c != 1 {
			t.Fatalf("order %s: trade closed %d times, want 1", o.OrderNo, c)
		}
		if st := v.state(o); st.ClosedAt.IsZero() {
			t.Fatalf("order %s: check not closed: %+v", o.OrderNo, st)
		}
		t.Logf("order %s: queried %d times", o.OrderNo, q)
	}
	v.wantStatus(checked, faka.StatusExpired)
	v.reconcile()
}

func TestExpiredPaidAtGatewayIsDeliveredLate(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	p := v.poller(poller.Options{})
	prod := v.product(2, time.Minute)
	first := v.reserve(prod, 1, "fakepay")
	second := v.reserve(prod, 1, "fakepay")
	v.clk.Advance(61 * time.Second)
	if _, err := v.e.ExpireDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	v.wantStatus(first, faka.StatusExpired)
	// Another buyer takes one of the released keys: only one is left for
	// the two late payments.
	v.reserve(prod, 1, "plain")
	v.gw.pay(first, "T-late-1")
	v.gw.pay(second, "T-late-2")

	st := tick(t, p)
	if st.Claimed != 2 || st.Confirmed != 2 || st.Closed != 0 {
		t.Fatalf("tick: %+v; want both late payments applied", st)
	}
	// The late payment rules: fresh stock while there is some, then a
	// backorder. The two are checked at once, so either may get the key.
	a, b := v.order(first), v.order(second)
	if a.Status == faka.StatusPaidAwaitingStock {
		a, b = b, a
	}
	v.wantDelivered(a, 1)
	v.wantStatus(b, faka.StatusPaidAwaitingStock)
	v.wantPayments(first, "fakepay", "T-late-1")
	v.wantPayments(second, "fakepay", "T-late-2")
	for _, o := range []*faka.Order{first, second} {
		if _, c := v.gw.counts(o.OrderNo); c != 0 {
			t.Fatalf("the paid trade of %s was closed %d times", o.OrderNo, c)
		}
	}
	v.reconcile()
}

func TestPaidWhileClosingIsAppliedNextTick(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	p := v.poller(poller.Options{Interval: 10 * time.Second})
	prod := v.product(1, time.Minute)
	o := v.reserve(prod, 1, "fakepay")
	v.clk.Advance(61 * time.Second)
	if _, err := v.e.ExpireDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	v.gw.mu.Lock()
	v.gw.payOnClose[o.OrderNo] = faka.Notification{Gateway: "fakepay", OrderNo: o.OrderNo, TradeNo: "T-race",
		Amount: o.Amount, Currency: o.Currency}
	v.gw.mu.Unlock()

	// Unpaid when asked, paid when closed: not closed, asked again.
	wantStats(t, tick(t, p), poller.Stats{Claimed: 1, Errors: 1})
	v.wantStatus(o, faka.StatusExpired)
	if st := v.state(o); !st.ClosedAt.IsZero() || !strings.Contains(st.LastError, "close trade") {
		t.Fatalf("check row after the conflict: %+v", st)
	}
	wantStats(t, tick(t, p), poller.Stats{}) // not before Interval
	v.clk.Advance(10 * time.Second)
	wantStats(t, tick(t, p), poller.Stats{Claimed: 1, Confirmed: 1})
	v.wantDelivered(o, 1)
	if _, c := v.gw.counts(o.OrderNo); c != 1 {
		t.Fatalf("closed %d times, want 1", c)
	}
}

// TestPollersAndNotificationApplyOnce races two pollers (each with an
// engine of its own, as two instances would have) and the real
// notifications arriving at the same moment: every payment is applied
// exactly once.
func TestPollersAndNotificationApplyOnce(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	const n = 40
	prod := v.product(n, time.Hour)
	e2, err := engine.New(engine.Config{Store: v.st, Keyring: v.kr, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	p1 := v.poller(poller.Options{Batch: 7, Workers: 3})
	p2 := v.pollerOn(e2, poller.Options{Batch: 5, Workers: 2})
	var orders []*faka.Order
	var notes []faka.Notification
	for i := range n {
		o := v.reserve(prod, 1, "fakepay")
		orders = append(orders, o)
		notes = append(notes, v.gw.pay(o, fmt.Sprintf("T-%03d", i)))
	}
	v.clk.Advance(time.Minute)

	var mu sync.Mutex
	var total poller.Stats
	applied := 0 // by notifications
	var wg sync.WaitGroup
	for _, p := range []*poller.Poller{p1, p2} {
		wg.Go(func() {
			for {
				st := tick(t, p)
				mu.Lock()
				total.Confirmed += st.Confirmed
				total.Duplicates += st.Duplicates
				total.Errors += st.Errors
				mu.Unlock()
				if st.Claimed == 0 {
					return
				}
			}
		})
	}
	wg.Go(func() {
		// Newest first, to meet the pollers (oldest first) in the middle.
		for _, nt := range slices.Backward(notes) {
			res, err := v.e.ConfirmPayment(context.Background(), nt)
			if err != nil {
				t.Errorf("notification %s: %v", nt.TradeNo, err)
				return
			}
			if !res.Duplicate {
				mu.Lock()
				applied++
				mu.Unlock()
			}
		}
	})
	wg.Wait()
	if total.Errors != 0 {
		t.Fatalf("pollers: %+v", total)
	}
	if total.Confirmed+applied != n {
		t.Fatalf("pollers applied %d payments and notifications %d; want %d in all (duplicates seen: %d)",
			total.Confirmed, applied, n, total.Duplicates)
	}
	t.Logf("pollers applied %d, notifications %d, pollers found %d already applied", total.Confirmed, applied, total.Duplicates)
	for i, o := range orders {
		v.wantDelivered(o, 1)
		v.wantPayments(o, "fakepay", notes[i].TradeNo)
		if q, _ := v.gw.counts(o.OrderNo); q > 1 {
			t.Fatalf("order %s was queried %d times by two pollers; claims must be exclusive", o.OrderNo, q)
		}
	}
	if s := v.reconcile().Products[0]; s.Sold != n || s.Reserved != 0 || s.Available != 0 {
		t.Fatalf("stock: %+v, want %d sold", s, n)
	}
}

// TestRestartContinuesTheWork stops a poller in the middle of a check,
// restarts the shop on the same database, and checks that a new poller
// takes the work up: it lives in the database, not in the process.
func TestRestartContinuesTheWork(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	prod := v.product(3, time.Hour)
	done := v.reserve(prod, 1, "fakepay")
	unpaid := v.reserve(prod, 1, "fakepay")
	v.gw.pay(done, "T-done")
	v.clk.Advance(time.Minute)
	p := v.poller(poller.Options{})
	wantStats(t, tick(t, p), poller.Stats{Claimed: 2, Confirmed: 1, Unpaid: 1})

	// The buyer of inflight pays; the poller dies while asking about it.
	inflight := v.reserve(prod, 1, "fakepay")
	v.gw.pay(inflight, "T-inflight")
	v.clk.Advance(time.Minute) // unpaid is due again too
	v.gw.mu.Lock()
	v.gw.block = make(chan struct{})
	v.gw.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	ticked := make(chan error, 1)
	go func() {
		_, err := p.Tick(ctx)
		ticked <- err
	}()
	<-v.gw.block
	<-v.gw.block // both claimed orders are being asked about
	cancel()
	if err := <-ticked; err == nil {
		t.Fatal("a cancelled tick returned no error")
	}
	v.gw.mu.Lock()
	v.gw.block = nil
	v.gw.mu.Unlock()
	// The default lease covers the slowest batch: every worker waiting its
	// whole timeout on each of its orders, plus an interval.
	lease := 25*30*time.Second + 30*time.Second
	leaseEnd := v.clk.Now().Add(lease)
	if st := v.state(inflight); st.Checks != 1 || !st.NextCheckAt.Equal(leaseEnd) || st.LastError != "" {
		t.Fatalf("check row of the interrupted check: %+v; want it leased until %v", st, leaseEnd)
	}

	// Restart: a new store, engine and poller on the same file.
	v.close()
	v.open()
	p = v.poller(poller.Options{})
	v.clk.Advance(lease - time.Millisecond)
	wantStats(t, tick(t, p), poller.Stats{}) // the lease holds across the restart
	v.clk.Advance(time.Millisecond)
	wantStats(t, tick(t, p), poller.Stats{Claimed: 2, Confirmed: 1, Unpaid: 1})
	v.wantDelivered(inflight, 1)
	v.wantPayments(inflight, "fakepay", "T-inflight")
	if st := v.state(unpaid); st.Checks != 3 {
		t.Fatalf("the unpaid order's checks after the restart: %+v; want the count to go on (3)", st)
	}
	if q, _ := v.gw.counts(done.OrderNo); q != 1 {
		t.Fatalf("an order confirmed before the restart was queried %d times", q)
	}
	v.reconcile()
}

func TestNoCloserLastQueryOnly(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	qo := queryOnly{plainGateway{"qonly"}, newFakeGateway("qonly")}
	if err := v.reg.Register(qo); err != nil {
		t.Fatal(err)
	}
	p := v.poller(poller.Options{})
	o := v.reserve(v.product(1, time.Minute), 1, "qonly")
	if _, err := v.e.CancelOrder(context.Background(), o.OrderNo); err != nil {
		t.Fatal(err)
	}
	wantStats(t, tick(t, p), poller.Stats{}) // its reservation still runs
	v.clk.Advance(time.Minute)
	wantStats(t, tick(t, p), poller.Stats{Claimed: 1, Closed: 1})
	v.clk.Advance(time.Hour)
	wantStats(t, tick(t, p), poller.Stats{})
	if _, ok := any(qo).(payment.Closer); ok {
		t.Fatal("queryOnly is a Closer")
	}
	if q, c := qo.g.counts(o.OrderNo); q != 1 || c != 0 {
		t.Fatalf("queried %d, closed %d; want one last query and no close", q, c)
	}
}

func TestAudit(t *testing.T) {
	t.Parallel()
	v := newEnv(t)
	p := v.poller(poller.Options{})
	ctx := context.Background()
	prod := v.product(10, time.Minute)

	consistent := v.reserve(prod, 1, "fakepay") // paid both here and there
	v.gw.pay(consistent, "T-ok")
	if _, err := v.e.ConfirmPayment(ctx, faka.Notification{Gateway: "fakepay", OrderNo: consistent.OrderNo,
		TradeNo: "T-ok", Amount: consistent.Amount, Currency: "CNY"}); err != nil {
		t.Fatal(err)
	}
	paidHereOnly := v.reserve(prod, 1, "fakepay") // applied here, unknown there
	if _, err := v.e.ConfirmPayment(ctx, faka.Notification{Gateway: "fakepay", OrderNo: paidHereOnly.OrderNo,
		TradeNo: "T-ghost", Amount: paidHereOnly.Amount, Currency: "CNY"}); err != nil {
		t.Fatal(err)
	}
	unpaid := v.reserve(prod, 1, "fakepay")        // unpaid both here and there
	paidThereOnly := v.reserve(prod, 1, "fakepay") // expires here; paid there
	plain := v.reserve(prod, 1, "plain")           // its gateway cannot be asked
	other := v.reserve(prod, 1, "plain")           // placed with plain, paid through fakepay
	v.gw.pay(other, "T-other")
	if _, err := v.e.ConfirmPayment(ctx, faka.Notification{Gateway: "fakepay", OrderNo: other.OrderNo,
		TradeNo: "T-other", Amount: other.Amount, Currency: "CNY"}); err != nil {
		t.Fatal(err)
	}
	failing := v.reserve(prod, 1, "fakepay")
	v.gw.mu.Lock()
	v.gw.failOrder[failing.OrderNo] = faka.Errorf(faka.EUnavailable, "fakepay: down")
	v.gw.mu.Unlock()
	v.clk.Advance(61 * time.Second)
	if _, err := v.e.ExpireDue(ctx); err != nil {
		t.Fatal(err)
	}
	v.wantStatus(paidThereOnly, faka.StatusExpired)
	v.gw.pay(paidThereOnly, "T-lost")
	young := v.reserve(prod, 1, "fakepay") // left to its notification
	v.gw.pay(young, "T-young")

	rep, err := p.Audit(ctx, 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := []poller.Mismatch{
		{Kind: poller.UnpaidAtGateway, OrderNo: paidHereOnly.OrderNo, Gateway: "fakepay", Status: faka.StatusDelivered,
			TradeNo: "T-ghost", Amount: 990, Currency: "CNY"},
		{Kind: poller.PaidAtGateway, OrderNo: paidThereOnly.OrderNo, Gateway: "fakepay", Status: faka.StatusExpired,
			TradeNo: "T-lost", Amount: 990, Currency: "CNY"},
		{Kind: poller.OtherGateway, OrderNo: other.OrderNo, Gateway: "fakepay", Status: faka.StatusDelivered,
			TradeNo: "T-other", Amount: 990, Currency: "CNY"},
	}
	slices.SortFunc(want, func(a, b poller.Mismatch) int { return strings.Compare(a.OrderNo, b.OrderNo) })
	if fmt.Sprint(rep.Mismatches) != fmt.Sprint(want) {
		t.Fatalf("mismatches:\n got  %+v\n want %+v", rep.Mismatches, want)
	}
	if rep.OK() || rep.Checked != 5 || rep.Young != 1 || rep.Unchecked["plain"] != 1 || len(rep.Unchecked) != 1 {
		t.Fatalf("report: %+v; want 5 checked (consistent, unpaid, paid through another gateway and the two mismatches), 1 young, 1 unchecked", rep)
	}
	if len(rep.Failed) != 1 || rep.Failed[0].OrderNo != failing.OrderNo || faka.ErrorCode(rep.Failed[0].Err) != faka.EUnavailable {
		t.Fatalf("failed: %+v; want the failing order", rep.Failed)
	}

	// An audit changes nothing.
	v.wantStatus(paidThereOnly, faka.StatusExpired)
	if _, err := v.st.PaymentCheckGet(ctx, paidThereOnly.ID); faka.ErrorCode(err) != faka.ENotFound {
		t.Fatalf("the audit wrote a check row: %v", err)
	}

	// Only orders created within since are audited.
	v.clk.Advance(time.Hour)
	rep, err = p.Audit(ctx, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Checked != 0 || rep.Young != 0 {
		t.Fatalf("audit of the last 30 minutes: %+v; want nothing", rep)
	}

	// The poller repairs the lost payment (and closes the unpaid trades);
	// a new audit agrees on everything but the payment it cannot repair.
	v.gw.mu.Lock()
	delete(v.gw.failOrder, failing.OrderNo)
	v.gw.mu.Unlock()
	tick(t, p)
	v.wantDelivered(paidThereOnly, 1)
	v.wantDelivered(young, 1)
	for _, o := range []*faka.Order{unpaid, failing} {
		if _, c := v.gw.counts(o.OrderNo); c != 1 {
			t.Fatalf("expired order %s: trade closed %d times, want 1", o.OrderNo, c)
		}
	}
	v.wantStatus(plain, faka.StatusExpired) // left alone
	rep, err = p.Audit(ctx, 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, m := range rep.Mismatches {
		kinds[m.OrderNo] = m.Kind
	}
	if len(rep.Mismatches) != 2 || kinds[paidHereOnly.OrderNo] != poller.UnpaidAtGateway || kinds[other.OrderNo] != poller.OtherGateway ||
		len(rep.Failed) != 0 || rep.Checked != 7 || rep.Young != 0 || rep.Unchecked["plain"] != 1 {
		t.Fatalf("audit after the tick: %+v; want only %s unpaid at the gateway and %s paid through another gateway",
			rep, paidHereOnly.OrderNo, other.OrderNo)
	}
}
