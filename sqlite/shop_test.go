package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/faka-dev/faka/sqlite"
	"github.com/faka-dev/faka/storetest"
)

func TestShopConformance(t *testing.T) {
	storetest.RunShop(t, func(t *testing.T) storetest.ShopDriver {
		st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "faka.db"), sqlite.Options{Synchronous: "OFF"})
		if err != nil {
			t.Fatalf("sqlite.Open: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}
