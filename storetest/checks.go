package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/faka-dev/faka"
)

// Conformance of faka.PaymentCheckStore, the payment poller's work list.
// Every store driver implements it; these tests run as part of Run. Times
// are judged by the store's clock (Store.Now), so the tests compare with
// it and wait for it, never for the process clock.

// checkStore returns the store's faka.PaymentCheckStore.
func (b *bundle) checkStore() faka.PaymentCheckStore {
	b.t.Helper()
	cs, ok := b.st.(faka.PaymentCheckStore)
	if !ok {
		b.t.Fatalf("%T does not implement faka.PaymentCheckStore", b.st)
	}
	return cs
}

// reserveVia reserves one unit of p for a new buyer paying through gateway.
func (b *bundle) reserveVia(p *faka.Product, gateway string, ttl time.Duration) *faka.Order {
	b.t.Helper()
	prm := b.params(p, 1, ttl)
	prm.Gateway = gateway
	out := b.reserveBatch(p, prm)
	if out[0].Err != nil {
		b.t.Fatalf("reserve through %s: %v", gateway, out[0].Err)
	}
	return out[0].Order
}

// claimOpts is a claim of up to limit orders of gateways, every pending
// order old enough, ended orders within an hour, leased for an hour.
func claimOpts(limit int, gateways ...string) faka.PaymentCheckClaim {
	return faka.PaymentCheckClaim{Gateways: gateways, MinAge: 0, MaxAge: time.Hour, Lease: time.Hour, Limit: limit}
}

func (b *bundle) claim(c faka.PaymentCheckClaim) []*faka.PaymentCheck {
	b.t.Helper()
	got, err := b.checkStore().PaymentChecksClaim(b.ctx, c)
	if err != nil {
		b.t.Fatalf("PaymentChecksClaim(%+v): %v", c, err)
	}
	for _, pc := range got {
		if pc == nil || pc.Order == nil || pc.Checks < 1 {
			b.t.Fatalf("PaymentChecksClaim returned %+v; want an order and Checks ≥ 1", pc)
		}
	}
	b.check()
	return got
}

// claimNos returns the order numbers of claimed checks.
func claimNos(cs []*faka.PaymentCheck) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Order.OrderNo
	}
	return out
}

func fmtChecks(cs []*faka.PaymentCheck) string {
	var sb strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&sb, "[%s %s checks=%d closing=%v]", c.Order.OrderNo, c.Order.Status, c.Checks, c.Closing)
	}
	return sb.String()
}

// wantClaim asserts that a claim returns exactly the given orders, in
// order, with the given Checks and Closing.
func (b *bundle) wantClaim(c faka.PaymentCheckClaim, checks int, closing bool, want ...*faka.Order) []*faka.PaymentCheck {
	b.t.Helper()
	got := b.claim(c)
	wantNos := make([]string, len(want))
	for i, o := range want {
		wantNos[i] = o.OrderNo
	}
	if fmt.Sprint(claimNos(got)) != fmt.Sprint(wantNos) {
		b.t.Fatalf("claim %+v returned %s, want orders %v", c, fmtChecks(got), wantNos)
	}
	for _, pc := range got {
		if pc.Checks != checks || pc.Closing != closing {
			b.t.Fatalf("claimed order %s: Checks %d, Closing %v; want %d, %v", pc.Order.OrderNo, pc.Checks, pc.Closing, checks, closing)
		}
	}
	return got
}

func (b *bundle) saveCheck(r faka.PaymentCheckResult) {
	b.t.Helper()
	if err := b.checkStore().PaymentCheckSave(b.ctx, r); err != nil {
		b.t.Fatalf("PaymentCheckSave(%+v): %v", r, err)
	}
}

func (b *bundle) checkState(o *faka.Order) *faka.PaymentCheckState {
	b.t.Helper()
	st, err := b.checkStore().PaymentCheckGet(b.ctx, o.ID)
	if err != nil {
		b.t.Fatalf("PaymentCheckGet(order %s): %v", o.OrderNo, err)
	}
	if st.OrderID != o.ID {
		b.t.Fatalf("PaymentCheckGet(%d) returned the row of order %d", o.ID, st.OrderID)
	}
	return st
}

func (b *bundle) noCheckState(o *faka.Order) {
	b.t.Helper()
	_, err := b.checkStore().PaymentCheckGet(b.ctx, o.ID)
	wantCode(b.t, err, faka.ENotFound, "PaymentCheckGet(order %s, never claimed)", o.OrderNo)
}

// wantNear asserts that got is d after the store's clock read around the
// call that set it (between lo and hi), within a second either way.
func wantNear(t testing.TB, what string, got, lo, hi time.Time, d time.Duration) {
	t.Helper()
	if !within(got, lo.Add(d-time.Second), hi.Add(d+time.Second)) {
		t.Fatalf("%s = %v, want %v after a time between %v and %v", what, got, d, lo, hi)
	}
}

func (s *suite) testPaymentChecksDue(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("due", 5)...)
	a := b.reserveVia(p, "gw-a", longTTL)
	other := b.reserveVia(p, "gw-b", longTTL)
	paid := b.reserveVia(p, "gw-a", longTTL)
	b.payWant(paid, faka.OutcomeDelivered, faka.StatusDelivered)

	// Pending orders younger than MinAge are left to their notification.
	young := claimOpts(10, "gw-a")
	young.MinAge = time.Hour
	b.wantClaim(young, 0, false)
	// No gateway named, nothing claimed.
	b.wantClaim(claimOpts(10), 0, false)

	before := b.now()
	got := b.wantClaim(claimOpts(10, "gw-a"), 1, false, a)
	after := b.now()
	o := got[0].Order
	if o.ID != a.ID || o.Gateway != "gw-a" || o.Status != faka.StatusPending || o.Amount != a.Amount || o.Currency != a.Currency {
		t.Fatalf("claimed order %+v, want the pending order %+v", o, a)
	}
	st := b.checkState(a)
	if st.Checks != 1 || st.SeenStatus != faka.StatusPending || st.LastError != "" || !st.ClosedAt.IsZero() {
		t.Fatalf("check row after the first claim: %+v", st)
	}
	// The claim leases the order for Lease by the store's clock.
	wantNear(t, "NextCheckAt", st.NextCheckAt, before, after, time.Hour)
	wantNear(t, "UpdatedAt", st.UpdatedAt, before, after, 0)

	// Leased: not claimed again. Another gateway's orders were left alone
	// (no row) until a claim names that gateway.
	b.wantClaim(claimOpts(10, "gw-a"), 0, false)
	b.noCheckState(other)
	b.noCheckState(paid)
	b.wantClaim(claimOpts(10, "gw-a", "gw-b"), 1, false, other)
	b.noCheckState(paid)
}

func (s *suite) testPaymentChecksBackoff(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("backoff", 2)...)
	o := b.reserveVia(p, "gw-a", longTTL)
	c := claimOpts(10, "gw-a")
	b.wantClaim(c, 1, false, o)

	// An outcome with a long backoff: not due, the error kept.
	before := b.now()
	b.saveCheck(faka.PaymentCheckResult{OrderID: o.ID, After: time.Hour, Error: "gw-a did not answer"})
	after := b.now()
	st := b.checkState(o)
	if st.LastError != "gw-a did not answer" || !st.ClosedAt.IsZero() || st.Checks != 1 {
		t.Fatalf("check row after a failed check: %+v", st)
	}
	wantNear(t, "NextCheckAt", st.NextCheckAt, before, after, time.Hour)
	b.wantClaim(c, 0, false)

	// Due at once: claimed again, the count goes on.
	b.saveCheck(faka.PaymentCheckResult{OrderID: o.ID, After: 0, Error: "again"})
	b.wantClaim(c, 2, false, o)

	// A short backoff passes by the store's clock.
	b.saveCheck(faka.PaymentCheckResult{OrderID: o.ID, After: shortTTL})
	st = b.checkState(o)
	if st.LastError != "" {
		t.Fatalf("a check that succeeded kept the error %q", st.LastError)
	}
	if now := b.now(); now.Before(st.NextCheckAt) {
		b.wantClaim(c, 0, false)
	}
	b.waitPast(st.NextCheckAt)
	b.wantClaim(c, 3, false, o)

	// Long error texts are cut to MaxCheckError bytes of valid UTF-8.
	long := strings.Repeat("网关", faka.MaxCheckError) + "\xff"
	b.saveCheck(faka.PaymentCheckResult{OrderID: o.ID, After: time.Hour, Error: long})
	st = b.checkState(o)
	if len(st.LastError) > faka.MaxCheckError || len(st.LastError) < faka.MaxCheckError-3 ||
		!utf8.ValidString(st.LastError) || !strings.HasPrefix(long, st.LastError) {
		t.Fatalf("a %d-byte error was stored as %d bytes (valid UTF-8: %v)", len(long), len(st.LastError), utf8.ValidString(st.LastError))
	}

	// Outcomes for orders never claimed, or malformed, change nothing.
	never := b.reserveVia(p, "gw-z", longTTL)
	err := b.checkStore().PaymentCheckSave(b.ctx, faka.PaymentCheckResult{OrderID: never.ID, After: time.Second})
	wantCode(t, err, faka.ENotFound, "PaymentCheckSave of an order never claimed")
	b.noCheckState(never)
	err = b.checkStore().PaymentCheckSave(b.ctx, faka.PaymentCheckResult{OrderID: o.ID, After: -time.Second})
	wantCode(t, err, faka.EInvalid, "PaymentCheckSave with a negative After")
	for _, bad := range []faka.PaymentCheckClaim{
		{Gateways: []string{"gw-a"}, MaxAge: time.Hour, Lease: time.Hour, Limit: 0},
		{Gateways: []string{"gw-a"}, MaxAge: time.Hour, Lease: time.Hour, Limit: faka.MaxCheckBatch + 1},
		{Gateways: []string{"gw-a"}, MaxAge: time.Hour, Lease: 0, Limit: 1},
		{Gateways: []string{"gw-a"}, MinAge: -time.Second, MaxAge: time.Hour, Lease: time.Hour, Limit: 1},
	} {
		_, err := b.checkStore().PaymentChecksClaim(b.ctx, bad)
		wantCode(t, err, faka.EInvalid, "PaymentChecksClaim(%+v)", bad)
	}
	if st2 := b.checkState(o); st2.Checks != 3 || !st2.NextCheckAt.Equal(st.NextCheckAt) {
		t.Fatalf("invalid calls changed the row: %+v, was %+v", st2, st)
	}
}

func (s *suite) testPaymentChecksClosing(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("closing", 6)...)
	c := claimOpts(10, "gw-a")

	// Claimed while pending and leased for an hour, then cancelled: due as
	// soon as its reservation has run out (a pay link given out may make
	// a trade until then), to be asked one last time and closed.
	cancelled := b.reserveVia(p, "gw-a", shortTTL)
	b.wantClaim(c, 1, false, cancelled)
	b.cancel(cancelled)
	if b.now().Before(cancelled.ReservedUntil) {
		b.wantClaim(c, 0, false) // its reservation still runs
	}
	b.waitPast(cancelled.ReservedUntil)
	got := b.wantClaim(c, 2, true, cancelled)
	if got[0].Order.Status != faka.StatusCancelled {
		t.Fatalf("claimed a cancelled order as %s", got[0].Order.Status)
	}
	if st := b.checkState(cancelled); st.SeenStatus != faka.StatusCancelled {
		t.Fatalf("seen status %s, want cancelled", st.SeenStatus)
	}
	b.wantClaim(c, 0, false) // leased again

	// Closed is final: no later outcome reopens it.
	b.saveCheck(faka.PaymentCheckResult{OrderID: cancelled.ID, Closed: true})
	st := b.checkState(cancelled)
	if st.ClosedAt.IsZero() {
		t.Fatalf("closed check has no ClosedAt: %+v", st)
	}
	b.saveCheck(faka.PaymentCheckResult{OrderID: cancelled.ID, After: 0, Error: "late"})
	if st2 := b.checkState(cancelled); !st2.ClosedAt.Equal(st.ClosedAt) {
		t.Fatalf("a later outcome changed ClosedAt from %v to %v", st.ClosedAt, st2.ClosedAt)
	}
	b.wantClaim(c, 0, false)

	// An order claimed while pending and leased for an hour, and one never
	// claimed, expire: both are due as closing, at once.
	expired := b.reserveVia(p, "gw-a", shortTTL)
	b.wantClaim(c, 1, false, expired)
	b.saveCheck(faka.PaymentCheckResult{OrderID: expired.ID, After: time.Hour})
	never := b.reserveVia(p, "gw-a", shortTTL)
	b.waitPast(expired.ReservedUntil, never.ReservedUntil)
	b.expire(100)
	b.wantStatus(expired.OrderNo, faka.StatusExpired)
	b.wantStatus(never.OrderNo, faka.StatusExpired)
	got = b.claim(c)
	if len(got) != 2 || got[0].Order.ID != expired.ID || got[1].Order.ID != never.ID ||
		!got[0].Closing || !got[1].Closing || got[0].Checks != 2 || got[1].Checks != 1 {
		t.Fatalf("after expiry claimed %v; want %s (2nd check) and %s (1st), both closing", fmtChecks(got), expired.OrderNo, never.OrderNo)
	}

	// A pending order whose checks were closed (it was found paid) is not
	// claimed again, even due.
	pend := b.reserveVia(p, "gw-a", longTTL)
	b.wantClaim(c, 1, false, pend)
	b.saveCheck(faka.PaymentCheckResult{OrderID: pend.ID, Closed: true})
	b.wantClaim(c, 0, false)

	// Orders that ended longer ago than MaxAge are no longer closed.
	old := b.reserveVia(p, "gw-a", shortTTL)
	b.wantClaim(c, 1, false, old)
	b.saveCheck(faka.PaymentCheckResult{OrderID: old.ID, After: 0})
	cancelledAt := b.now()
	b.cancel(old)
	b.waitPast(cancelledAt.Add(1500*time.Millisecond), old.ReservedUntil)
	short := c
	short.MaxAge = time.Second
	b.wantClaim(short, 0, false)
	b.wantClaim(c, 2, true, old)
}

func (s *suite) testPaymentChecksOrderAndLimit(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("limit", 6)...)
	var os []*faka.Order
	for range 5 {
		os = append(os, b.reserveVia(p, "gw-a", longTTL))
	}
	// Oldest first, at most Limit.
	b.wantClaim(claimOpts(2, "gw-a"), 1, false, os[0], os[1])
	b.wantClaim(claimOpts(10, "gw-a"), 1, false, os[2], os[3], os[4])
	// Pending orders come before ended ones; the limit covers both.
	ended := b.reserveVia(p, "gw-a", shortTTL)
	b.cancel(ended)
	b.waitPast(ended.ReservedUntil)
	for _, o := range os {
		b.saveCheck(faka.PaymentCheckResult{OrderID: o.ID, After: 0})
	}
	b.wantClaim(claimOpts(5, "gw-a"), 2, false, os...)
	b.wantClaim(claimOpts(5, "gw-a"), 1, true, ended)
}

func (s *suite) testPaymentChecksExclusive(t *testing.T) {
	b := s.setup(t)
	const pending, cancelled = 48, 16
	p := b.cardProduct(longTTL, secrets("excl", pending+cancelled)...)
	// One batch and one invariants check: the claims are what is tested.
	batch := make([]faka.ReserveParams, pending+cancelled)
	for i := range batch {
		batch[i] = b.params(p, 1, map[bool]time.Duration{false: longTTL, true: shortTTL}[i >= pending])
		batch[i].Gateway = "gw-a"
	}
	want := map[string]bool{} // order number → closing
	var ends []time.Time      // the cancelled orders' reservations
	for i, out := range b.reserveBatch(p, batch...) {
		if out.Err != nil {
			t.Fatalf("reserve: %v", out.Err)
		}
		if i >= pending {
			if _, _, err := b.rules.OrderCancel(b.ctx, out.Order.OrderNo); err != nil {
				t.Fatalf("OrderCancel: %v", err)
			}
		}
		want[out.Order.OrderNo] = i >= pending
		if i >= pending {
			ends = append(ends, out.Order.ReservedUntil)
		}
	}
	b.check()
	b.waitPast(ends...)
	cs := b.checkStore()
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			for {
				got, err := cs.PaymentChecksClaim(b.ctx, claimOpts(5, "gw-a"))
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, pc := range got {
					seen[pc.Order.OrderNo]++
					if pc.Closing != want[pc.Order.OrderNo] || pc.Checks != 1 {
						errs <- fmt.Errorf("order %s claimed with Closing %v Checks %d", pc.Order.OrderNo, pc.Closing, pc.Checks)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(seen) != len(want) {
		t.Fatalf("concurrent claimers took %d distinct orders, want %d", len(seen), len(want))
	}
	for no, n := range seen {
		if n != 1 {
			t.Fatalf("order %s was claimed %d times by concurrent claimers", no, n)
		}
		if _, ok := want[no]; !ok {
			t.Fatalf("claimed unknown order %s", no)
		}
	}
	b.check()
}

func (s *suite) testPaymentChecksPrune(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("prune", 3)...)
	var os []*faka.Order
	for range 3 {
		os = append(os, b.reserveVia(p, "gw-a", longTTL))
	}
	b.wantClaim(claimOpts(10, "gw-a"), 1, false, os...)
	cs := b.checkStore()
	if n, err := cs.PaymentChecksPrune(b.ctx, time.Hour, 10); err != nil || n != 0 {
		t.Fatalf("prune of rows an hour old: %d, %v; want 0", n, err)
	}
	last := b.checkState(os[2]).UpdatedAt
	b.waitPast(last.Add(50 * time.Millisecond))
	if n, err := cs.PaymentChecksPrune(b.ctx, 10*time.Millisecond, 2); err != nil || n != 2 {
		t.Fatalf("prune, limit 2: %d, %v; want 2", n, err)
	}
	if n, err := cs.PaymentChecksPrune(b.ctx, 10*time.Millisecond, 10); err != nil || n != 1 {
		t.Fatalf("second prune: %d, %v; want 1", n, err)
	}
	for _, o := range os {
		b.noCheckState(o)
	}
	// Without rows, the pending orders are due again, counted afresh.
	b.wantClaim(claimOpts(10, "gw-a"), 1, false, os...)
	if _, err := cs.PaymentChecksPrune(b.ctx, 0, 10); faka.ErrorCode(err) != faka.EInvalid {
		t.Fatalf("prune with age 0: %v, want invalid", err)
	}
}

func (s *suite) testOrdersSince(t *testing.T) {
	b := s.setup(t)
	p := b.cardProduct(longTTL, secrets("since", 5)...)
	start := b.now().Add(-time.Second)
	var want []string
	for i := range 5 {
		o := b.reserveVia(p, fmt.Sprintf("gw-%d", i%2), longTTL)
		want = append(want, o.OrderNo)
	}
	cs := b.checkStore()
	var got []string
	var after *faka.Order
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("OrdersSince does not stop paging")
		}
		page, err := cs.OrdersSince(b.ctx, start, after, 2)
		if err != nil {
			t.Fatalf("OrdersSince: %v", err)
		}
		if len(page) > 2 {
			t.Fatalf("OrdersSince(limit 2) returned %d orders", len(page))
		}
		if len(page) == 0 {
			break
		}
		for _, o := range page {
			got = append(got, o.OrderNo)
		}
		after = page[len(page)-1]
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("OrdersSince paged %v, want %v", got, want)
	}
	if page, err := cs.OrdersSince(b.ctx, b.now().Add(time.Hour), nil, 10); err != nil || len(page) != 0 {
		t.Fatalf("OrdersSince(an hour ahead) = %d orders, %v", len(page), err)
	}
	if _, err := cs.OrdersSince(b.ctx, start, nil, 0); faka.ErrorCode(err) != faka.EInvalid {
		t.Fatalf("OrdersSince(limit 0): %v, want invalid", err)
	}
}
