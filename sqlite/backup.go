package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/faka-dev/faka"
)

// Backup writes a consistent copy of the database file src to dst, which
// must not exist, while other connections (a running faka serve, in this
// process or another) keep writing. It runs VACUUM INTO on a connection of
// its own: one read transaction, so the copy is a single snapshot that
// holds every commit before it and none after, and the writer is never
// blocked by it (WAL readers do not block writers). The copy is written
// under a temporary name in dst's directory and renamed into place only
// once Verify accepts it, so a failed backup leaves no file at dst.
func Backup(ctx context.Context, src, dst string) (*faka.ReconcileReport, error) {
	if _, err := os.Stat(src); err != nil {
		return nil, fmt.Errorf("sqlite: backup: %w", err)
	}
	if _, err := os.Lstat(dst); err == nil {
		return nil, fmt.Errorf("sqlite: backup: %s already exists", dst)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("sqlite: backup: %w", err)
	}
	tmp, err := reserveTemp(dst)
	if err != nil {
		return nil, err
	}
	defer removeDB(tmp) // after the rename there is nothing left to remove
	db, err := sql.Open("sqlite", "file:"+src+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("sqlite: backup: open %s: %w", src, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		return nil, fmt.Errorf("sqlite: backup: vacuum into %s: %w", tmp, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return nil, fmt.Errorf("sqlite: backup: %w", err)
	}
	rep, err := Verify(ctx, tmp)
	if err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return nil, fmt.Errorf("sqlite: backup: %w", err)
	}
	return rep, nil
}

// reserveTemp returns a name beside dst that does not exist: VACUUM INTO
// refuses a target that holds data.
func reserveTemp(dst string) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".partial-*")
	if err != nil {
		return "", fmt.Errorf("sqlite: backup: %w", err)
	}
	name := f.Name()
	f.Close()
	// An empty file is accepted by VACUUM INTO; keeping it holds the name.
	return name, nil
}

// removeDB removes a database file and its WAL and shared-memory files.
func removeDB(path string) {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		_ = os.Remove(p)
	}
}

// Verify checks a database file that no one else uses (a backup): SQLite's
// integrity check, then the schema brought up to date and every invariant
// (Store.Reconcile). A report with violations is returned with an error.
func Verify(ctx context.Context, path string) (*faka.ReconcileReport, error) {
	if err := integrityCheck(ctx, path); err != nil {
		return nil, err
	}
	st, err := Open(ctx, path, Options{CheckpointInterval: -1})
	if err != nil {
		return nil, err
	}
	rep, err := st.Reconcile(ctx)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: verify %s: %w", path, err)
	}
	if !rep.OK {
		return rep, fmt.Errorf("sqlite: verify %s: %d invariants broken", path, len(rep.Violations))
	}
	return rep, nil
}

// integrityCheck runs PRAGMA integrity_check, which reads every page.
func integrityCheck(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("sqlite: verify %s: %w", path, err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return fmt.Errorf("sqlite: verify %s: %w", path, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return fmt.Errorf("sqlite: verify %s: %w", path, err)
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: verify %s: %w", path, err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("sqlite: verify %s: integrity check failed: %s", path, strings.Join(problems, "; "))
	}
	return nil
}
