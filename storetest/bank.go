package storetest

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
	"github.com/faka-dev/faka/keyring"
)

// BankOptions sizes the bank test. Zero fields take defaults that depend on
// testing.Short.
type BankOptions struct {
	// Workers is the number of goroutines doing random operations
	// (default 256, 64 with -short).
	Workers int
	// Ops is the number of operations each worker does (default 4 with
	// -short, 12 without).
	Ops int
	// Duplicates is how many goroutines send each payment notification at
	// once (default 3).
	Duplicates int
	// Seed seeds the random choices; 0 picks one, which is logged so that
	// a failing run can be repeated (the interleaving still varies).
	Seed uint64
}

func (o *BankOptions) defaults() {
	if o.Workers <= 0 {
		// Each worker sends every notification from Duplicates goroutines
		// at once, so the full run has about a thousand goroutines at work.
		o.Workers = 256
		if testing.Short() {
			o.Workers = 64
		}
	}
	if o.Ops <= 0 {
		o.Ops = 12
		if testing.Short() {
			o.Ops = 4
		}
	}
	if o.Duplicates <= 0 {
		o.Duplicates = 3
	}
	if o.Seed == 0 {
		o.Seed = rand.Uint64()
	}
}

// Bank is the concurrency model test of docs/ARCHITECTURE.md §7, run through the
// order engine on a store that open returns. Many goroutines reserve, pay
// (each notification sent by several goroutines at once, some after the
// reservation expired, some tampered with), cancel, import keys with
// duplicates, refund and deliver by hand, while a checker reconciles the
// store continuously. A model records what the engine answered; at the end
// every order, payment and key is checked against it and against the
// invariants of docs/ARCHITECTURE.md §1.
func Bank(t *testing.T, open func(t *testing.T) faka.Store, opts BankOptions) {
	defaultSize := opts.Workers == 0 && opts.Ops == 0 && !testing.Short()
	opts.defaults()
	t.Logf("bank: %d workers × %d operations, %d copies of each notification, seed %d",
		opts.Workers, opts.Ops, opts.Duplicates, opts.Seed)
	st := open(t)
	kr := newKeyring(t)
	ctx := t.Context()
	e, err := engine.New(engine.Config{
		Store:          st,
		Keyring:        kr,
		Logger:         slog.New(slog.DiscardHandler),
		SweepInterval:  50 * time.Millisecond,
		ResyncInterval: time.Second,
	})
	if err != nil {
		t.Fatalf("engine.New: %v", err)
	}
	e.Start(ctx)
	closed := false
	closeEngine := func() {
		if !closed {
			closed = true
			e.Close()
		}
	}
	defer closeEngine()

	bk := &bank{t: t, e: e, st: st, kr: kr, opts: opts, byNo: map[string]*bankOrder{}}
	// Little stock, so that buyers run into sold out, late payments into
	// backorders, and imports and expiry fulfil them.
	bk.fast = bk.newProduct(ctx, faka.DeliveryCard, time.Second, 100, 10)
	bk.slow = bk.newProduct(ctx, faka.DeliveryCard, 5*time.Minute, 250, 10)
	bk.loop = bk.newProduct(ctx, faka.DeliveryReusable, 5*time.Minute, 50, 60)
	bk.manual = bk.newProduct(ctx, faka.DeliveryManual, time.Second, 1000, 40)
	// Three keys that no import restocks during the run: late payments for
	// it find the keys taken and become backorders.
	bk.scarce = bk.newProduct(ctx, faka.DeliveryCard, time.Second, 30, 3)
	bk.products = []*bankProduct{bk.fast, bk.slow, bk.loop, bk.manual, bk.scarce}
	CheckInvariants(t, st)

	// The checker: the invariants must hold at every instant.
	stop := make(chan struct{})
	var checks atomic.Int64
	var checker sync.WaitGroup
	checker.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			rep, err := st.Reconcile(ctx)
			if err != nil {
				t.Errorf("Reconcile during the run: %v", err)
				return
			}
			if problems := reportProblems(rep); len(problems) > 0 {
				t.Errorf("invariants broken during the run:\n%s", strings.Join(problems, "\n"))
				return
			}
			checks.Add(1)
		}
	})

	var workers sync.WaitGroup
	for w := range opts.Workers {
		workers.Go(func() {
			rng := rand.New(rand.NewPCG(opts.Seed, uint64(w)))
			for range opts.Ops {
				if t.Failed() {
					return
				}
				bk.step(ctx, rng)
			}
		})
	}
	workers.Wait()
	close(stop)
	checker.Wait()
	if t.Failed() {
		return
	}
	if checks.Load() == 0 {
		t.Fatal("the checker did not complete one Reconcile during the run")
	}

	bk.settle(ctx)
	bk.restockBackorders(ctx)
	bk.verify(ctx, closeEngine)
	if defaultSize {
		bk.requireEveryPath()
	}
	t.Logf("bank: %d orders (%d sold out, %d expired, %d idempotent replays), %d trades (%d late, %d backordered, %d tampered refused), %d refunds, %d manual deliveries, %d imports; %d backorders fulfilled; %d reconciliations during the run",
		len(bk.orders), bk.soldOut.Load(), bk.expired.Load(), bk.replays.Load(), bk.trades.Load(), bk.late.Load(),
		bk.backordered.Load(), bk.tampered.Load(), bk.refunds.Load(), bk.delivered.Load(), bk.imports.Load(),
		bk.fulfilled.Load(), checks.Load())
}

// requireEveryPath fails a run of the default size that did not take
// every path the rules have: a run that never filled a backorder, say,
// would pass without testing it.
func (bk *bank) requireEveryPath() {
	for _, c := range []struct {
		what string
		n    int64
	}{
		{"backorder filled", bk.fulfilled.Load()},
		{"late payment", bk.late.Load()},
		{"payment that made a backorder", bk.backordered.Load()},
		{"refund", bk.refunds.Load()},
		{"expired reservation", bk.expired.Load()},
		{"idempotent replay", bk.replays.Load()},
		{"sold-out answer", bk.soldOut.Load()},
		{"manual delivery", bk.delivered.Load()},
		{"refused tampered notification", bk.tampered.Load()},
	} {
		if c.n == 0 {
			bk.t.Errorf("bank: this run had no %s; the default size must exercise every path (seed %d)", c.what, bk.opts.Seed)
		}
	}
}

type bankProduct struct {
	p       *faka.Product
	initial int64
	loopKey string

	mu       sync.Mutex
	sent     map[string]bool // every secret imported so far (import returned)
	list     []string        // the same, for drawing duplicates
	imported int64           // sum of ImportResult.Imported
}

type bankTrade struct {
	order     *bankOrder
	tradeNo   string
	paymentID int64
	outcome   string
}

type bankOrder struct {
	no      string
	product *bankProduct
	qty     int
	amount  int64

	mu        sync.Mutex
	trades    []bankTrade // trades the engine confirmed
	refused   []string    // trade numbers of tampered notifications
	refunded  bool        // a refund succeeded
	refundNo  bool        // a refund of a paid order was refused
	delivered bool        // a manual delivery succeeded
}

func (o *bankOrder) paid() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.trades) > 0
}

type bank struct {
	t    *testing.T
	e    *engine.Engine
	st   faka.Store
	kr   *keyring.Keyring
	opts BankOptions

	fast, slow, loop, manual, scarce *bankProduct
	products                         []*bankProduct

	mu     sync.Mutex
	orders []*bankOrder
	byNo   map[string]*bankOrder
	all    []bankTrade // every confirmed trade, for repeats

	seq                                                 atomic.Int64
	soldOut, trades, late, tampered, refunds, delivered atomic.Int64
	imports, backordered, fulfilled, replays, expired   atomic.Int64
}

func (bk *bank) newProduct(ctx context.Context, d faka.Delivery, ttl time.Duration, price, stock int64) *bankProduct {
	t := bk.t
	p := &faka.Product{Name: fmt.Sprintf("bank %s %v", d, ttl), Price: price, Currency: "CNY", Delivery: d,
		ReservationTTL: ttl, MinQuantity: 1, MaxQuantity: 10, Active: true}
	bp := &bankProduct{sent: map[string]bool{}}
	units := int64(0)
	if d.Counted() {
		units = stock
		bp.initial = stock
	}
	if d == faka.DeliveryReusable {
		p.ReusableKey = fmt.Sprintf("BANK-LOOP-KEY-%d", bk.seq.Add(1))
		bp.loopKey = p.ReusableKey
	}
	if err := bk.e.CreateProduct(ctx, p, units, nil); err != nil {
		t.Fatalf("CreateProduct(%s): %v", d, err)
	}
	bp.p = p
	if d == faka.DeliveryCard {
		bk.importKeys(ctx, bp, int(stock), 0, false)
	}
	return bp
}

func (bk *bank) randomOrder(rng *rand.Rand, filter func(*bankOrder) bool) *bankOrder {
	bk.mu.Lock()
	defer bk.mu.Unlock()
	for range 8 {
		if len(bk.orders) == 0 {
			return nil
		}
		o := bk.orders[rng.IntN(len(bk.orders))]
		if filter == nil || filter(o) {
			return o
		}
	}
	return nil
}

// step does one random operation.
func (bk *bank) step(ctx context.Context, rng *rand.Rand) {
	switch r := rng.IntN(100); {
	case r < 4:
		bk.reserveReplayed(ctx, bk.products[rng.IntN(len(bk.products))], 1+rng.IntN(3))
	case r < 30:
		bk.reserve(ctx, bk.products[rng.IntN(len(bk.products))], 1+rng.IntN(3))
	case r < 55:
		if o := bk.randomOrder(rng, nil); o != nil {
			bk.pay(ctx, o, bk.tradeNo())
		}
	case r < 58:
		bk.latePay(ctx, rng)
	case r < 65:
		bk.tamper(ctx, rng)
	case r < 70:
		bk.repeat(ctx, rng)
	case r < 78:
		if o := bk.randomOrder(rng, nil); o != nil {
			bk.cancel(ctx, o)
		}
	case r < 86:
		p := bk.fast
		if rng.IntN(2) == 0 {
			p = bk.slow
		}
		bk.importKeys(ctx, p, 1+rng.IntN(6), rng.IntN(3), rng.IntN(4) == 0)
	case r < 93:
		if o := bk.randomOrder(rng, (*bankOrder).paid); o != nil {
			bk.refund(ctx, o)
		}
	default:
		manualPaid := func(o *bankOrder) bool { return o.product == bk.manual && o.paid() }
		if o := bk.randomOrder(rng, manualPaid); o != nil {
			bk.deliver(ctx, o)
		}
	}
}

func (bk *bank) tradeNo() string { return fmt.Sprintf("BANK-T%06d", bk.seq.Add(1)) }

func (bk *bank) reserve(ctx context.Context, p *bankProduct, qty int) *bankOrder {
	return bk.reserveWith(ctx, engine.ReserveRequest{ProductID: p.p.ID, Quantity: qty,
		Email: fmt.Sprintf("bank%d@example.com", bk.seq.Add(1)), Gateway: "sandbox"}, p)
}

// reserveReplayed reserves with an Idempotency-Key and sends the same
// request again: the second answer must be the first order, replayed.
func (bk *bank) reserveReplayed(ctx context.Context, p *bankProduct, qty int) {
	n := bk.seq.Add(1)
	req := engine.ReserveRequest{ProductID: p.p.ID, Quantity: qty, Email: fmt.Sprintf("bank%d@example.com", n),
		Gateway: "sandbox", IdempotencyKey: fmt.Sprintf("BANK-IDEM-%d", n), RequestHash: []byte(fmt.Sprint("body ", n))}
	first, token := bk.reserveToken(ctx, req, p)
	if first == nil {
		return
	}
	again, err := bk.e.Reserve(ctx, req)
	if err != nil {
		bk.t.Errorf("replay of Idempotency-Key %s: %v", req.IdempotencyKey, err)
		return
	}
	if !again.Replayed || again.Order.OrderNo != first.no || again.Token != token {
		bk.t.Errorf("replay of Idempotency-Key %s = order %s (replayed %v), want the first order %s and its token",
			req.IdempotencyKey, again.Order.OrderNo, again.Replayed, first.no)
		return
	}
	bk.replays.Add(1)
}

func (bk *bank) reserveWith(ctx context.Context, req engine.ReserveRequest, p *bankProduct) *bankOrder {
	o, _ := bk.reserveToken(ctx, req, p)
	return o
}

// reserveToken reserves and records the order in the model; it returns
// the order (nil when sold out or refused) and the buyer's token.
func (bk *bank) reserveToken(ctx context.Context, req engine.ReserveRequest, p *bankProduct) (*bankOrder, string) {
	t := bk.t
	qty := req.Quantity
	res, err := bk.e.Reserve(ctx, req)
	if faka.ErrorCode(err) == faka.ESoldOut {
		bk.soldOut.Add(1)
		return nil, ""
	}
	if err != nil {
		t.Errorf("Reserve(%s, %d): %v", p.p.Delivery, qty, err)
		return nil, ""
	}
	o := res.Order
	if o.Status != faka.StatusPending || o.Quantity != qty || o.Amount != p.p.Price*int64(qty) || o.Currency != p.p.Currency || o.ProductID != p.p.ID || res.Token == "" {
		t.Errorf("Reserve(%s, %d) = %+v, token %q", p.p.Delivery, qty, o, res.Token)
		return nil, ""
	}
	bo := &bankOrder{no: o.OrderNo, product: p, qty: qty, amount: o.Amount}
	bk.mu.Lock()
	if bk.byNo[o.OrderNo] != nil {
		t.Errorf("Reserve returned order %s twice", o.OrderNo)
	}
	bk.orders = append(bk.orders, bo)
	bk.byNo[o.OrderNo] = bo
	bk.mu.Unlock()
	return bo, res.Token
}

// pay sends one genuine notification from several goroutines at once:
// exactly one must apply it, the others must see a duplicate of it.
func (bk *bank) pay(ctx context.Context, o *bankOrder, tradeNo string) {
	t := bk.t
	n := faka.Notification{Gateway: "sandbox", OrderNo: o.no, TradeNo: tradeNo, Amount: o.amount, Currency: "CNY"}
	k := bk.opts.Duplicates
	results := make([]*faka.ConfirmResult, k)
	errs := make([]error, k)
	var wg sync.WaitGroup
	for i := range k {
		wg.Go(func() { results[i], errs[i] = bk.e.ConfirmPayment(ctx, n) })
	}
	wg.Wait()
	applied := 0
	for i := range k {
		if errs[i] != nil {
			t.Errorf("ConfirmPayment(%s for %s), copy %d of %d: %v", tradeNo, o.no, i+1, k, errs[i])
			return
		}
		r := results[i]
		if problem := confirmProblem(n, r); problem != "" {
			t.Errorf("copy %d of %d: %s", i+1, k, problem)
			return
		}
		if !r.Duplicate {
			applied++
		}
		if r.Payment.ID != results[0].Payment.ID || r.Payment.Outcome != results[0].Payment.Outcome {
			t.Errorf("copies of trade %s got payments %d %q and %d %q", tradeNo, r.Payment.ID, r.Payment.Outcome, results[0].Payment.ID, results[0].Payment.Outcome)
			return
		}
	}
	if applied != 1 {
		t.Errorf("trade %s sent %d times at once was applied %d times, want once", tradeNo, k, applied)
		return
	}
	tr := bankTrade{order: o, tradeNo: tradeNo, paymentID: results[0].Payment.ID, outcome: results[0].Payment.Outcome}
	o.mu.Lock()
	o.trades = append(o.trades, tr)
	o.mu.Unlock()
	bk.mu.Lock()
	bk.all = append(bk.all, tr)
	bk.mu.Unlock()
	bk.trades.Add(1)
	if tr.outcome == faka.OutcomeAwaitingStock {
		bk.backordered.Add(1)
	}
}

// latePay reserves a short-lived order, lets its reservation run out and
// the sweeper release it, then pays.
func (bk *bank) latePay(ctx context.Context, rng *rand.Rand) {
	p := bk.fast
	if rng.IntN(2) == 0 {
		p = bk.scarce
	}
	o := bk.reserve(ctx, p, 1+rng.IntN(2))
	if o == nil {
		return
	}
	got, err := bk.st.OrderGet(ctx, o.no)
	if err != nil {
		bk.t.Errorf("OrderGet(%s): %v", o.no, err)
		return
	}
	now, err := bk.st.Now(ctx)
	if err != nil {
		bk.t.Errorf("Now: %v", err)
		return
	}
	time.Sleep(got.ReservedUntil.Sub(now) + 150*time.Millisecond)
	bk.pay(ctx, o, bk.tradeNo())
	bk.late.Add(1)
}

// tamper sends a notification with a wrong amount or currency, which must
// be refused; sometimes the genuine one follows with the same trade number.
func (bk *bank) tamper(ctx context.Context, rng *rand.Rand) {
	o := bk.randomOrder(rng, nil)
	if o == nil {
		return
	}
	n := faka.Notification{Gateway: "sandbox", OrderNo: o.no, TradeNo: bk.tradeNo(), Amount: o.amount, Currency: "CNY"}
	switch rng.IntN(4) {
	case 0:
		n.Amount++
	case 1:
		n.Amount--
	case 2:
		n.Amount *= 2
	default:
		n.Currency = "USD"
	}
	if n.Amount <= 0 {
		n.Amount = o.amount + 1
	}
	res, err := bk.e.ConfirmPayment(ctx, n)
	if faka.ErrorCode(err) != faka.EInvalid {
		bk.t.Errorf("tampered notification %+v for an order of %d CNY: %+v, %v; want an invalid error", n, o.amount, res, err)
		return
	}
	bk.tampered.Add(1)
	if rng.IntN(2) == 0 {
		bk.pay(ctx, o, n.TradeNo)
		return
	}
	o.mu.Lock()
	o.refused = append(o.refused, n.TradeNo)
	o.mu.Unlock()
}

// repeat resends an old trade later: a duplicate, changing nothing.
func (bk *bank) repeat(ctx context.Context, rng *rand.Rand) {
	bk.mu.Lock()
	if len(bk.all) == 0 {
		bk.mu.Unlock()
		return
	}
	tr := bk.all[rng.IntN(len(bk.all))]
	bk.mu.Unlock()
	o := tr.order
	n := faka.Notification{Gateway: "sandbox", OrderNo: o.no, TradeNo: tr.tradeNo, Amount: o.amount, Currency: "CNY"}
	res, err := bk.e.ConfirmPayment(ctx, n)
	if err != nil {
		bk.t.Errorf("repeat of trade %s: %v", tr.tradeNo, err)
		return
	}
	if problem := confirmProblem(n, res); problem != "" {
		bk.t.Errorf("repeat: %s", problem)
		return
	}
	if !res.Duplicate || res.Payment.ID != tr.paymentID || res.Payment.Outcome != tr.outcome {
		bk.t.Errorf("repeat of trade %s: Duplicate %v payment %d %q; want true %d %q", tr.tradeNo, res.Duplicate, res.Payment.ID, res.Payment.Outcome, tr.paymentID, tr.outcome)
	}
}

func (bk *bank) cancel(ctx context.Context, o *bankOrder) {
	got, err := bk.e.CancelOrder(ctx, o.no)
	switch {
	case faka.ErrorCode(err) == faka.EInvalidState:
	case err != nil:
		bk.t.Errorf("CancelOrder(%s): %v", o.no, err)
	case got.Status != faka.StatusCancelled:
		bk.t.Errorf("CancelOrder(%s) returned a %s order", o.no, got.Status)
	}
}

func (bk *bank) refund(ctx context.Context, o *bankOrder) {
	got, err := bk.e.RefundOrder(ctx, o.no)
	switch {
	case faka.ErrorCode(err) == faka.EInvalidState:
		o.mu.Lock()
		o.refundNo = true // a paid order: it must be refunded already
		o.mu.Unlock()
	case err != nil:
		bk.t.Errorf("RefundOrder(%s): %v", o.no, err)
	case got.Status != faka.StatusRefunded:
		bk.t.Errorf("RefundOrder(%s) returned a %s order", o.no, got.Status)
	default:
		o.mu.Lock()
		o.refunded = true
		o.mu.Unlock()
		bk.refunds.Add(1)
	}
}

func (bk *bank) deliver(ctx context.Context, o *bankOrder) {
	got, err := bk.e.DeliverManual(ctx, o.no, "delivered by hand: "+o.no)
	switch {
	case faka.ErrorCode(err) == faka.EInvalidState:
	case err != nil:
		bk.t.Errorf("DeliverManual(%s): %v", o.no, err)
	case got.Status != faka.StatusDelivered:
		bk.t.Errorf("DeliverManual(%s) succeeded but returned a %s order", o.no, got.Status)
	default:
		o.mu.Lock()
		o.delivered = true
		o.mu.Unlock()
		bk.delivered.Add(1)
	}
}

// importKeys imports fresh keys, some earlier ones again, some twice in the
// upload and optionally one unacceptable line, and checks the figures.
func (bk *bank) importKeys(ctx context.Context, p *bankProduct, fresh, again int, bad bool) {
	var lines []string
	for range fresh {
		lines = append(lines, fmt.Sprintf("BANK-P%d-KEY-%06d", p.p.ID, bk.seq.Add(1)))
	}
	dups := 0
	p.mu.Lock()
	for i := 0; i < again && len(p.list) > 0; i++ {
		lines = append(lines, p.list[(int(bk.seq.Add(1))*7919)%len(p.list)])
		dups++
	}
	p.mu.Unlock()
	if fresh > 0 && again > 0 {
		lines = append(lines, lines[0]) // twice in one upload
		dups++
	}
	rejected := 0
	if bad {
		lines = append(lines, "BAD\x01KEY")
		rejected++
	}
	res, err := bk.e.ImportKeys(ctx, p.p.ID, strings.NewReader(strings.Join(lines, "\n")+"\n"))
	if err != nil {
		bk.t.Errorf("ImportKeys: %v", err)
		return
	}
	if res.Imported != fresh || res.Duplicates != dups || res.Rejected != rejected || res.Fulfilled < 0 {
		bk.t.Errorf("ImportKeys of %d new keys, %d duplicates, %d bad lines = %+v", fresh, dups, rejected, res)
	}
	p.mu.Lock()
	for _, l := range lines[:fresh] {
		p.sent[l] = true
		p.list = append(p.list, l)
	}
	p.imported += int64(res.Imported)
	p.mu.Unlock()
	bk.imports.Add(1)
}

// settle waits for every short reservation to run out and be released.
func (bk *bank) settle(ctx context.Context) {
	t := bk.t
	deadline := time.Now().Add(30 * time.Second)
	for {
		now, err := bk.st.Now(ctx)
		if err != nil {
			t.Fatalf("Now: %v", err)
		}
		var due, latest time.Time
		for _, p := range bk.products {
			orders, err := bk.st.OrderList(ctx, faka.OrderFilter{ProductID: p.p.ID, Status: faka.StatusPending, Limit: allOrders})
			if err != nil {
				t.Fatalf("OrderList: %v", err)
			}
			for _, o := range orders {
				if p.p.ReservationTTL > time.Minute {
					continue
				}
				if o.ReservedUntil.After(latest) {
					latest = o.ReservedUntil
				}
				if !o.ReservedUntil.After(now) {
					due = o.ReservedUntil
				}
			}
		}
		if latest.IsZero() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("short reservations are still pending 30s after the run (latest until %v, now %v)", latest, now)
		}
		if due.IsZero() {
			waitPast(t, bk.st, latest)
		}
		if _, err := bk.e.ExpireDue(ctx); err != nil {
			t.Fatalf("ExpireDue: %v", err)
		}
	}
}

// restockBackorders adds exactly the units that the waiting backorders of
// each product need: every one of them must then be fulfilled.
func (bk *bank) restockBackorders(ctx context.Context) {
	t := bk.t
	for _, bp := range bk.products {
		waiting, err := bk.st.OrderList(ctx, faka.OrderFilter{ProductID: bp.p.ID, Status: faka.StatusPaidAwaitingStock, Limit: allOrders})
		if err != nil {
			t.Fatalf("OrderList: %v", err)
		}
		if len(waiting) == 0 {
			continue
		}
		units := 0
		for _, o := range waiting {
			units += o.Quantity
		}
		var res faka.ImportResult
		if bp.p.Delivery == faka.DeliveryCard {
			var lines []string
			for range units {
				lines = append(lines, fmt.Sprintf("BANK-P%d-KEY-%06d", bp.p.ID, bk.seq.Add(1)))
			}
			res, err = bk.e.ImportKeys(ctx, bp.p.ID, strings.NewReader(strings.Join(lines, "\n")))
			bp.mu.Lock()
			for _, l := range lines {
				bp.sent[l] = true
			}
			bp.imported += int64(res.Imported)
			bp.mu.Unlock()
		} else {
			res, err = bk.e.AddStock(ctx, bp.p.ID, int64(units))
			bp.initial += int64(res.Imported)
		}
		if err != nil {
			t.Fatalf("restock of %d units for %d backorders of product %d: %v", units, len(waiting), bp.p.ID, err)
		}
		if res.Imported != units || res.Fulfilled != len(waiting) || res.FulfilledUnits != int64(units) {
			t.Errorf("restock of %d units for %d backorders of product %d = %+v; want all of them fulfilled", units, len(waiting), bp.p.ID, res)
		}
		for _, o := range waiting {
			got, err := bk.st.OrderGet(ctx, o.OrderNo)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != faka.StatusDelivered && got.Status != faka.StatusPaid {
				t.Errorf("backorder %s is %s after the restock that covered it", o.OrderNo, got.Status)
			}
		}
	}
}

// verify checks the end state against the model.
func (bk *bank) verify(ctx context.Context, closeEngine func()) {
	t := bk.t
	now, err := bk.st.Now(ctx)
	if err != nil {
		t.Fatal(err)
	}
	owner := map[string]string{} // key secret → order number
	for _, bp := range bk.products {
		p := bp.p
		orders, err := bk.st.OrderList(ctx, faka.OrderFilter{ProductID: p.ID, Limit: allOrders})
		if err != nil {
			t.Fatalf("OrderList: %v", err)
		}
		if len(orders) >= allOrders {
			t.Fatalf("product %d has too many orders to check", p.ID)
		}
		var modelled int
		bk.mu.Lock()
		for _, o := range bk.orders {
			if o.product == bp {
				modelled++
			}
		}
		bk.mu.Unlock()
		if len(orders) != modelled {
			t.Errorf("product %d has %d orders, the engine reserved %d", p.ID, len(orders), modelled)
		}
		var pending, deliveredQty int64
		for _, o := range orders {
			bk.mu.Lock()
			mo := bk.byNo[o.OrderNo]
			bk.mu.Unlock()
			if mo == nil {
				t.Errorf("order %s was never returned by Reserve", o.OrderNo)
				continue
			}
			bk.verifyOrder(ctx, bp, o, mo, now, owner)
			if o.Status == faka.StatusDelivered || o.Status == faka.StatusPaid {
				mo.mu.Lock()
				for _, tr := range mo.trades {
					if tr.outcome == faka.OutcomeAwaitingStock {
						bk.fulfilled.Add(1)
					}
				}
				mo.mu.Unlock()
			}
			switch o.Status {
			case faka.StatusExpired:
				bk.expired.Add(1)
			case faka.StatusPending:
				pending += int64(o.Quantity)
			case faka.StatusDelivered:
				deliveredQty += int64(o.Quantity)
			}
		}
		s, err := bk.st.StockGet(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		// Backorders are fulfilled whenever stock comes back, oldest
		// payment first: at rest, the oldest one must not fit.
		var head *faka.Order
		for _, o := range orders {
			if o.Status == faka.StatusPaidAwaitingStock &&
				(head == nil || o.PaidAt.Before(head.PaidAt) || (o.PaidAt.Equal(head.PaidAt) && o.ID < head.ID)) {
				head = o
			}
		}
		if head != nil && int64(head.Quantity) <= s.Available {
			t.Errorf("product %d: backorder %s of %d waits while %d units are available", p.ID, head.OrderNo, head.Quantity, s.Available)
		}
		if s.Reserved != pending {
			t.Errorf("product %d: %d reserved, pending orders hold %d", p.ID, s.Reserved, pending)
		}
		switch p.Delivery {
		case faka.DeliveryCard:
			if s.Sold != deliveredQty {
				t.Errorf("card product %d: %d sold, delivered orders hold %d", p.ID, s.Sold, deliveredQty)
			}
			if want := bp.imported; s.Imported != want {
				t.Errorf("card product %d: %d imported, the imports reported %d", p.ID, s.Imported, want)
			}
		default:
			if s.Imported != bp.initial {
				t.Errorf("%s product %d: %d imported, want the initial %d", p.Delivery, p.ID, s.Imported, bp.initial)
			}
		}
	}
	closeEngine()
	CheckInvariants(t, bk.st)
}

func (bk *bank) verifyOrder(ctx context.Context, bp *bankProduct, o *faka.Order, mo *bankOrder, now time.Time, owner map[string]string) {
	t := bk.t
	mo.mu.Lock()
	trades := slices.Clone(mo.trades)
	refused := slices.Clone(mo.refused)
	refunded, refundNo, delivered := mo.refunded, mo.refundNo, mo.delivered
	mo.mu.Unlock()
	paid := len(trades) > 0
	d := bp.p.Delivery

	// Paid means delivered or flagged; unpaid means not paid.
	ok := false
	switch {
	case !paid:
		ok = o.Status == faka.StatusPending || o.Status == faka.StatusExpired || o.Status == faka.StatusCancelled
	case o.Status == faka.StatusRefunded || o.Status == faka.StatusPaidAwaitingStock || o.Status == faka.StatusDelivered:
		ok = true
	case o.Status == faka.StatusPaid:
		ok = d == faka.DeliveryManual
	}
	if !ok {
		t.Errorf("%s order %s is %s; the model paid it: %v", d, o.OrderNo, o.Status, paid)
	}
	if (o.Status == faka.StatusRefunded) != (refunded || refundNo) && paid {
		t.Errorf("order %s is %s; refund succeeded %v, refused %v", o.OrderNo, o.Status, refunded, refundNo)
	}
	if delivered && o.Status != faka.StatusDelivered && o.Status != faka.StatusRefunded {
		t.Errorf("manual order %s is %s after a successful manual delivery", o.OrderNo, o.Status)
	}
	if o.Status == faka.StatusPending && !o.ReservedUntil.After(now) {
		t.Errorf("order %s is pending past its reservation (%v, now %v)", o.OrderNo, o.ReservedUntil, now)
	}

	// One payment, one effect: the trades stored are exactly the confirmed
	// ones, and exactly one of them was applied to a paid order.
	ps, err := bk.st.PaymentsByOrder(ctx, o.ID)
	if err != nil {
		t.Fatalf("PaymentsByOrder: %v", err)
	}
	stored := map[string]string{}
	applied := 0
	for _, p := range ps {
		stored[p.TradeNo] = p.Outcome
		if p.Outcome != faka.OutcomeExtra {
			applied++
		}
	}
	if len(ps) != len(trades) || len(stored) != len(trades) {
		t.Errorf("order %s has %d payments stored, the engine confirmed %d trades", o.OrderNo, len(ps), len(trades))
	}
	for _, tr := range trades {
		if got, ok := stored[tr.tradeNo]; !ok || got != tr.outcome {
			t.Errorf("order %s: trade %s stored with outcome %q (found %v), confirmed as %q", o.OrderNo, tr.tradeNo, got, ok, tr.outcome)
		}
	}
	for _, no := range refused {
		if _, ok := stored[no]; ok {
			t.Errorf("order %s: refused trade %s was stored", o.OrderNo, no)
		}
	}
	if want := map[bool]int{true: 1, false: 0}[paid]; applied != want {
		t.Errorf("order %s (paid %v) has %d applied payments, want %d", o.OrderNo, paid, applied, want)
	}

	// Keys: each secret in at most one order, and one that was imported;
	// a delivered order holds exactly its quantity, and the engine shows
	// the buyer exactly those.
	if d == faka.DeliveryManual {
		return
	}
	secrets, err := orderSecrets(ctx, bk.st, bk.kr, o)
	if err != nil {
		t.Fatal(err)
	}
	if d == faka.DeliveryReusable {
		for _, s := range secrets {
			if s != bp.loopKey {
				t.Errorf("reusable order %s holds %q, want the product's key", o.OrderNo, s)
			}
		}
	} else {
		bp.mu.Lock()
		for _, s := range secrets {
			if !bp.sent[s] {
				t.Errorf("order %s holds %q, which was never imported into product %d", o.OrderNo, s, bp.p.ID)
			}
			if prev, dup := owner[s]; dup {
				t.Errorf("key %q belongs to orders %s and %s", s, prev, o.OrderNo)
			}
			owner[s] = o.OrderNo
		}
		bp.mu.Unlock()
		if o.Status == faka.StatusDelivered && len(secrets) != o.Quantity {
			t.Errorf("delivered order %s of %d holds %d keys", o.OrderNo, o.Quantity, len(secrets))
		}
	}
	if o.Status != faka.StatusDelivered {
		return
	}
	shown, err := bk.e.OrderKeys(ctx, o)
	if err != nil {
		t.Fatalf("engine OrderKeys(%s): %v", o.OrderNo, err)
	}
	if !slices.Equal(slices.Sorted(slices.Values(shown)), slices.Sorted(slices.Values(secrets))) {
		t.Errorf("the engine shows order %s keys %q; the store holds %q", o.OrderNo, shown, secrets)
	}
	if d == faka.DeliveryReusable && len(shown) == 0 {
		t.Errorf("delivered reusable order %s shows no key", o.OrderNo)
	}
}
