package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/faka-dev/faka"
)

// lane is one product's admission gate and batcher.
//
// The gate is a Counter of units believed available. A reservation takes
// its units from the counter before it may queue; when the counter is short
// the buyer is told "sold out" without touching the database. Queued
// reservations are written by a single runner goroutine per product (per
// instance) in batches: while one batch's transaction runs, the next batch
// gathers, so one commit (one fsync) serves many buyers and no timer is
// needed.
//
// The counter may only err on the high side: the database decides. When a
// batch finds less stock than the gate admitted, or every ResyncInterval,
// the runner re-reads the database and corrects the counter.
type lane struct {
	e         *Engine
	productID int64

	mu      sync.Mutex
	queue   []*request
	running bool
	resync  bool // the runner should re-read the database before the next batch

	seeding singleflight.Group // the one load of the counter under way (see seed)
}

// request is one reservation waiting in a lane.
type request struct {
	params faka.ReserveParams
	done   chan faka.ReserveOutcome
}

// take admits q units, seeding the counter from the database when it has
// no figure for the product.
func (l *lane) take(ctx context.Context, q int) (bool, error) {
	for range 3 {
		ok, loaded, err := l.e.counter.Take(ctx, l.productID, int64(q))
		if err != nil {
			return false, fmt.Errorf("admission gate: %w", err)
		}
		if loaded {
			return ok, nil
		}
		if err := l.seed(ctx); err != nil {
			return false, err
		}
	}
	// The figure vanished three times in a row (Redis flushing now): let
	// the database decide this one.
	return true, nil
}

// add returns units to the gate (expiry, import, a failed batch); a
// negative n takes units the database gave away outside the gate.
func (l *lane) add(n int64) {
	if err := l.e.counter.Add(context.Background(), l.productID, n); err != nil {
		l.e.log.Error("admission gate add failed", "product_id", l.productID, "err", err)
	}
}

// queued returns the units admitted here and not yet written.
func (l *lane) queued() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n int64
	for _, r := range l.queue {
		n += int64(r.params.Quantity)
	}
	return n
}

// submit queues an admitted request and makes sure a runner is going.
func (l *lane) submit(r *request) {
	l.mu.Lock()
	l.queue = append(l.queue, r)
	start := !l.running
	l.running = true
	l.mu.Unlock()
	if start {
		l.e.spawn(l.run)
	}
}

// requestResync asks the runner to re-read the database, starting one if
// the lane is idle.
func (l *lane) requestResync() {
	l.mu.Lock()
	l.resync = true
	start := !l.running
	l.running = true
	l.mu.Unlock()
	if start {
		l.e.spawn(l.run)
	}
}

// run writes queued reservations in batches until the queue is empty.
func (l *lane) run() {
	ctx := context.Background() // a batch outlives any one buyer's request
	for {
		l.mu.Lock()
		if l.resync {
			l.resync = false
			l.mu.Unlock()
			l.syncFromDB(ctx)
			continue
		}
		if len(l.queue) == 0 {
			l.running = false
			l.mu.Unlock()
			return
		}
		n := min(len(l.queue), l.e.cfg.MaxBatch)
		batch := make([]*request, n)
		copy(batch, l.queue)
		l.queue = l.queue[n:]
		if len(l.queue) == 0 {
			l.queue = nil // let the backing array go
		}
		l.mu.Unlock()

		if l.write(ctx, batch) {
			l.syncFromDB(ctx)
		}
	}
}

// write runs one batch and answers its requests. It reports whether the
// database had less stock than the gate admitted.
func (l *lane) write(ctx context.Context, batch []*request) (short bool) {
	start := time.Now()
	params := make([]faka.ReserveParams, len(batch))
	for i, r := range batch {
		params[i] = r.params
	}
	outs, err := l.e.rules.ReserveBatch(ctx, l.productID, params)
	if err != nil {
		// Nothing was written: give the units back and fail the batch.
		var back int64
		for _, r := range batch {
			back += int64(r.params.Quantity)
			r.done <- faka.ReserveOutcome{Err: fmt.Errorf("reserve: %w", err)}
		}
		l.add(back)
		l.e.log.Error("reservation batch failed", "product_id", l.productID, "size", len(batch), "err", err)
		return false
	}
	var back int64
	for i, r := range batch {
		o := outs[i]
		if o.Err != nil {
			if faka.ErrorCode(o.Err) == faka.ESoldOut {
				short = true
			} else {
				back += int64(r.params.Quantity)
			}
		}
		r.done <- o
	}
	if back > 0 {
		l.add(back)
	}
	l.e.log.Debug("reservation batch", "product_id", l.productID, "size", len(batch), "took", time.Since(start))
	return short
}

// syncFromDB sets the counter to the database's available units less those
// still queued here (admitted, not yet written). Only the runner calls it,
// so no batch of this lane is in flight here; the epoch catches units
// added meanwhile by a sweeper or an import, and the read is retried.
// With a shared counter, other instances' queued units are not subtracted:
// the figure errs high, which is safe.
func (l *lane) syncFromDB(ctx context.Context) {
	for range 3 {
		epoch, err := l.e.counter.Epoch(ctx, l.productID)
		if err != nil {
			l.e.log.Error("gate resync failed", "product_id", l.productID, "err", err)
			return
		}
		st, err := l.e.store.StockGet(ctx, l.productID)
		if err != nil {
			l.e.log.Error("gate resync failed", "product_id", l.productID, "err", err)
			return
		}
		done, err := l.e.counter.Sync(ctx, l.productID, st.Available-l.queued(), epoch)
		if err != nil {
			l.e.log.Error("gate resync failed", "product_id", l.productID, "err", err)
			return
		}
		if done {
			return
		}
	}
}
