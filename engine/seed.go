package engine

import (
	"context"
	"fmt"
	"time"
)

// seed loads a product's available units into the admission gate's
// counter, once for every buyer who found no figure at the same moment.
// A drop's first requests all arrive before the counter is seeded; if each
// of them counted the product's keys in the database (a scan of every key
// row on PostgreSQL), a 100,000-key drop began with several seconds of
// such scans queued on the connection pool before the first order. The
// others wait for the one load (singleflight) and then try the counter
// again; if it failed, the next of them loads it.
func (l *lane) seed(ctx context.Context) error {
	ch := l.seeding.DoChan("seed", func() (any, error) {
		// Bounded, and not cancelled by the first buyer leaving: the
		// others wait for this load.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), seedTimeout)
		defer cancel()
		// A buyer who found no figure just before the last seeding
		// finished comes here after it: the figure is there now.
		if _, loaded, err := l.e.counter.Value(ctx, l.productID); err == nil && loaded {
			return nil, nil
		}
		st, err := l.e.store.StockGet(ctx, l.productID)
		if err != nil {
			return nil, fmt.Errorf("load stock of product %d: %w", l.productID, err)
		}
		if err := l.e.counter.Seed(ctx, l.productID, st.Available-l.queued()); err != nil {
			return nil, fmt.Errorf("admission gate: %w", err)
		}
		return nil, nil
	})
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		return fmt.Errorf("wait for the stock of product %d: %w", l.productID, ctx.Err())
	}
}

// seedTimeout bounds one load of a product's stock into the gate.
const seedTimeout = 30 * time.Second
