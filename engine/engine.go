// Package engine is the order engine: it reserves stock through an
// admission gate and a per-product batcher, confirms payments, expires
// reservations, refunds, and fulfils backorders. Every order rule is
// written once, in rules.go, over the stores' data operations (faka.Tx);
// the database's transactions make them hold, and the engine's in-memory
// counters only make doomed requests fail faster.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/keyring"
)

// Config configures an Engine.
type Config struct {
	Store   faka.Store
	Keyring *keyring.Keyring
	Logger  *slog.Logger
	// SweepInterval is how often expired reservations are released
	// (default 1s).
	SweepInterval time.Duration
	// ResyncInterval is how often the admission gate and the product cache
	// are re-read from the database, to pick up changes made by other
	// processes (default 5s).
	ResyncInterval time.Duration
	// MaxBatch caps how many reservations share one transaction (default 256).
	MaxBatch int
	// ImportBatch is how many keys one transaction of a key import holds
	// (default DefaultImportBatch).
	ImportBatch int
	// Counter, when set, is the admission gate's count shared between
	// instances (redisgate). The engine falls back to an in-process count
	// while it fails. Nil: in-process only.
	Counter Counter
}

// Engine is the order engine. Create it with New, Start its background
// work, and Close it when done. It is safe for concurrent use.
type Engine struct {
	store faka.Store
	rules Rules
	kr    *keyring.Keyring
	log   *slog.Logger
	cfg   Config

	counter Counter
	shared  *fallbackCounter // nil without a shared counter

	mu       sync.Mutex
	lanes    map[int64]*lane
	products map[int64]*faka.Product
	inflight map[string]bool    // Idempotency-Keys being served now
	confirms singleflight.Group // payment confirmations in flight, by trade

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// New returns an Engine over a store.
func New(cfg Config) (*Engine, error) {
	if cfg.Store == nil || cfg.Keyring == nil {
		return nil, errors.New("engine: Store and Keyring are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = time.Second
	}
	if cfg.ResyncInterval <= 0 {
		cfg.ResyncInterval = 5 * time.Second
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 256
	}
	if cfg.ImportBatch <= 0 {
		cfg.ImportBatch = DefaultImportBatch
	}
	e := &Engine{
		store:    cfg.Store,
		rules:    Rules{Store: cfg.Store},
		kr:       cfg.Keyring,
		log:      cfg.Logger,
		cfg:      cfg,
		counter:  NewLocalCounter(),
		lanes:    map[int64]*lane{},
		products: map[int64]*faka.Product{},
		inflight: map[string]bool{},
		stop:     func() {},
	}
	if cfg.Counter != nil {
		e.shared = &fallbackCounter{shared: cfg.Counter, log: cfg.Logger, local: NewLocalCounter(),
			onRecover: func() { e.spawn(func() { e.resyncAll(context.Background()) }) }}
		e.counter = e.shared
	}
	return e, nil
}

// GateStatus reports whether the admission gate is shared between
// instances and, if so, whether the engine is bypassing it because it does
// not answer (requests then go to the database alone).
func (e *Engine) GateStatus() (shared, degraded bool) {
	if e.shared == nil {
		return false, false
	}
	return true, e.shared.Degraded()
}

// Store returns the engine's store.
func (e *Engine) Store() faka.Store { return e.store }

// Start runs the expiry sweeper and the periodic resynchronisation until
// Close. It sweeps once before returning, so reservations that ran out
// while the process was down are released at once.
func (e *Engine) Start(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	e.stop = cancel
	if _, err := e.ExpireDue(ctx); err != nil {
		e.log.Error("expiry sweep at start failed", "err", err)
	}
	e.wg.Add(2)
	go e.every(ctx, e.cfg.SweepInterval, func(ctx context.Context) {
		if _, err := e.ExpireDue(ctx); err != nil && ctx.Err() == nil {
			e.log.Error("expiry sweep failed", "err", err)
		}
	})
	go e.every(ctx, e.cfg.ResyncInterval, e.resyncAll)
}

func (e *Engine) every(ctx context.Context, d time.Duration, fn func(context.Context)) {
	defer e.wg.Done()
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}

// spawn runs f on a goroutine that Close waits for.
func (e *Engine) spawn(f func()) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		f()
	}()
}

// Close stops the background work and waits for every goroutine the
// engine started: the sweeper, the resynchronisation, each product's
// batch runner (which finishes the batches already queued). Call it once
// nothing submits requests any more (the HTTP server has stopped).
func (e *Engine) Close() {
	e.stop()
	e.wg.Wait()
}

// ExpireDue releases every reservation that has run out by the database
// clock and returns how many units went back on sale.
func (e *Engine) ExpireDue(ctx context.Context) (int64, error) {
	var total int64
	for range 100 { // bounded: a huge backlog is finished by the next ticks
		rel, err := e.rules.OrdersExpire(ctx, 500)
		if err != nil {
			return total, fmt.Errorf("expire reservations: %w", err)
		}
		if len(rel) == 0 {
			return total, nil
		}
		for _, r := range rel {
			e.lane(r.ProductID).add(r.Units)
			total += r.Units
		}
	}
	return total, nil
}

// resyncAll refreshes the product cache and asks every lane to re-read its
// availability from the database.
func (e *Engine) resyncAll(ctx context.Context) {
	ps, err := e.store.ProductList(ctx, false)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Error("refresh products failed", "err", err)
		}
		return
	}
	e.mu.Lock()
	for _, p := range ps {
		e.products[p.ID] = p
	}
	lanes := make([]*lane, 0, len(e.lanes))
	for _, l := range e.lanes {
		lanes = append(lanes, l)
	}
	e.mu.Unlock()
	for _, l := range lanes {
		l.requestResync()
	}
}

// lane returns the product's admission lane, creating it.
func (e *Engine) lane(productID int64) *lane {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.lanes[productID]
	if l == nil {
		l = &lane{e: e, productID: productID}
		e.lanes[productID] = l
	}
	return l
}

// GateAvailable returns the admission gate's count for a product, and false
// when the gate has not loaded it yet.
func (e *Engine) GateAvailable(productID int64) (int64, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	v, loaded, err := e.counter.Value(ctx, productID)
	if err != nil {
		return 0, false
	}
	return v, loaded
}

// Reconcile checks the invariants of docs/ARCHITECTURE.md §1 in the database.
func (e *Engine) Reconcile(ctx context.Context) (*faka.ReconcileReport, error) {
	rep, err := e.store.Reconcile(ctx)
	if err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	return rep, nil
}
