// Package poller finds payments whose notification never came. A real shop
// cannot wait forever on a gateway's callback: the poller asks the gateway
// about pending orders that have waited a while, and applies a payment it
// reports exactly as a notification is applied (the engine's
// ConfirmPayment, so a payment found by both is applied once). It also
// closes the gateway's trade once an order has expired or been cancelled
// unpaid, so that the buyer cannot pay for it any more — after asking
// one last time, so that a payment made just before expiry is applied
// as a late one.
//
// The work list lives in the database (faka.PaymentCheckStore): it
// survives restarts, and several instances share it, each claiming
// different orders.
package poller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment"
)

// Store is what the poller needs of a store.
type Store interface {
	faka.PaymentCheckStore
	// Now returns the database clock.
	Now(ctx context.Context) (time.Time, error)
	// PaymentsByOrder lists the payments recorded for an order.
	PaymentsByOrder(ctx context.Context, orderID int64) ([]*faka.Payment, error)
}

// ConfirmFunc applies a verified payment: engine.Engine.ConfirmPayment.
type ConfirmFunc func(ctx context.Context, n faka.Notification) (*faka.ConfirmResult, error)

// Options tune a Poller. Zero values take the defaults.
type Options struct {
	// Interval is the time between ticks (default 30s).
	Interval time.Duration
	// MinAge is how long a pending order is left to its notification
	// before its gateway is asked (default 30s).
	MinAge time.Duration
	// MaxAge is how long after an order expired or was cancelled its
	// trade is still closed (default 48h): a poller that was down that
	// long catches up.
	MaxAge time.Duration
	// Batch is the most orders claimed per tick (default 100). A tick
	// that fills its batch is followed by another at once.
	Batch int
	// Workers is how many orders are checked at once (default 4).
	Workers int
	// Lease is how long a claimed order is left alone when its outcome is
	// never saved, as when the poller stops mid-check (default 5m).
	Lease time.Duration
	// Timeout bounds the gateway calls of one order (default 30s).
	Timeout time.Duration
	// Backoff is the wait after the first, second, … check of a pending
	// order that is still unpaid, or of a check that failed; the last
	// repeats (default 30s, 1m, 2m, 5m, 10m).
	Backoff []time.Duration
}

// DefaultBackoff is the waits between checks of an order that stays
// unpaid: 30 s, 1 min, 2 min, 5 min, then every 10 min.
var DefaultBackoff = []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute}

// pruneEvery is how often Run deletes old check rows; rows are kept a
// day past MaxAge.
const (
	pruneEvery = time.Hour
	pruneKeep  = 24 * time.Hour
	pruneBatch = 1000
)

func (o *Options) defaults() {
	if o.Interval <= 0 {
		o.Interval = 30 * time.Second
	}
	if o.MinAge <= 0 {
		o.MinAge = 30 * time.Second
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 48 * time.Hour
	}
	if o.Batch <= 0 {
		o.Batch = 100
	}
	o.Batch = min(o.Batch, faka.MaxCheckBatch)
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Lease <= 0 {
		o.Lease = 5 * time.Minute
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if len(o.Backoff) == 0 {
		o.Backoff = DefaultBackoff
	}
	// A claimed batch must be done before its lease runs out, or another
	// instance claims its tail meanwhile: the slowest batch is every
	// worker waiting its whole timeout on each of its orders.
	rounds := time.Duration((o.Batch + o.Workers - 1) / o.Workers)
	o.Lease = max(o.Lease, rounds*o.Timeout+o.Interval)
}

// Poller checks orders whose notification has not come, and closes the
// trades of orders that ended unpaid. It is safe for concurrent use.
type Poller struct {
	confirm  ConfirmFunc
	store    Store
	gateways *payment.Registry
	log      *slog.Logger
	opts     Options
}

// New returns a Poller that asks the gateways enabled in gateways at each
// tick (so gateways enabled later are picked up) and applies what they
// report through confirm.
func New(confirm ConfirmFunc, st Store, gateways *payment.Registry, log *slog.Logger, opts Options) (*Poller, error) {
	if confirm == nil || st == nil || gateways == nil {
		return nil, errors.New("poller: New needs a confirm function, a store and a gateway registry")
	}
	if log == nil {
		log = slog.Default()
	}
	opts.defaults()
	for _, d := range opts.Backoff {
		if d < 0 {
			return nil, errors.New("poller: a negative backoff")
		}
	}
	return &Poller{confirm: confirm, store: st, gateways: gateways, log: log, opts: opts}, nil
}

// Stats counts what one tick did.
type Stats struct {
	Claimed    int // orders claimed
	Confirmed  int // payments found at a gateway and applied now
	Duplicates int // payments found that had been applied already (the notification came meanwhile)
	Unpaid     int // pending orders the gateway says are unpaid
	Closed     int // trades closed, or ended orders needing no closing
	Errors     int // checks that failed and will be retried
}

func (s *Stats) add(o Stats) {
	s.Claimed += o.Claimed
	s.Confirmed += o.Confirmed
	s.Duplicates += o.Duplicates
	s.Unpaid += o.Unpaid
	s.Closed += o.Closed
	s.Errors += o.Errors
}

// Run ticks every Interval until ctx ends, starting at once (work left by
// a previous run is taken up), and deletes old check rows every hour.
func (p *Poller) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	var pruned time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := p.Tick(ctx)
		if err != nil && ctx.Err() == nil {
			p.log.Error("payment poller: tick failed", "err", err)
		}
		if time.Since(pruned) >= pruneEvery {
			pruned = time.Now()
			if n, err := p.store.PaymentChecksPrune(ctx, p.opts.MaxAge+pruneKeep, pruneBatch); err != nil && ctx.Err() == nil {
				p.log.Warn("payment poller: prune", "err", err)
			} else if n > 0 {
				p.log.Debug("payment poller: pruned old checks", "rows", n)
			}
		}
		next := p.opts.Interval
		if err == nil && st.Claimed >= p.opts.Batch {
			next = 0 // a backlog: go on at once
		}
		t.Reset(next)
	}
}

// Tick claims the due orders of the gateways that can be asked and checks
// them, Workers at a time.
func (p *Poller) Tick(ctx context.Context) (Stats, error) {
	gws := p.queriers()
	if len(gws) == 0 {
		return Stats{}, nil
	}
	checks, err := p.store.PaymentChecksClaim(ctx, faka.PaymentCheckClaim{Gateways: gws, MinAge: p.opts.MinAge,
		MaxAge: p.opts.MaxAge, Lease: p.opts.Lease, Limit: p.opts.Batch})
	if err != nil {
		return Stats{}, fmt.Errorf("poller: claim due orders: %w", err)
	}
	total := Stats{Claimed: len(checks)}
	var mu sync.Mutex
	var wg sync.WaitGroup
	work := make(chan *faka.PaymentCheck)
	for range min(p.opts.Workers, len(checks)) {
		wg.Go(func() {
			for c := range work {
				st := p.check(ctx, c)
				mu.Lock()
				total.add(st)
				mu.Unlock()
			}
		})
	}
	for _, c := range checks {
		work <- c
	}
	close(work)
	wg.Wait()
	if total.Confirmed+total.Closed+total.Errors > 0 {
		p.log.Info("payment poller", "claimed", total.Claimed, "confirmed", total.Confirmed,
			"duplicates", total.Duplicates, "unpaid", total.Unpaid, "closed", total.Closed, "errors", total.Errors)
	}
	return total, ctx.Err()
}

// queriers returns the names of the enabled gateways that can be asked
// about an order.
func (p *Poller) queriers() []string {
	var out []string
	for _, name := range p.gateways.Names() {
		if g, ok := p.gateways.Get(name); ok {
			if _, ok := g.(payment.Querier); ok {
				out = append(out, name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// backoff is the wait after the n-th check.
func (p *Poller) backoff(n int) time.Duration {
	b := p.opts.Backoff
	return b[min(max(n, 1), len(b))-1]
}

// check asks the gateway about one claimed order, applies or closes what
// it finds, and saves the outcome. When ctx ends, nothing is saved: the
// lease runs out and the order is checked again.
func (p *Poller) check(ctx context.Context, c *faka.PaymentCheck) Stats {
	o := c.Order
	res, st := p.decide(ctx, c)
	res.OrderID = o.ID
	if ctx.Err() != nil {
		return Stats{}
	}
	if res.Error != "" {
		st.Errors++
	}
	if err := p.store.PaymentCheckSave(ctx, res); err != nil && ctx.Err() == nil {
		p.log.Error("payment poller: save outcome", "order_no", o.OrderNo, "err", err)
	}
	return st
}

// decide does the gateway calls of one check and returns its outcome.
func (p *Poller) decide(parent context.Context, c *faka.PaymentCheck) (faka.PaymentCheckResult, Stats) {
	o := c.Order
	retry := func(err error) (faka.PaymentCheckResult, Stats) {
		p.log.Warn("payment poller: check failed; will retry", "order_no", o.OrderNo, "gateway", o.Gateway,
			"checks", c.Checks, "code", faka.ErrorCode(err), "err", err)
		return faka.PaymentCheckResult{After: p.backoff(c.Checks), Error: err.Error()}, Stats{}
	}
	gw, ok := p.gateways.Get(o.Gateway)
	if !ok {
		return retry(faka.Errorf(faka.EUnavailable, "gateway %s is not enabled", o.Gateway))
	}
	q, ok := gw.(payment.Querier)
	if !ok {
		return retry(faka.Errorf(faka.EUnavailable, "gateway %s cannot be asked about an order", o.Gateway))
	}
	ctx, cancel := context.WithTimeout(parent, p.opts.Timeout)
	defer cancel()

	n, paid, err := q.Query(ctx, o.OrderNo)
	if err != nil {
		return retry(fmt.Errorf("query: %w", err))
	}
	if paid {
		return p.apply(ctx, c, gw.Name(), n, retry)
	}
	if !c.Closing {
		return faka.PaymentCheckResult{After: p.backoff(c.Checks)}, Stats{Unpaid: 1}
	}
	cl, ok := gw.(payment.Closer)
	if !ok {
		// Nothing to close: this last query was all there was to do.
		return faka.PaymentCheckResult{Closed: true}, Stats{Closed: 1}
	}
	err = cl.CloseTrade(ctx, o.OrderNo)
	switch {
	case err == nil:
		p.log.Info("payment poller: trade closed", "order_no", o.OrderNo, "gateway", o.Gateway, "status", o.Status)
		return faka.PaymentCheckResult{Closed: true}, Stats{Closed: 1}
	case faka.ErrorCode(err) == faka.EConflict:
		// Paid between the query and the close: ask again at the next
		// tick, which applies it as a late payment. A trade that stays
		// unclosable yet unpaid (a payment still settling) backs off.
		p.log.Info("payment poller: paid before its trade could be closed", "order_no", o.OrderNo, "gateway", o.Gateway)
		after := p.opts.Interval
		if c.Checks > 1 {
			after = p.backoff(c.Checks)
		}
		return faka.PaymentCheckResult{After: after, Error: "close trade: " + err.Error()}, Stats{}
	default:
		return retry(fmt.Errorf("close trade: %w", err))
	}
}

// apply confirms a payment the gateway reported, through the same path as
// a notification.
func (p *Poller) apply(ctx context.Context, c *faka.PaymentCheck, gateway string, n faka.Notification,
	retry func(error) (faka.PaymentCheckResult, Stats)) (faka.PaymentCheckResult, Stats) {
	o := c.Order
	n.Gateway = gateway // a gateway speaks for itself only
	if n.OrderNo != o.OrderNo {
		return retry(faka.Errorf(faka.EInvalid, "gateway %s answered about order %q", gateway, n.OrderNo))
	}
	res, err := p.confirm(ctx, n)
	if err != nil {
		return retry(fmt.Errorf("confirm: %w", err))
	}
	if res.Duplicate {
		return faka.PaymentCheckResult{Closed: true}, Stats{Duplicates: 1}
	}
	attrs := []any{"order_no", o.OrderNo, "gateway", gateway, "trade_no", n.TradeNo, "status", res.Order.Status, "late", res.Late}
	if g, _ := p.gateways.Get(gateway); isUnsigned(g) {
		// Nothing but the verified TLS channel vouches for this reply.
		attrs = append(attrs, "reply", "unsigned, over verified TLS")
	}
	p.log.Info("payment poller: applied a payment whose notification had not come", attrs...)
	return faka.PaymentCheckResult{Closed: true}, Stats{Confirmed: 1}
}

// isUnsigned reports whether g's status replies are unsigned.
func isUnsigned(g payment.Gateway) bool {
	uq, ok := g.(payment.UnsignedQuerier)
	return ok && uq.UnsignedQuery()
}
