package engine

import (
	"sync"

	"github.com/faka-dev/faka"
)

// confirmFlights tracks the payment confirmations in flight by (gateway,
// trade_no), so that concurrent copies of one notification share one. The
// zero value is ready to use.
type confirmFlights struct {
	mu sync.Mutex
	m  map[string]*confirmFlight
}

// confirmFlight is one confirmation in flight; res and err are set before
// done is closed.
type confirmFlight struct {
	done chan struct{}
	res  *confirmed
	err  error
}

// confirmed is a confirmation's outcome, kept to answer its copies.
type confirmed faka.ConfirmResult

// join returns the flight for key, and true when the caller is the first
// and must run it and call finish.
func (c *confirmFlights) join(key string) (*confirmFlight, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.m[key]; f != nil {
		return f, false
	}
	if c.m == nil {
		c.m = map[string]*confirmFlight{}
	}
	f := &confirmFlight{done: make(chan struct{})}
	c.m[key] = f
	return f, true
}

// finish records the first copy's outcome and releases the others.
func (c *confirmFlights) finish(key string, f *confirmFlight, res *faka.ConfirmResult, err error) {
	if res != nil {
		f.res = (*confirmed)(res)
	}
	f.err = err
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
	close(f.done)
}

// asDuplicate returns the outcome as a copy of the notification sees it:
// the trade applied before it, nothing changed by it. Each caller gets
// its own copies of the order and payment.
func (r *confirmed) asDuplicate() *faka.ConfirmResult {
	out := faka.ConfirmResult{Duplicate: true}
	if r.Order != nil {
		o := *r.Order
		out.Order = &o
	}
	if r.Payment != nil {
		p := *r.Payment
		out.Payment = &p
	}
	return &out
}
