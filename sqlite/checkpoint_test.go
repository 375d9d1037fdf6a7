package sqlite_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
	"github.com/faka-dev/faka/sqlite"
)

// TestCheckpointsOffTheCommitPath writes far more than SQLite's automatic
// checkpoint threshold (1,000 pages) in one transaction: with the
// background checkpointer idle (an hour's interval) the database file does
// not grow, because the writer no longer checkpoints; with it ticking, the
// log reaches the database file shortly after.
func TestCheckpointsOffTheCommitPath(t *testing.T) {
	t.Parallel()
	grown := func(interval time.Duration) (int64, int64) {
		ctx := context.Background()
		path := filepath.Join(t.TempDir(), "faka.db")
		st, err := sqlite.Open(ctx, path, sqlite.Options{CheckpointInterval: interval})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		p := &faka.Product{Name: "ckpt", Price: 100, Currency: "CNY", Delivery: faka.DeliveryCard,
			ReservationTTL: time.Hour, MinQuantity: 1, MaxQuantity: 1, Active: true}
		if err := st.ProductCreate(ctx, p, nil, 0, nil); err != nil {
			t.Fatal(err)
		}
		before := fileSize(t, path)
		keys := make([]faka.SealedKey, 40_000)
		for i := range keys {
			h := sha256.Sum256(fmt.Appendf(nil, "ckpt-%d", i))
			keys[i] = faka.SealedKey{Hash: h[:], Ciphertext: append(h[:], h[:]...)}
		}
		if _, err := (engine.Rules{Store: st}).KeysImport(ctx, p.ID, keys); err != nil {
			t.Fatal(err)
		}
		if wal := fileSize(t, path+"-wal"); wal < 4<<20 {
			t.Fatalf("the import wrote %d bytes of log, less than the automatic checkpoint threshold", wal)
		}
		deadline := time.Now().Add(5 * time.Second)
		for interval < time.Minute && fileSize(t, path) < before+2<<20 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		return before, fileSize(t, path)
	}
	if before, after := grown(time.Hour); after != before {
		t.Errorf("the database file grew from %d to %d bytes with no background checkpoint: the writer checkpointed", before, after)
	}
	if before, after := grown(20 * time.Millisecond); after < before+2<<20 {
		t.Errorf("the database file grew from %d to only %d bytes: the background checkpointer did not copy the log", before, after)
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
