// Package storetest is the conformance suite that every faka.Store driver
// runs (docs/ARCHITECTURE.md §7): the same test functions, the driver passed in.
//
// A driver's tests call Run for the method-by-method suite, Bank for the
// concurrency model test through the order engine, and may call
// CheckInvariants from their own tests. For example:
//
//	func TestConformance(t *testing.T) { storetest.Run(t, openStore) }
//	func TestBank(t *testing.T)        { storetest.Bank(t, openStore, storetest.BankOptions{}) }
//
// open must return a fresh, empty store for every call (the suite runs its
// tests in parallel, each on its own store) and close it with t.Cleanup.
//
// The suite assumes that the store's clock (Store.Now) is the real time:
// a few tests wait about a second for reservations to expire. The
// StateMachine subtest is property-based (pgregory.net/rapid); its usual
// flags apply, e.g. -rapid.checks=1000 or -rapid.seed=N to repeat a
// failure.
package storetest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
	"github.com/faka-dev/faka/keyring"
)

// Run runs the conformance suite against the stores that open returns. Each
// subtest opens its own store and runs in parallel with the others. After
// every step that changes state, the invariants of docs/ARCHITECTURE.md §1 are checked
// with CheckInvariants.
func Run(t *testing.T, open func(t *testing.T) faka.Store) {
	s := &suite{open: open}
	for _, tc := range s.tests() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t)
		})
	}
}

type suite struct {
	open func(t *testing.T) faka.Store
}

type namedTest struct {
	name string
	fn   func(t *testing.T)
}

func (s *suite) tests() []namedTest {
	return []namedTest{
		{"Now", s.testNow},

		{"ProductCreateGetRoundTrip", s.testProductCreateGet},
		{"ProductGetNotFound", s.testProductNotFound},
		{"ProductList", s.testProductList},
		{"ProductUpdate", s.testProductUpdate},
		{"ProductCountedStock", s.testProductCountedStock},
		{"StockAdd", s.testStockAdd},
		{"StockAddInvalid", s.testStockAddInvalid},
		{"StockList", s.testStockList},

		{"KeysImportDuplicates", s.testKeysImportDuplicates},
		{"KeysImportPerProduct", s.testKeysImportPerProduct},
		{"KeysImportSoldKeyIsDuplicate", s.testKeysImportSoldKeyIsDuplicate},
		{"KeysImportNotFound", s.testKeysImportNotFound},
		{"KeysVoid", s.testKeysVoid},

		{"ReserveOrderFields", s.testReserveOrderFields},
		{"ReserveBatchInOrder", s.testReserveBatchInOrder},
		{"ReserveKeysOldestFirst", s.testReserveKeysOldestFirst},
		{"ReserveSoldOut", s.testReserveSoldOut},
		{"ReserveCounted", s.testReserveCounted},
		{"ReserveUnknownProduct", s.testReserveUnknownProduct},
		{"ReserveInactiveProduct", s.testReserveInactiveProduct},
		{"Idempotency", s.testIdempotency},
		{"IdempotencyWithinBatch", s.testIdempotencyWithinBatch},
		{"IdempotencySoldOutNotStored", s.testIdempotencySoldOutNotStored},
		{"ScarceIdempotencyTwin", s.testScarceIdempotencyTwin},
		{"BatchBadQuantity", s.testBatchBadQuantity},
		{"BatchLaterSmallerFits", s.testBatchLaterSmallerFits},
		{"PaymentRacesExpiry", s.testPaymentRacesExpiry},
		{"DuplicateConfirmTogether", s.testDuplicateConfirmTogether},
		{"TxOutlivesCaller", s.testTxOutlivesCaller},
		{"HoldLimit", s.testHoldLimit},
		{"IdempotencyTwinsConcurrent", s.testIdempotencyTwinsConcurrent},

		{"PaymentConfirmDelivers", s.testPaymentConfirmDelivers},
		{"PaymentConfirmDuplicate", s.testPaymentConfirmDuplicate},
		{"PaymentConfirmTradeNoPerGateway", s.testPaymentConfirmTradeNoPerGateway},
		{"PaymentConfirmWrongAmountOrCurrency", s.testPaymentConfirmWrong},
		{"PaymentConfirmUnknownOrder", s.testPaymentConfirmUnknownOrder},
		{"PaymentConfirmExtra", s.testPaymentConfirmExtra},
		{"PaymentAfterCancel", s.testPaymentAfterCancel},
		{"PaymentAfterCancelBackorder", s.testPaymentAfterCancelBackorder},
		{"LatePaymentQueuesBehindBackorder", s.testLatePaymentQueuesBehindBackorder},

		{"OrdersExpire", s.testOrdersExpire},
		{"LatePaymentWithStock", s.testLatePaymentWithStock},
		{"LatePaymentBackorderFIFO", s.testLatePaymentBackorderFIFO},
		{"BackorderFulfilledByExpiry", s.testBackorderFulfilledByExpiry},

		{"OrderCancel", s.testOrderCancel},
		{"OrderRefund", s.testOrderRefund},
		{"OrderRefundBackorder", s.testOrderRefundBackorder},
		{"OrderRefundInvalid", s.testOrderRefundInvalid},
		{"ManualDelivery", s.testManualDelivery},
		{"ReusableDelivery", s.testReusableDelivery},
		{"OrderKeysDecrypt", s.testOrderKeysDecrypt},
		{"OrderList", s.testOrderList},
		{"PaymentsByOrder", s.testPaymentsByOrder},

		{"ReconcileFigures", s.testReconcileFigures},
		{"StateMachine", s.testStateMachine},

		{"PaymentChecksDue", s.testPaymentChecksDue},
		{"PaymentChecksBackoff", s.testPaymentChecksBackoff},
		{"PaymentChecksClosing", s.testPaymentChecksClosing},
		{"PaymentChecksOrderAndLimit", s.testPaymentChecksOrderAndLimit},
		{"PaymentChecksExclusive", s.testPaymentChecksExclusive},
		{"PaymentChecksPrune", s.testPaymentChecksPrune},
		{"OrdersSince", s.testOrdersSince},
	}
}

// bundle is what one test works with: its own store, a keyring, and
// counters that make order and trade numbers unique within the store.
type bundle struct {
	t     *testing.T
	ctx   context.Context
	st    faka.Store
	rules engine.Rules // the order rules, run directly on st
	kr    *keyring.Keyring
	seq   int
	// reusable holds the plaintext key of each reusable product.
	reusable map[int64]string
}

func (s *suite) setup(t *testing.T) *bundle {
	t.Helper()
	st := s.open(t)
	if st == nil {
		t.Fatal("storetest: open returned a nil store")
	}
	return &bundle{t: t, ctx: t.Context(), st: st, rules: engine.Rules{Store: st}, kr: newKeyring(t),
		reusable: map[int64]string{}}
}

func newKeyring(t testing.TB) *keyring.Keyring {
	t.Helper()
	master := make([]byte, keyring.MasterKeySize)
	for i := range master {
		master[i] = byte(i*7 + 3)
	}
	kr, err := keyring.New(master)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func (b *bundle) next() int {
	b.seq++
	return b.seq
}

// check asserts the invariants; the suite calls it after every change.
func (b *bundle) check() {
	b.t.Helper()
	CheckInvariants(b.t, b.st)
}

const (
	longTTL  = time.Hour
	shortTTL = time.Second
)

// newProduct returns an unsaved product with sensible values.
func newProduct(name string, d faka.Delivery, ttl time.Duration) *faka.Product {
	return &faka.Product{
		Name:           name,
		Description:    "conformance test product",
		Price:          990,
		Currency:       "CNY",
		Delivery:       d,
		ReservationTTL: ttl,
		MinQuantity:    1,
		MaxQuantity:    100,
		Active:         true,
	}
}

// product creates a product. Counted products get stock units; a reusable
// product gets a fresh secret, remembered in b.reusable.
func (b *bundle) product(d faka.Delivery, ttl time.Duration, stock int64) *faka.Product {
	b.t.Helper()
	p := newProduct(fmt.Sprintf("product %d", b.next()), d, ttl)
	var sealed *faka.SealedKey
	secret := ""
	if d == faka.DeliveryReusable {
		secret = fmt.Sprintf("LOOP-%d-SECRET", b.seq)
		sk := b.kr.SealReusable(secret)
		sealed = &sk
	}
	if err := b.st.ProductCreate(b.ctx, p, sealed, stock, nil); err != nil {
		b.t.Fatalf("ProductCreate(%s): %v", d, err)
	}
	if p.ID <= 0 {
		b.t.Fatalf("ProductCreate set ID %d, want > 0", p.ID)
	}
	if secret != "" {
		b.reusable[p.ID] = secret
	}
	b.check()
	return p
}

// cardProduct creates a card product and imports the given secrets.
func (b *bundle) cardProduct(ttl time.Duration, secrets ...string) *faka.Product {
	b.t.Helper()
	p := b.product(faka.DeliveryCard, ttl, 0)
	if len(secrets) > 0 {
		res := b.importKeys(p, secrets...)
		if res.Imported != len(secrets) {
			b.t.Fatalf("import of %d distinct keys: Imported = %d", len(secrets), res.Imported)
		}
	}
	return p
}

// secrets returns n distinct secrets with a prefix.
func secrets(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%04d", prefix, i)
	}
	return out
}

func (b *bundle) seal(p *faka.Product, secrets ...string) []faka.SealedKey {
	keys := make([]faka.SealedKey, len(secrets))
	for i, s := range secrets {
		keys[i] = b.kr.SealCard(p.ID, s)
	}
	return keys
}

func (b *bundle) importKeys(p *faka.Product, secrets ...string) faka.ImportResult {
	b.t.Helper()
	res, err := b.rules.KeysImport(b.ctx, p.ID, b.seal(p, secrets...))
	if err != nil {
		b.t.Fatalf("KeysImport(product %d, %d keys): %v", p.ID, len(secrets), err)
	}
	b.check()
	return res
}

func tokenHash(s string) []byte {
	h := sha256.Sum256([]byte("token:" + s))
	return h[:]
}

// params returns a reservation of qty units of p for a new buyer.
func (b *bundle) params(p *faka.Product, qty int, ttl time.Duration) faka.ReserveParams {
	n := b.next()
	no := fmt.Sprintf("ORD%06d", n)
	return faka.ReserveParams{
		OrderNo:   no,
		TokenHash: tokenHash(no),
		Quantity:  qty,
		UnitPrice: p.Price,
		Amount:    p.Price * int64(qty),
		Currency:  p.Currency,
		Email:     fmt.Sprintf("buyer%d@example.com", n),
		Gateway:   "sandbox",
		TTL:       ttl,
	}
}

// reserveBatch runs ReserveBatch and checks the outcomes line up with the
// batch: one per buyer, in order, exactly one of Order and Err set.
func (b *bundle) reserveBatch(p *faka.Product, batch ...faka.ReserveParams) []faka.ReserveOutcome {
	b.t.Helper()
	out, err := b.rules.ReserveBatch(b.ctx, p.ID, batch)
	if err != nil {
		b.t.Fatalf("ReserveBatch(product %d, %d buyers): %v", p.ID, len(batch), err)
	}
	if len(out) != len(batch) {
		b.t.Fatalf("ReserveBatch returned %d outcomes for %d buyers", len(out), len(batch))
	}
	for i, o := range out {
		switch {
		case (o.Order == nil) == (o.Err == nil):
			b.t.Fatalf("outcome %d: Order = %v, Err = %v; want exactly one set", i, o.Order, o.Err)
		case o.Order != nil && o.Order.OrderNo != batch[i].OrderNo:
			b.t.Fatalf("outcome %d is order %s, want %s (outcomes must follow the batch order)", i, o.Order.OrderNo, batch[i].OrderNo)
		}
	}
	b.check()
	return out
}

// reserve reserves qty units of p for one buyer and fails unless it worked.
func (b *bundle) reserve(p *faka.Product, qty int, ttl time.Duration) *faka.Order {
	b.t.Helper()
	out := b.reserveBatch(p, b.params(p, qty, ttl))
	if out[0].Err != nil {
		b.t.Fatalf("reserve %d of product %d: %v", qty, p.ID, out[0].Err)
	}
	return out[0].Order
}

// reserveSoldOut asserts that qty units of p can not be reserved now.
func (b *bundle) reserveSoldOut(p *faka.Product, qty int) {
	b.t.Helper()
	prm := b.params(p, qty, longTTL)
	out := b.reserveBatch(p, prm)
	wantCode(b.t, out[0].Err, faka.ESoldOut, "reserve %d of product %d", qty, p.ID)
	b.orderNotFound(prm.OrderNo)
}

func (b *bundle) notification(o *faka.Order) faka.Notification {
	return faka.Notification{
		Gateway:  o.Gateway,
		OrderNo:  o.OrderNo,
		TradeNo:  fmt.Sprintf("TRADE%06d", b.next()),
		Amount:   o.Amount,
		Currency: o.Currency,
	}
}

// confirm runs PaymentConfirm, which must succeed, and checks that the
// result describes the notification.
func (b *bundle) confirm(n faka.Notification) *faka.ConfirmResult {
	b.t.Helper()
	res, err := b.rules.PaymentConfirm(b.ctx, n)
	if err != nil {
		b.t.Fatalf("PaymentConfirm(%+v): %v", n, err)
	}
	checkConfirmResult(b.t, n, res)
	b.check()
	return res
}

// fataler is what checks need from *testing.T and *rapid.T.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

func checkConfirmResult(t fataler, n faka.Notification, res *faka.ConfirmResult) {
	t.Helper()
	if problem := confirmProblem(n, res); problem != "" {
		t.Fatalf("%s", problem)
	}
}

// confirmProblem says what is wrong with a ConfirmResult for n, if anything.
func confirmProblem(n faka.Notification, res *faka.ConfirmResult) string {
	switch {
	case res == nil || res.Order == nil || res.Payment == nil:
		return fmt.Sprintf("PaymentConfirm(%+v) = %+v; want Order and Payment set", n, res)
	case res.Order.OrderNo != n.OrderNo:
		return fmt.Sprintf("PaymentConfirm(%s).Order.OrderNo = %s", n.OrderNo, res.Order.OrderNo)
	case res.Payment.Gateway != n.Gateway || res.Payment.TradeNo != n.TradeNo:
		return fmt.Sprintf("PaymentConfirm payment is %s/%s, want %s/%s", res.Payment.Gateway, res.Payment.TradeNo, n.Gateway, n.TradeNo)
	case res.Payment.OrderNo != n.OrderNo || res.Payment.OrderID != res.Order.ID:
		return fmt.Sprintf("payment belongs to order %s (%d), want %s (%d)", res.Payment.OrderNo, res.Payment.OrderID, n.OrderNo, res.Order.ID)
	case res.Payment.Amount != n.Amount || res.Payment.Currency != n.Currency:
		return fmt.Sprintf("payment is %d %s, want %d %s", res.Payment.Amount, res.Payment.Currency, n.Amount, n.Currency)
	case res.Payment.ID <= 0:
		return fmt.Sprintf("payment ID = %d, want > 0", res.Payment.ID)
	case (res.Duplicate || res.Payment.Outcome == faka.OutcomeExtra) && (res.Late || res.LateUnits != 0):
		// The engine moves its admission gate by LateUnits: a repeat or an
		// unapplied trade that reported units would move it twice.
		return fmt.Sprintf("PaymentConfirm(%s/%s): Duplicate %v outcome %q with Late %v LateUnits %d; nothing was applied",
			n.Gateway, n.TradeNo, res.Duplicate, res.Payment.Outcome, res.Late, res.LateUnits)
	}
	return ""
}

// pay pays o with a new trade and returns the result.
func (b *bundle) pay(o *faka.Order) *faka.ConfirmResult {
	b.t.Helper()
	return b.confirm(b.notification(o))
}

// payWant pays o and asserts the outcome and the order's new status.
func (b *bundle) payWant(o *faka.Order, outcome string, status faka.OrderStatus) *faka.ConfirmResult {
	b.t.Helper()
	was := b.order(o.OrderNo).Status
	res := b.pay(o)
	if res.Duplicate {
		b.t.Fatalf("first payment of %s: Duplicate = true", o.OrderNo)
	}
	if res.Payment.Outcome != outcome || res.Order.Status != status {
		b.t.Fatalf("payment of %s (was %s): outcome %q, status %s; want %q, %s", o.OrderNo, was, res.Payment.Outcome, res.Order.Status, outcome, status)
	}
	b.wantStatus(o.OrderNo, status)
	// Late marks a payment that came after the reservation ended (expired
	// or cancelled); LateUnits is the fresh stock it claimed.
	wantLate := was == faka.StatusExpired || was == faka.StatusCancelled
	var wantUnits int64
	if wantLate && outcome != faka.OutcomeAwaitingStock {
		wantUnits = int64(o.Quantity)
	}
	if res.Late != wantLate || res.LateUnits != wantUnits {
		b.t.Fatalf("payment of %s order %s: Late %v, LateUnits %d; want %v, %d", was, o.OrderNo, res.Late, res.LateUnits, wantLate, wantUnits)
	}
	return res
}

func (b *bundle) order(no string) *faka.Order {
	b.t.Helper()
	o, err := b.st.OrderGet(b.ctx, no)
	if err != nil {
		b.t.Fatalf("OrderGet(%s): %v", no, err)
	}
	if o.OrderNo != no {
		b.t.Fatalf("OrderGet(%s) returned order %s", no, o.OrderNo)
	}
	return o
}

func (b *bundle) orderNotFound(no string) {
	b.t.Helper()
	_, err := b.st.OrderGet(b.ctx, no)
	wantCode(b.t, err, faka.ENotFound, "OrderGet(%s)", no)
}

func (b *bundle) wantStatus(no string, want faka.OrderStatus) *faka.Order {
	b.t.Helper()
	o := b.order(no)
	if o.Status != want {
		b.t.Fatalf("order %s is %s, want %s", no, o.Status, want)
	}
	return o
}

func (b *bundle) stock(p *faka.Product) faka.Stock {
	b.t.Helper()
	s, err := b.st.StockGet(b.ctx, p.ID)
	if err != nil {
		b.t.Fatalf("StockGet(%d): %v", p.ID, err)
	}
	return s
}

// wantStock asserts p's stock figures: imported, available, reserved, sold, void.
func (b *bundle) wantStock(p *faka.Product, imported, available, reserved, sold, void int64) {
	b.t.Helper()
	want := faka.Stock{ProductID: p.ID, Imported: imported, Available: available, Reserved: reserved, Sold: sold, Void: void}
	if got := b.stock(p); got != want {
		b.t.Fatalf("stock of product %d:\n got  %s\n want %s", p.ID, fmtStock(got), fmtStock(want))
	}
}

func fmtStock(s faka.Stock) string {
	return fmt.Sprintf("imported=%d available=%d reserved=%d sold=%d void=%d",
		s.Imported, s.Available, s.Reserved, s.Sold, s.Void)
}

// keys returns the plaintext of the keys an order holds.
func (b *bundle) keys(o *faka.Order) []string {
	b.t.Helper()
	got, err := orderSecrets(b.ctx, b.st, b.kr, o)
	if err != nil {
		b.t.Fatal(err)
	}
	return got
}

func orderSecrets(ctx context.Context, st faka.Store, kr *keyring.Keyring, o *faka.Order) ([]string, error) {
	sealed, err := st.OrderKeys(ctx, o.ID)
	if err != nil {
		return nil, fmt.Errorf("OrderKeys(%s): %w", o.OrderNo, err)
	}
	out := make([]string, 0, len(sealed))
	for i, sk := range sealed {
		s, err := kr.OpenKey(o.ProductID, o.Delivery == faka.DeliveryReusable, sk)
		if err != nil {
			return nil, fmt.Errorf("order %s key %d does not decrypt: %w", o.OrderNo, i, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// wantKeys asserts that o holds exactly the given secrets, in any order.
func (b *bundle) wantKeys(o *faka.Order, want ...string) {
	b.t.Helper()
	got := b.keys(o)
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		b.t.Fatalf("order %s holds keys %q, want %q", o.OrderNo, got, want)
	}
}

func (b *bundle) now() time.Time {
	b.t.Helper()
	now, err := b.st.Now(b.ctx)
	if err != nil {
		b.t.Fatalf("Now: %v", err)
	}
	return now
}

// waitPast waits until the database clock is past every given time.
func (b *bundle) waitPast(times ...time.Time) {
	b.t.Helper()
	waitPast(b.t, b.st, times...)
}

func waitPast(t testing.TB, st faka.Store, times ...time.Time) {
	t.Helper()
	until := slices.MaxFunc(times, time.Time.Compare)
	deadline := time.Now().Add(30 * time.Second)
	for {
		now, err := st.Now(t.Context())
		if err != nil {
			t.Fatalf("Now: %v", err)
		}
		if now.After(until) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the database clock (%v) did not pass %v within 30s", now, until)
		}
		time.Sleep(min(until.Sub(now)+10*time.Millisecond, 200*time.Millisecond))
	}
}

// expire runs OrdersExpire and returns the releases.
func (b *bundle) expire(limit int) []faka.Release {
	b.t.Helper()
	rel, err := b.rules.OrdersExpire(b.ctx, limit)
	if err != nil {
		b.t.Fatalf("OrdersExpire(%d): %v", limit, err)
	}
	b.check()
	return rel
}

// released sums the releases of one product.
func released(rel []faka.Release, productID int64) (units int64, fulfilled int) {
	for _, r := range rel {
		if r.ProductID == productID {
			units += r.Units
			fulfilled += r.Fulfilled
		}
	}
	return units, fulfilled
}

func (b *bundle) cancel(o *faka.Order) (*faka.Order, []faka.Release) {
	b.t.Helper()
	got, rel, err := b.rules.OrderCancel(b.ctx, o.OrderNo)
	if err != nil {
		b.t.Fatalf("OrderCancel(%s): %v", o.OrderNo, err)
	}
	if got == nil || got.OrderNo != o.OrderNo || got.Status != faka.StatusCancelled {
		b.t.Fatalf("OrderCancel(%s) returned %+v; want the order, cancelled", o.OrderNo, got)
	}
	b.check()
	return got, rel
}

func (b *bundle) refund(o *faka.Order) *faka.Order {
	b.t.Helper()
	got, err := b.rules.OrderRefund(b.ctx, o.OrderNo)
	if err != nil {
		b.t.Fatalf("OrderRefund(%s): %v", o.OrderNo, err)
	}
	if got == nil || got.OrderNo != o.OrderNo || got.Status != faka.StatusRefunded {
		b.t.Fatalf("OrderRefund(%s) returned %+v; want the order, refunded", o.OrderNo, got)
	}
	b.check()
	return got
}

// wantCode fails unless err carries the error code want.
func wantCode(t testing.TB, err error, want string, format string, args ...any) {
	t.Helper()
	if got := faka.ErrorCode(err); got != want {
		t.Fatalf("%s: error %v (code %q), want code %q", fmt.Sprintf(format, args...), err, got, want)
	}
}
