package engine_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
	"github.com/faka-dev/faka/keyring"
	"github.com/faka-dev/faka/sqlite"
)

type bundle struct {
	e  *engine.Engine
	st *sqlite.Store
}

func setup(t *testing.T) bundle {
	t.Helper()
	e, st := newEngine(t, 20*time.Millisecond, 200*time.Millisecond)
	return bundle{e: e, st: st}
}

// newEngine starts an engine on a fresh SQLite file; the tests sweep and
// resync often, the benchmarks at the production defaults (zero).
func newEngine(tb testing.TB, sweep, resync time.Duration) (*engine.Engine, *sqlite.Store) {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "faka.db"), sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	kr, err := keyring.New(bytes.Repeat([]byte{7}, keyring.MasterKeySize))
	if err != nil {
		tb.Fatal(err)
	}
	e, err := engine.New(engine.Config{Store: st, Keyring: kr, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		SweepInterval: sweep, ResyncInterval: resync})
	if err != nil {
		tb.Fatal(err)
	}
	e.Start(ctx)
	tb.Cleanup(e.Close)
	return e, st
}

func (b bundle) product(t *testing.T, ttl time.Duration, keys int) *faka.Product {
	t.Helper()
	p := &faka.Product{Name: "Game card", Price: 990, Currency: "CNY", ReservationTTL: ttl, Active: true}
	if err := b.e.CreateProduct(context.Background(), p, 0, nil); err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for i := range keys {
		fmt.Fprintf(&sb, "KEY-%d-%04d\n", p.ID, i)
	}
	res, err := b.e.ImportKeys(context.Background(), p.ID, strings.NewReader(sb.String()))
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != keys {
		t.Fatalf("imported %d, want %d", res.Imported, keys)
	}
	return p
}

func (b bundle) reconcileOK(t *testing.T) *faka.ReconcileReport {
	t.Helper()
	rep, err := b.e.Reconcile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("invariants broken: %+v", rep.Violations)
	}
	return rep
}

// reserve orders as a buyer of its own (a fresh email each time: one email
// may hold only so many units in unpaid orders).
func reserve(e *engine.Engine, pid int64, q int) (*engine.Reservation, error) {
	return e.Reserve(context.Background(), engine.ReserveRequest{ProductID: pid, Quantity: q,
		Email: "buyer-" + strings.ToLower(rand.Text()) + "@example.com", Gateway: "sandbox"})
}

func pay(e *engine.Engine, o *faka.Order, trade string) (*faka.ConfirmResult, error) {
	return e.ConfirmPayment(context.Background(), faka.Notification{Gateway: "sandbox", OrderNo: o.OrderNo,
		TradeNo: trade, Amount: o.Amount, Currency: o.Currency})
}

func TestReservePayDeliver(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	p := b.product(t, time.Minute, 5)

	r, err := reserve(b.e, p.ID, 2)
	if err != nil {
		t.Fatal(err)
	}
	if r.Order.Amount != 1980 || r.Order.Status != faka.StatusPending || r.Token == "" {
		t.Fatalf("order = %+v", r.Order)
	}
	if keys, _ := b.e.OrderKeys(ctx, r.Order); keys != nil {
		t.Fatalf("keys shown before payment: %v", keys)
	}
	res, err := pay(b.e, r.Order, "T1")
	if err != nil || res.Duplicate || res.Order.Status != faka.StatusDelivered {
		t.Fatalf("pay: %+v %v", res, err)
	}
	dup, err := pay(b.e, r.Order, "T1")
	if err != nil || !dup.Duplicate || dup.Payment.ID != res.Payment.ID {
		t.Fatalf("duplicate: %+v %v", dup, err)
	}
	o, err := b.e.OrderForBuyer(ctx, r.Order.OrderNo, r.Token)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := b.e.OrderKeys(ctx, o)
	if err != nil || len(keys) != 2 || keys[0] == keys[1] || !strings.HasPrefix(keys[0], "KEY-") {
		t.Fatalf("keys = %v, %v", keys, err)
	}
	if _, err := b.e.OrderForBuyer(ctx, r.Order.OrderNo, r.Token+"x"); faka.ErrorCode(err) != faka.ENotFound {
		t.Fatalf("wrong token: %v", err)
	}
	rep := b.reconcileOK(t)
	if st := rep.Products[0]; st.Sold != 2 || st.Available != 3 || st.Imported != 5 {
		t.Fatalf("stock = %+v", st)
	}
}

func TestTamperedPaymentChangesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p := b.product(t, time.Minute, 3)
	r, err := reserve(b.e, p.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	bad := []faka.Notification{
		{Gateway: "sandbox", OrderNo: r.Order.OrderNo, TradeNo: "A", Amount: r.Order.Amount - 1, Currency: "CNY"},
		{Gateway: "sandbox", OrderNo: r.Order.OrderNo, TradeNo: "B", Amount: r.Order.Amount, Currency: "USD"},
		{Gateway: "sandbox", OrderNo: "nope", TradeNo: "C", Amount: r.Order.Amount, Currency: "CNY"},
	}
	for _, n := range bad {
		if _, err := b.e.ConfirmPayment(context.Background(), n); err == nil {
			t.Fatalf("accepted %+v", n)
		}
	}
	o, _ := b.e.Order(context.Background(), r.Order.OrderNo)
	if o.Status != faka.StatusPending {
		t.Fatalf("status = %s", o.Status)
	}
	// The refused trade numbers stay unused: a genuine payment with one applies.
	if res, err := pay(b.e, r.Order, "A"); err != nil || res.Duplicate {
		t.Fatalf("genuine after tampered: %+v %v", res, err)
	}
	b.reconcileOK(t)
}

// TestGateSellsExactlyStock fires far more concurrent buyers than keys: the
// gate and the batcher must sell every key exactly once and refuse the rest.
func TestGateSellsExactlyStock(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const keys, buyers = 300, 2000
	p := b.product(t, time.Minute, keys)
	var sold, soldOut atomic.Int64
	var mu sync.Mutex
	orders := map[string]*faka.Order{}
	var wg sync.WaitGroup
	for i := range buyers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := 1 + i%3
			r, err := reserve(b.e, p.ID, q)
			switch {
			case faka.ErrorCode(err) == faka.ESoldOut:
				soldOut.Add(1)
			case err != nil:
				t.Errorf("reserve: %v", err)
			default:
				sold.Add(int64(q))
				mu.Lock()
				orders[r.Order.OrderNo] = r.Order
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if sold.Load() > keys {
		t.Fatalf("oversold: %d units for %d keys", sold.Load(), keys)
	}
	if keys-sold.Load() >= 3 {
		// Quantities are 1-3, so at most 2 units can be left unsellable to the buyers who remained.
		t.Fatalf("only %d of %d keys reserved with %d buyers turned away", sold.Load(), keys, soldOut.Load())
	}
	rep := b.reconcileOK(t)
	if rep.Products[0].Reserved != sold.Load() {
		t.Fatalf("reserved %d in db, %d by the buyers' count", rep.Products[0].Reserved, sold.Load())
	}
	seen := map[string]string{}
	for no, o := range orders {
		if _, err := pay(b.e, o, "T-"+no); err != nil {
			t.Fatal(err)
		}
		o2, _ := b.e.Order(context.Background(), no)
		ks, err := b.e.OrderKeys(context.Background(), o2)
		if err != nil || len(ks) != o.Quantity {
			t.Fatalf("order %s: %d keys for quantity %d (%v)", no, len(ks), o.Quantity, err)
		}
		for _, k := range ks {
			if prev, dup := seen[k]; dup {
				t.Fatalf("key sold to %s and %s", prev, no)
			}
			seen[k] = no
		}
	}
	b.reconcileOK(t)
}

func TestExpiryReleasesAndLatePayment(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	p := b.product(t, time.Second, 2)
	r, err := reserve(b.e, p.ID, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reserve(b.e, p.ID, 1); faka.ErrorCode(err) != faka.ESoldOut {
		t.Fatalf("want sold out, got %v", err)
	}
	waitStatus(t, b.e, r.Order.OrderNo, faka.StatusExpired)
	// The keys are on sale again: the gate hears of the release just after
	// the sweep commits, so a buyer may be turned away for a moment.
	var r2 *engine.Reservation
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if r2, err = reserve(b.e, p.ID, 2); err == nil || faka.ErrorCode(err) != faka.ESoldOut || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("keys not released: %v", err)
	}
	// The first buyer pays late: no stock, so a backorder.
	res, err := pay(b.e, r.Order, "LATE")
	if err != nil || res.Order.Status != faka.StatusPaidAwaitingStock {
		t.Fatalf("late payment: %+v %v", res, err)
	}
	b.reconcileOK(t)
	// New keys fulfil the backorder before anyone else gets them.
	imp, err := b.e.ImportKeys(ctx, p.ID, strings.NewReader("NEW-1\nNEW-2\nNEW-3\n"))
	if err != nil || imp.Fulfilled != 1 || imp.Imported != 3 {
		t.Fatalf("import: %+v %v", imp, err)
	}
	o, _ := b.e.Order(ctx, r.Order.OrderNo)
	if o.Status != faka.StatusDelivered {
		t.Fatalf("backorder status %s", o.Status)
	}
	if _, err := reserve(b.e, p.ID, 2); faka.ErrorCode(err) != faka.ESoldOut {
		t.Fatalf("gate let 2 through with 1 left: %v", err)
	}
	if _, err := reserve(b.e, p.ID, 1); err != nil {
		t.Fatalf("the last key: %v", err)
	}
	// Refund voids: the keys are not sold again.
	if _, err := pay(b.e, r2.Order, "T2"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.e.RefundOrder(ctx, r2.Order.OrderNo); err != nil {
		t.Fatal(err)
	}
	rep := b.reconcileOK(t)
	if st := rep.Products[0]; st.Void != 2 || st.Available != 0 || st.Imported != 5 {
		t.Fatalf("stock after refund = %+v", st)
	}
}

func waitStatus(t *testing.T, e *engine.Engine, orderNo string, want faka.OrderStatus) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		o, err := e.Order(context.Background(), orderNo)
		if err != nil {
			t.Fatal(err)
		}
		if o.Status == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("order %s never became %s", orderNo, want)
}

func TestParseKeys(t *testing.T) {
	t.Parallel()
	in := "A\r\n\n  B  \nA\n" + strings.Repeat("x", faka.MaxKeyLength+1) + "\nC\x00D\n\xff\nE"
	keys, dups, rej, err := engine.ParseKeys(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(keys, ",") != "A,B,E" || dups != 1 || rej != 3 {
		t.Fatalf("keys=%q dups=%d rejected=%d", keys, dups, rej)
	}
	huge := strings.Repeat("y", 200_000) + "\nZ\n"
	keys, _, rej, err = engine.ParseKeys(strings.NewReader(huge))
	if err != nil || rej != 1 || len(keys) != 1 || keys[0] != "Z" {
		t.Fatalf("huge line: keys=%q rej=%d err=%v", keys, rej, err)
	}
}
