package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/sqlite"
	"github.com/faka-dev/faka/storetest"
)

// openSQLite opens a fresh database file for one test.
func openSQLite(t *testing.T) faka.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "faka.db"), sqlite.Options{})
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return st
}

func TestConformance(t *testing.T) { storetest.Run(t, openSQLite) }

func TestBank(t *testing.T) { storetest.Bank(t, openSQLite, storetest.BankOptions{}) }
