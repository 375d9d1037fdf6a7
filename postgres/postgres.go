// Package postgres is faka.Store on PostgreSQL (pgx v5, pgxpool), for
// several stateless faka instances sharing one database. It differs from
// the SQLite store where concurrency demands it: keys are claimed with
// FOR UPDATE SKIP LOCKED, orders are locked before they change, backorder
// fulfilment is serialised per product by an advisory lock, and the
// database's clock, now(), judges expiry.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/faka-dev/faka"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tune the store.
type Options struct {
	// Schema, when set, is created if missing and used as the search_path:
	// tests give each store a schema of its own.
	Schema string
	// MaxConns caps the pool (default: pgxpool's, max(4, CPUs)).
	MaxConns int32
}

// Store is the PostgreSQL faka.Store.
type Store struct {
	pool *pgxpool.Pool
}

var _ faka.Store = (*Store)(nil)

// Open connects to url (postgres://…), applies the migrations and returns
// the store.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse database URL: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.Schema != "" {
		if err := createSchema(ctx, cfg.ConnConfig.Copy(), opts.Schema); err != nil {
			return nil, err
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = opts.Schema
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := migrate(ctx, pool, opts.Schema); err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{pool: pool}, nil
}

func createSchema(ctx context.Context, cc *pgx.ConnConfig, schema string) error {
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
		return fmt.Errorf("postgres: create schema %s: %w", schema, err)
	}
	return nil
}

// migrate applies the migrations under a session-level advisory lock, so
// several instances started at once on an empty database take turns
// instead of racing to create the same tables. The lock is per schema (the
// tests give each store its own); a waiting instance retries every second.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	h := fnv.New64a()
	h.Write([]byte("faka migrations " + schema))
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64()>>1)), lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("postgres: migration lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgres: apply migrations: %w", err)
	}
	return nil
}

// Close closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping checks that the database answers (for /readyz).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Pool exposes the connection pool to tests and tools of this module.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Now returns the database clock.
func (s *Store) Now(ctx context.Context) (time.Time, error) {
	var t time.Time
	if err := s.pool.QueryRow(ctx, `SELECT now()`).Scan(&t); err != nil {
		return time.Time{}, translate(fmt.Errorf("postgres: now: %w", err))
	}
	return t, nil
}

// maxAttempts bounds the retries of a transaction that lost a deadlock or
// serialization race: PostgreSQL aborted it, nothing of it was applied.
const maxAttempts = 5

// inTx runs fn in a READ COMMITTED transaction and commits when it
// returns nil; deadlocks and serialization failures are retried.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	var err error
	for attempt := range maxAttempts {
		err = pgx.BeginFunc(ctx, s.pool, fn)
		if !retryable(err) {
			break
		}
		select {
		case <-ctx.Done():
			return translate(ctx.Err())
		case <-time.After(time.Duration(attempt+1) * 5 * time.Millisecond):
		}
	}
	return translate(err)
}

// inReadTx runs fn in a read-only REPEATABLE READ transaction: one
// snapshot for every query in it.
func (s *Store) inReadTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return translate(pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead,
		AccessMode: pgx.ReadOnly}, fn))
}

func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// translate maps driver errors to faka error codes, in one place, so that
// both stores return the same codes for the same situations.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var fe *faka.Error
	if errors.As(err, &fe) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &faka.Error{Code: faka.ENotFound, Message: "not found", Err: err}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505":
			return &faka.Error{Code: faka.EConflict, Message: "already exists", Err: err}
		case pe.Code == "40001" || pe.Code == "40P01" || pe.Code == "55P03" || pe.Code == "57P03":
			return &faka.Error{Code: faka.EUnavailable, Message: "database busy", Err: err}
		}
	}
	if pgconn.SafeToRetry(err) || errors.Is(err, context.DeadlineExceeded) {
		return &faka.Error{Code: faka.EUnavailable, Message: "database unavailable", Err: err}
	}
	return &faka.Error{Code: faka.EInternal, Err: err}
}

// lockProduct serialises, per product, the transactions that hand out
// newly available stock (imports, releases, late payments), so that
// backorders are served oldest first and none is missed between a late
// payment and a concurrent import. The reservation hot path never takes it.
func lockProduct(ctx context.Context, tx pgx.Tx, productID int64) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1::bigint)`, productID); err != nil {
		return fmt.Errorf("lock product %d: %w", productID, err)
	}
	return nil
}

// errInvariant marks a state the schema and the engine should make
// impossible; the transaction is rolled back and it surfaces as internal.
var errInvariant = errors.New("invariant violated")
