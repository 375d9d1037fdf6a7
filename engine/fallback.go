package engine

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// retryShared is how long the engine stays on its local counter after the
// shared one failed, before it tries the shared one again.
const retryShared = 3 * time.Second

// fallbackCounter uses a shared Counter (Redis) while it answers and an
// in-process one while it does not. Either is only an admission filter:
// with the local one, instances do not share their counts, so they reach
// the database more often and are corrected by it — slower, still correct.
type fallbackCounter struct {
	shared    Counter
	log       *slog.Logger
	onRecover func() // re-read every product from the database

	mu        sync.Mutex
	local     *LocalCounter
	downUntil time.Time
	degraded  bool
}

func (f *fallbackCounter) pick() (Counter, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.degraded && time.Now().After(f.downUntil) {
		return f.shared, true // try again; fail() puts it back down
	}
	if f.degraded {
		return f.local, false
	}
	return f.shared, true
}

// fail records a shared-counter error and returns the local counter, fresh
// when the outage starts so it is seeded from the database.
func (f *fallbackCounter) fail(err error) Counter {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.degraded {
		f.log.Warn("shared admission gate unreachable: using the database alone until it is back", "err", err)
		f.local = NewLocalCounter()
	}
	f.degraded = true
	f.downUntil = time.Now().Add(retryShared)
	return f.local
}

// ok records a shared-counter success, ending an outage.
func (f *fallbackCounter) ok(shared bool) {
	if !shared {
		return
	}
	f.mu.Lock()
	recovered := f.degraded
	f.degraded = false
	f.mu.Unlock()
	if recovered {
		f.log.Info("shared admission gate is back")
		f.onRecover() // its counts may be stale after the outage (it must not block)
	}
}

// Degraded reports whether the shared counter is currently bypassed.
func (f *fallbackCounter) Degraded() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.degraded
}

func (f *fallbackCounter) Take(ctx context.Context, productID, n int64) (bool, bool, error) {
	c, shared := f.pick()
	ok, loaded, err := c.Take(ctx, productID, n)
	if err != nil && shared {
		return f.fail(err).Take(ctx, productID, n)
	}
	f.ok(shared && err == nil)
	return ok, loaded, err
}

func (f *fallbackCounter) Seed(ctx context.Context, productID, value int64) error {
	c, shared := f.pick()
	err := c.Seed(ctx, productID, value)
	if err != nil && shared {
		return f.fail(err).Seed(ctx, productID, value)
	}
	f.ok(shared && err == nil)
	return err
}

func (f *fallbackCounter) Add(ctx context.Context, productID, n int64) error {
	c, shared := f.pick()
	err := c.Add(ctx, productID, n)
	if err != nil && shared {
		return f.fail(err).Add(ctx, productID, n)
	}
	f.ok(shared && err == nil)
	return err
}

func (f *fallbackCounter) Epoch(ctx context.Context, productID int64) (uint64, error) {
	c, shared := f.pick()
	e, err := c.Epoch(ctx, productID)
	if err != nil && shared {
		return f.fail(err).Epoch(ctx, productID)
	}
	f.ok(shared && err == nil)
	return e, err
}

func (f *fallbackCounter) Sync(ctx context.Context, productID, value int64, epoch uint64) (bool, error) {
	c, shared := f.pick()
	done, err := c.Sync(ctx, productID, value, epoch)
	if err != nil && shared {
		// The epoch was read from the shared counter; the local one must
		// be seeded afresh rather than synced against it.
		return false, f.fail(err).Seed(ctx, productID, value)
	}
	f.ok(shared && err == nil)
	return done, err
}

func (f *fallbackCounter) Value(ctx context.Context, productID int64) (int64, bool, error) {
	c, shared := f.pick()
	v, loaded, err := c.Value(ctx, productID)
	if err != nil && shared {
		return f.fail(err).Value(ctx, productID)
	}
	f.ok(shared && err == nil)
	return v, loaded, err
}
