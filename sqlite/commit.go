package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/faka-dev/faka"
)

// maxGroup caps how many write operations share one transaction.
const maxGroup = 256

// committer runs the store's write operations on the one writer
// connection with group commit: operations that arrive while a
// transaction commits wait, and then run one after another inside the next
// transaction, each in its own SAVEPOINT. An operation that fails is rolled
// back to its savepoint and the others are unaffected; one COMMIT — one
// fsync — then makes the whole group durable, and only then is anyone
// told. Each operation is as atomic and as isolated as in a transaction of
// its own (they run serially, in arrival order), and as durable, but a
// burst of payment notifications costs one fsync instead of one each.
//
// No timer is involved: a lone operation runs at once, in a transaction of
// its own, as before.
type committer struct {
	db *sql.DB

	mu      sync.Mutex
	queue   []*writeOp
	running bool
}

// writeOp is one caller's write transaction body.
type writeOp struct {
	ctx  context.Context
	fn   func(tx *sql.Tx) error
	err  error
	done chan struct{}
}

// do runs fn in a write transaction and returns its error or the
// transaction's. It waits for the outcome even if ctx ends meanwhile, so
// that an error always means nothing was committed; an operation whose ctx
// ended before it began is not run.
//
// A caller who finds the writer idle leads: it runs the queue's groups on
// its own goroutine until its own operation is committed, and hands the
// rest, if any, to a new goroutine. A lone write thus runs start to end on
// its caller's goroutine, as a plain transaction would, and its caller
// goes on the moment it commits: what the caller does next (the engine
// returning released units to the admission gate, say) follows the commit
// as closely as it did before group commit.
func (c *committer) do(ctx context.Context, fn func(tx *sql.Tx) error) error {
	op := &writeOp{ctx: ctx, fn: fn, done: make(chan struct{})}
	c.mu.Lock()
	c.queue = append(c.queue, op)
	lead := !c.running
	c.running = true
	c.mu.Unlock()
	if lead {
		c.lead(op)
	}
	<-op.done
	return op.err
}

// lead commits groups until mine is done, then hands on what is queued.
func (c *committer) lead(mine *writeOp) {
	for {
		if !c.next() {
			return // the queue is empty and nobody leads
		}
		select {
		case <-mine.done:
			c.mu.Lock()
			if len(c.queue) == 0 {
				c.running = false
				c.mu.Unlock()
				return
			}
			c.mu.Unlock()
			go c.run()
			return
		default:
		}
	}
}

// run commits groups until the queue is empty.
func (c *committer) run() {
	for c.next() {
	}
}

// next commits the next group and reports true, or, when the queue is
// empty, marks the writer idle and reports false.
func (c *committer) next() bool {
	c.mu.Lock()
	if len(c.queue) == 0 {
		c.running = false
		c.mu.Unlock()
		return false
	}
	n := min(len(c.queue), maxGroup)
	group := make([]*writeOp, n)
	copy(group, c.queue)
	c.queue = c.queue[n:]
	if len(c.queue) == 0 {
		c.queue = nil // let the backing array go
	}
	c.mu.Unlock()
	c.commit(group)
	for _, op := range group {
		close(op.done)
	}
	return true
}

// commit runs one group in one transaction and sets each operation's err.
func (c *committer) commit(group []*writeOp) {
	live := group[:0:0]
	for _, op := range group {
		if err := op.ctx.Err(); err != nil {
			op.err = err // never begun: nothing to undo
			continue
		}
		live = append(live, op)
	}
	if len(live) == 0 {
		return
	}
	if len(live) == 1 {
		live[0].err = c.single(live[0])
		return
	}
	// The transaction must not end with any one caller's context: the
	// group outlives them all.
	tx, err := c.db.BeginTx(context.Background(), nil)
	if err != nil {
		failAll(live, fmt.Errorf("sqlite: begin: %w", err))
		return
	}
	ctx := context.Background()
	for _, op := range live {
		if _, err := tx.ExecContext(ctx, `SAVEPOINT op`); err != nil {
			_ = tx.Rollback()
			failAll(live, fmt.Errorf("sqlite: savepoint: %w", err))
			return
		}
		op.err = call(op.fn, tx)
		// RELEASE (or ROLLBACK TO) fails when SQLite has rolled the whole
		// transaction back — an interrupted statement (a caller's context
		// ended mid-statement), I/O error or full disk: then nothing of the
		// group survives, and every member is told so.
		var end error
		if op.err == nil {
			_, end = tx.ExecContext(ctx, `RELEASE op`)
		} else if _, end = tx.ExecContext(ctx, `ROLLBACK TO op`); end == nil {
			_, end = tx.ExecContext(ctx, `RELEASE op`)
		}
		if end != nil {
			_ = tx.Rollback()
			failAll(live, &faka.Error{Code: faka.EUnavailable, Message: "the write transaction was aborted; try again",
				Err: fmt.Errorf("sqlite: end of savepoint: %w (operation: %v)", end, op.err)})
			return
		}
	}
	if err := tx.Commit(); err != nil {
		for _, op := range live {
			if op.err == nil {
				op.err = fmt.Errorf("sqlite: commit: %w", err)
			}
		}
	}
}

// single runs a lone operation in a transaction of its own.
func (c *committer) single(op *writeOp) error {
	// Once begun, the operation runs to its end whatever becomes of its
	// caller's context (faka.TxRunner): database/sql would roll back a
	// transaction begun on a context that ends.
	tx, err := c.db.BeginTx(context.WithoutCancel(op.ctx), nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	if err := call(op.fn, tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// call runs fn, turning a panic into an error: fn runs on the committer's
// goroutine, where a panic would take the whole process down and leave the
// group's other callers waiting.
func call(fn func(tx *sql.Tx) error, tx *sql.Tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("sqlite: panic in a write transaction: %v: %w", v, errInvariant)
		}
	}()
	return fn(tx)
}

func failAll(ops []*writeOp, err error) {
	for _, op := range ops {
		op.err = err
	}
}
