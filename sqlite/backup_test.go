package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faka-dev/faka/sqlite"
)

// TestBackup checks that a backup of an open store holds its figures and
// passes Verify, that an existing target is refused, and that a copy of a
// store that breaks an invariant is refused and leaves no file.
func TestBackup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	var seq int
	var name, src string
	if err := f.raw.QueryRow(`PRAGMA database_list`).Scan(&seq, &name, &src); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "copy.db")
	rep, err := sqlite.Backup(ctx, src, dst)
	if err != nil {
		t.Fatal(err)
	}
	want := f.reconcile(t)
	if len(rep.Products) != len(want.Products) || rep.Products[0] != want.Products[0] || rep.Products[1] != want.Products[1] {
		t.Fatalf("backup figures %+v, store %+v", rep.Products, want.Products)
	}
	if info, err := os.Stat(dst); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", info, err)
	}
	if _, err := sqlite.Backup(ctx, src, dst); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("backup over a file: %v", err)
	}

	if _, err := f.raw.Exec(`UPDATE card_keys SET state = 3 WHERE state = 2`); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.db")
	if _, err := sqlite.Backup(ctx, src, bad); err == nil || !strings.Contains(err.Error(), "invariants broken") {
		t.Fatalf("backup of a broken store: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(bad)); len(entries) != 0 {
		t.Fatalf("a refused backup left %v", entries)
	}

	garbage := filepath.Join(t.TempDir(), "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 400)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.Verify(ctx, garbage); err == nil {
		t.Fatal("Verify accepted a file that is no database")
	}
}
