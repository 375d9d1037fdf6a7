// Package sqlite is the embedded store: faka.Store on modernc.org/sqlite
// (pure Go, no cgo). One writer connection serialises every write
// transaction (BEGIN IMMEDIATE), so writers never fight over SQLITE_BUSY,
// and commits them in groups: writes that arrive while one commits share
// the next transaction and its fsync, each in a savepoint of its own (see
// committer). A small pool of read-only connections serves reads from WAL
// snapshots. The hot statements are prepared once (see stmt.go).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/faka-dev/faka"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tune the store.
type Options struct {
	// Now is the database clock. The embedded database has no clock of its
	// own, so the process clock stands in; tests may inject one.
	Now func() time.Time
	// ReadConns is the size of the read pool (default 4).
	ReadConns int
	// Synchronous is SQLite's synchronous pragma (default FULL: a paid order
	// survives a power cut once its commit returns).
	Synchronous string
	// CheckpointInterval is how often a background connection checkpoints
	// the write-ahead log (default DefaultCheckpointInterval); negative
	// leaves checkpoints to SQLite, in the committing writer (see
	// checkpointer).
	CheckpointInterval time.Duration
}

// Store is the SQLite faka.Store.
type Store struct {
	write *sql.DB
	read  *sql.DB
	now   func() time.Time

	group *committer
	wstmt stmtCache // prepared on the writer
	rstmt stmtCache // prepared on the read pool
	ckpt  *checkpointer
}

var _ faka.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path and applies
// the migrations.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ReadConns <= 0 {
		opts.ReadConns = 4
	}
	if opts.Synchronous == "" {
		opts.Synchronous = "FULL"
	}
	if opts.CheckpointInterval == 0 {
		opts.CheckpointInterval = DefaultCheckpointInterval
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlite: create data directory: %w", err)
		}
	}
	// The database holds buyers' emails and (encrypted) keys: private to
	// its owner. SQLite gives the WAL and shm files the same mode.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	} else {
		f.Close()
	}
	pragmas := url.Values{}
	pragmas.Add("_pragma", "busy_timeout(10000)")
	pragmas.Add("_pragma", "journal_mode(WAL)")
	pragmas.Add("_pragma", "synchronous("+opts.Synchronous+")")
	pragmas.Add("_pragma", "foreign_keys(1)")
	ckptDSN := "file:" + path + "?" + pragmas.Encode()
	writePragmas := pragmas
	if opts.CheckpointInterval > 0 {
		writePragmas = url.Values{"_pragma": append([]string{"wal_autocheckpoint(0)"}, pragmas["_pragma"]...)}
	}
	writeDSN := "file:" + path + "?" + writePragmas.Encode() + "&_txlock=immediate"
	write, err := sql.Open("sqlite", writeDSN)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)

	if err := migrate(ctx, write); err != nil {
		write.Close()
		return nil, err
	}

	pragmas.Add("_pragma", "query_only(1)")
	read, err := sql.Open("sqlite", "file:"+path+"?"+pragmas.Encode())
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open read pool: %w", err)
	}
	read.SetMaxOpenConns(opts.ReadConns)
	read.SetMaxIdleConns(opts.ReadConns)
	if err := read.PingContext(ctx); err != nil {
		write.Close()
		read.Close()
		return nil, fmt.Errorf("sqlite: ping read pool: %w", err)
	}
	wstmt, err := prepareAll(ctx, write, writeQueries)
	if err != nil {
		write.Close()
		read.Close()
		return nil, err
	}
	rstmt, err := prepareAll(ctx, read, readQueries)
	if err != nil {
		wstmt.close()
		write.Close()
		read.Close()
		return nil, err
	}
	st := &Store{write: write, read: read, now: opts.Now, group: &committer{db: write},
		wstmt: wstmt, rstmt: rstmt}
	if opts.CheckpointInterval > 0 {
		if st.ckpt, err = startCheckpointer(ckptDSN, opts.CheckpointInterval); err != nil {
			st.Close()
			return nil, err
		}
	}
	return st, nil
}

func migrate(ctx context.Context, db *sql.DB) error {
	p, err := goose.NewProvider(goose.DialectSQLite3, db, migrationsFS())
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlite: apply migrations: %w", err)
	}
	return nil
}

// Close stops the checkpointer and closes the connection pools.
func (s *Store) Close() error {
	var errs []error
	if s.ckpt != nil {
		errs = append(errs, s.ckpt.close())
	}
	return errors.Join(append(errs, s.wstmt.close(), s.rstmt.close(), s.read.Close(), s.write.Close())...)
}

// Ping checks that the database answers (for /readyz).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.read.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Now returns the store's clock.
func (s *Store) Now(ctx context.Context) (time.Time, error) { return s.now(), nil }

func (s *Store) nowMS() int64 { return s.now().UnixMilli() }

// inTx runs fn in a write transaction (BEGIN IMMEDIATE through the DSN's
// _txlock) and commits when fn returns nil; nothing of fn stays when it
// returns an error. fn may share its transaction with other callers' (group
// commit), each in its own savepoint: it must use only tx, and it may run
// on another goroutine, and it must run its statements on a context its
// caller cannot cancel (an interrupted statement rolls back the whole
// group): every fn starts with ctx := context.WithoutCancel(ctx). inTx
// returns once the commit is durable.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return translate(s.group.do(ctx, fn))
}

// inReadTx runs fn in a read transaction: every query in it sees one
// snapshot of the database.
func (s *Store) inReadTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return translate(fmt.Errorf("sqlite: begin read: %w", err))
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	return translate(fn(tx))
}

// translate maps driver errors to faka error codes, in one place, so that
// every driver returns the same codes for the same situations.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var fe *faka.Error
	if errors.As(err, &fe) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return &faka.Error{Code: faka.ENotFound, Message: "not found", Err: err}
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return &faka.Error{Code: faka.EConflict, Message: "already exists", Err: err}
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return &faka.Error{Code: faka.EUnavailable, Message: "database busy", Err: err}
		}
	}
	return &faka.Error{Code: faka.EInternal, Err: err}
}

func msTime(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return time.UnixMilli(ms.Int64)
}

func nullMS(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
