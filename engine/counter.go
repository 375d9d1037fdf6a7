package engine

import (
	"context"
	"sync"
)

// Counter is the admission gate's count of units believed available per
// product. It may only err high: the database decides every sale, and a
// count that is too low would turn buyers away from stock that exists, so
// every write that could lower it races against Add through an epoch.
//
// LocalCounter keeps it in process; redisgate.Counter shares it between
// instances.
type Counter interface {
	// Take admits n units of a product. loaded is false when the counter
	// has no figure for the product (first use, or Redis was flushed):
	// the caller seeds it and tries again.
	Take(ctx context.Context, productID, n int64) (ok, loaded bool, err error)
	// Seed sets the figure only when the counter has none.
	Seed(ctx context.Context, productID, value int64) error
	// Add moves the figure by n (negative to take units away, floored at
	// zero) when it has one, and always advances the product's epoch.
	Add(ctx context.Context, productID, n int64) error
	// Epoch returns the product's epoch, read before the database is.
	Epoch(ctx context.Context, productID int64) (uint64, error)
	// Sync sets the figure to value if the epoch is still epoch, and
	// reports whether it did.
	Sync(ctx context.Context, productID, value int64, epoch uint64) (bool, error)
	// Value returns the figure and whether there is one.
	Value(ctx context.Context, productID int64) (int64, bool, error)
}

// LocalCounter is a Counter in process memory, for a single instance.
type LocalCounter struct {
	mu sync.Mutex
	m  map[int64]*localCount
}

type localCount struct {
	value  int64
	loaded bool
	epoch  uint64
}

// NewLocalCounter returns an empty in-process counter.
func NewLocalCounter() *LocalCounter { return &LocalCounter{m: map[int64]*localCount{}} }

func (c *LocalCounter) get(productID int64) *localCount {
	v := c.m[productID]
	if v == nil {
		v = &localCount{}
		c.m[productID] = v
	}
	return v
}

// Take implements Counter.
func (c *LocalCounter) Take(_ context.Context, productID, n int64) (bool, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.get(productID)
	if !v.loaded {
		return false, false, nil
	}
	if v.value < n {
		return false, true, nil
	}
	v.value -= n
	return true, true, nil
}

// Seed implements Counter.
func (c *LocalCounter) Seed(_ context.Context, productID, value int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v := c.get(productID); !v.loaded {
		v.value, v.loaded = max(0, value), true
	}
	return nil
}

// Add implements Counter.
func (c *LocalCounter) Add(_ context.Context, productID, n int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.get(productID)
	v.epoch++
	if v.loaded {
		v.value = max(0, v.value+n)
	}
	return nil
}

// Epoch implements Counter.
func (c *LocalCounter) Epoch(_ context.Context, productID int64) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.get(productID).epoch, nil
}

// Sync implements Counter.
func (c *LocalCounter) Sync(_ context.Context, productID, value int64, epoch uint64) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.get(productID)
	if v.epoch != epoch {
		return false, nil
	}
	v.value, v.loaded = max(0, value), true
	return true, nil
}

// Value implements Counter.
func (c *LocalCounter) Value(_ context.Context, productID int64) (int64, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.get(productID)
	return v.value, v.loaded, nil
}
