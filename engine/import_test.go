package engine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
	"github.com/faka-dev/faka/keyring"
	"github.com/faka-dev/faka/sqlite"
)

// countingStore wraps the SQLite store to count StockGet calls and to fail
// chosen KeysImport calls.
type countingStore struct {
	faka.Store
	stockGets  atomic.Int64
	imports    atomic.Int64
	failImport atomic.Int64 // the write transaction (1-based) that fails; 0: none
}

var errInjected = errors.New("injected failure")

func (s *countingStore) StockGet(ctx context.Context, productID int64) (faka.Stock, error) {
	s.stockGets.Add(1)
	return s.Store.StockGet(ctx, productID)
}

// Tx counts write transactions: in these tests, which run no sweeper and
// no reservation, each is one batch of an import.
func (s *countingStore) Tx(ctx context.Context, fn func(context.Context, faka.Tx) error) error {
	if n := s.imports.Add(1); n == s.failImport.Load() {
		return errInjected
	}
	return s.Store.Tx(ctx, fn)
}

// newCountingEngine is an engine on a fresh SQLite file behind a
// countingStore, importing batchSize keys per transaction. It is not
// started: no sweeper or resync calls the store behind the test's back.
func newCountingEngine(t *testing.T, batchSize int) (*engine.Engine, *countingStore, *faka.Product) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "faka.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kr, err := keyring.New(bytes.Repeat([]byte{9}, keyring.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{Store: st}
	e, err := engine.New(engine.Config{Store: cs, Keyring: kr, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		ImportBatch: batchSize, ResyncInterval: time.Hour, SweepInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	p := &faka.Product{Name: "Card", Price: 100, Currency: "CNY", ReservationTTL: time.Hour, Active: true}
	if err := e.CreateProduct(ctx, p, 0, nil); err != nil {
		t.Fatal(err)
	}
	return e, cs, p
}

// TestImportKeysInBatches imports more keys than one batch holds, with
// repeats inside a batch and across batches, bad lines and blank ones:
// every distinct key is stored once, each repeat and bad line is counted,
// and the store's count and the ledger agree.
func TestImportKeysInBatches(t *testing.T) {
	t.Parallel()
	e, cs, p := newCountingEngine(t, 100)
	var in strings.Builder
	const distinct = 1000
	for i := range distinct {
		fmt.Fprintf(&in, "KEY-%04d\n", i)
		if i%10 == 0 {
			fmt.Fprintf(&in, "KEY-%04d\n", i) // a repeat in the same batch
		}
		if i%100 == 50 {
			fmt.Fprintf(&in, "\n  \nBAD\x01KEY\n") // blank lines and a bad one
		}
	}
	for i := range 30 {
		fmt.Fprintf(&in, "KEY-%04d\n", i*7) // repeats of keys of earlier batches
	}
	res, err := e.ImportKeys(context.Background(), p.ID, strings.NewReader(in.String()))
	if err != nil {
		t.Fatal(err)
	}
	if want := (faka.ImportResult{Imported: distinct, Duplicates: distinct/10 + 30, Rejected: distinct / 100}); res != want {
		t.Errorf("ImportKeys = %+v, want %+v", res, want)
	}
	if n := cs.imports.Load(); n < distinct/100 {
		t.Errorf("%d store transactions for %d keys in batches of 100", n, distinct)
	}
	st, err := cs.StockGet(context.Background(), p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Available != distinct || st.Imported != distinct {
		t.Errorf("stock %+v, want %d available and imported", st, distinct)
	}
	rep, err := e.Reconcile(context.Background())
	if err != nil || !rep.OK {
		t.Errorf("reconcile: %+v, %v", rep, err)
	}
	// The gate heard of every key: the next reservation is admitted.
	if _, err := e.Reserve(context.Background(), engine.ReserveRequest{ProductID: p.ID, Quantity: 1,
		Email: "a@example.com", Gateway: "sandbox"}); err != nil {
		t.Errorf("reserve after the import: %v", err)
	}
}

// TestImportKeysFailsPartWay fails the second of three batches: the error
// says how many keys the first one imported, those stay, and importing the
// same input again imports exactly the rest.
func TestImportKeysFailsPartWay(t *testing.T) {
	t.Parallel()
	e, cs, p := newCountingEngine(t, 100)
	var in strings.Builder
	for i := range 250 {
		fmt.Fprintf(&in, "KEY-%04d\n", i)
	}
	cs.failImport.Store(2)
	res, err := e.ImportKeys(context.Background(), p.ID, strings.NewReader(in.String()))
	if !errors.Is(err, errInjected) || !strings.Contains(err.Error(), "100 keys were imported before this failure") {
		t.Fatalf("ImportKeys error = %v; want the injected failure, saying 100 keys were imported", err)
	}
	if res.Imported != 100 {
		t.Errorf("result with the error %+v; want 100 imported", res)
	}
	cs.failImport.Store(0)
	res, err = e.ImportKeys(context.Background(), p.ID, strings.NewReader(in.String()))
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != 150 || res.Duplicates != 100 {
		t.Errorf("second import = %+v; want the other 150 imported, the first 100 duplicates", res)
	}
	// An import into a product that does not exist still fails as before,
	// even with no keys in it.
	if _, err := e.ImportKeys(context.Background(), p.ID+100, strings.NewReader("")); faka.ErrorCode(err) != faka.ENotFound {
		t.Errorf("empty import into a missing product: %v; want not_found", err)
	}
}

// TestGateSeededOnce sends a crowd of first reservations at a product whose
// gate has no figure yet: the stock is read from the database once, not
// once per buyer.
func TestGateSeededOnce(t *testing.T) {
	t.Parallel()
	e, cs, p := newCountingEngine(t, 0)
	var in strings.Builder
	for i := range 100 {
		fmt.Fprintf(&in, "KEY-%04d\n", i)
	}
	if _, err := e.ImportKeys(context.Background(), p.ID, strings.NewReader(in.String())); err != nil {
		t.Fatal(err)
	}
	before := cs.stockGets.Load()
	var wg sync.WaitGroup
	var ok atomic.Int64
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.Reserve(context.Background(), engine.ReserveRequest{ProductID: p.ID, Quantity: 1,
				Email: fmt.Sprintf("b%d@example.com", i), Gateway: "sandbox"})
			if err == nil {
				ok.Add(1)
			} else {
				t.Errorf("reserve: %v", err)
			}
		}()
	}
	wg.Wait()
	if n := cs.stockGets.Load() - before; n != 1 {
		t.Errorf("%d stock reads for 50 buyers arriving at once; want 1", n)
	}
	if ok.Load() != 50 {
		t.Errorf("%d of 50 reservations made", ok.Load())
	}
}
