package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Prepared statements. modernc's SQLite is C translated to Go: parsing and
// planning a statement costs more than running a small one, and the write
// paths of a flash sale run the same dozen statements thousands of times a
// second. The hot queries are prepared once, when the store opens, on the
// writer (database/sql prepares a statement again on a new connection by
// itself); any other query runs unprepared as before.

// writeQueries are prepared on the writer connection.
var writeQueries = []string{
	qProductState, qKeysAvailable, qCountedFind, qOrderInsert, qIdemTaken, qIdemInsert,
	qKeysClaimBatch, qLedgerMany, qLedgerInsert,
	qPaymentByTrade, qOrderByNo, qOrderByID, qPaymentInsert, qBackorderNext, qOrderSetStatusMany,
	qOrderSetDelivered, qOrderSetDeliveredPaid, qOrderSetPaid, qOrderSetStatus,
	qKeysMove, qKeysRelease, qKeysMoveMany, qKeysReleaseMany, qDueOrders,
}

// readQueries are prepared on the read pool. None, for now: with the hot
// reads prepared there (the order view, StockGet), an engine test once
// refused the last key after an import under -race, unexplained, and never
// with the reads unprepared. Until that is understood, reads are parsed
// anew each time, which costs the read pool some CPU and nothing else.
var readQueries = []string{}

// stmtCache is one database's prepared statements by query text.
type stmtCache map[string]*sql.Stmt

func prepareAll(ctx context.Context, db *sql.DB, queries []string) (stmtCache, error) {
	c := make(stmtCache, len(queries))
	for _, q := range queries {
		if c[q] != nil {
			continue
		}
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			c.close()
			return nil, fmt.Errorf("sqlite: prepare %.60q: %w", q, err)
		}
		c[q] = st
	}
	return c, nil
}

func (c stmtCache) close() error {
	var errs []error
	for _, st := range c {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// wexec runs a statement in a write transaction.
func (s *Store) wexec(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	if st := s.wstmt[q]; st != nil {
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, q, args...)
}

// wqueryRow runs a one-row query in a write transaction.
func (s *Store) wqueryRow(ctx context.Context, tx *sql.Tx, q string, args ...any) *sql.Row {
	if st := s.wstmt[q]; st != nil {
		return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, q, args...)
}

// wquery runs a query in a write transaction.
func (s *Store) wquery(ctx context.Context, tx *sql.Tx, q string, args ...any) (*sql.Rows, error) {
	if st := s.wstmt[q]; st != nil {
		return tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, q, args...)
}

// rqueryRow runs a one-row query in a read transaction, or on the read
// pool when tx is nil.
func (s *Store) rqueryRow(ctx context.Context, tx *sql.Tx, q string, args ...any) *sql.Row {
	st := s.rstmt[q]
	switch {
	case st != nil && tx != nil:
		return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	case st != nil:
		return st.QueryRowContext(ctx, args...)
	case tx != nil:
		return tx.QueryRowContext(ctx, q, args...)
	}
	return s.read.QueryRowContext(ctx, q, args...)
}

// rquery runs a query in a read transaction, or on the read pool when tx
// is nil.
func (s *Store) rquery(ctx context.Context, tx *sql.Tx, q string, args ...any) (*sql.Rows, error) {
	st := s.rstmt[q]
	switch {
	case st != nil && tx != nil:
		return tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	case st != nil:
		return st.QueryContext(ctx, args...)
	case tx != nil:
		return tx.QueryContext(ctx, q, args...)
	}
	return s.read.QueryContext(ctx, q, args...)
}
