package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/faka-dev/faka"
)

// DefaultImportBatch is how many keys one transaction of an import holds
// unless Config.ImportBatch says otherwise.
const DefaultImportBatch = 50_000

// importBatch is one transaction's worth of an import: keys distinct
// within the batch, sealed, with the lines counted on the way.
type importBatch struct {
	sealed   []faka.SealedKey
	dups     int // repeats inside the batch
	rejected int // lines refused while reading the batch
	err      error
}

// ImportKeys imports card keys (text, one per line, see ParseKeys) into a
// card product and reports {imported, duplicates, rejected}. Duplicates
// are counted within the upload and against the keys already stored, by
// keyed hash. Waiting backorders are fulfilled from the new keys first.
//
// The keys stream: they are read, sealed (on every CPU) and stored in
// transactions of Config.ImportBatch keys, the next batch read and sealed
// while the last one is written, so that an import of any size holds two
// batches in memory at most. Each batch commits on its own: when one
// fails, the batches before it stay imported and the error says how many
// keys they held; importing the same keys again skips those as duplicates
// (a key is stored at most once per product), so a retry imports exactly
// the rest. The result returned with such an error counts what was
// imported.
func (e *Engine) ImportKeys(ctx context.Context, productID int64, r io.Reader) (faka.ImportResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	batches := make(chan importBatch) // unbuffered: at most one batch read ahead
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(batches)
		e.readBatches(ctx, productID, newKeyScanner(r), batches)
	}()
	defer func() {
		cancel() // stops the reader if the import ends early
		wg.Wait()
	}()

	var total faka.ImportResult
	first := true
	for b := range batches {
		if b.err != nil {
			return total, e.importFailed(productID, total, b.err)
		}
		total.Duplicates += b.dups
		total.Rejected += b.rejected
		// The first batch goes to the store even when empty: it checks
		// that the product exists and takes keys.
		if len(b.sealed) == 0 && !first {
			continue
		}
		first = false
		res, err := e.rules.KeysImport(ctx, productID, b.sealed)
		if err != nil {
			return total, e.importFailed(productID, total, err)
		}
		total.Imported += res.Imported
		total.Duplicates += res.Duplicates
		total.Fulfilled += res.Fulfilled
		total.FulfilledUnits += res.FulfilledUnits
		e.lane(productID).add(int64(res.Imported) - res.FulfilledUnits)
	}
	e.log.Info("keys imported", "product_id", productID, "imported", total.Imported,
		"duplicates", total.Duplicates, "rejected", total.Rejected, "backorders_fulfilled", total.Fulfilled)
	return total, nil
}

// importFailed wraps an import's error, saying what was imported before
// it, and logs the part that was.
func (e *Engine) importFailed(productID int64, done faka.ImportResult, err error) error {
	if done.Imported == 0 && done.Fulfilled == 0 {
		return fmt.Errorf("import keys into product %d: %w", productID, err)
	}
	e.log.Warn("key import failed part way", "product_id", productID, "imported", done.Imported, "err", err)
	return fmt.Errorf("import keys into product %d: %d keys were imported before this failure; importing the same keys again skips them: %w",
		productID, done.Imported, err)
}

// readBatches reads keys into batches of Config.ImportBatch, seals them
// and sends them until the input ends, an error (sent as the last batch),
// or ctx is done.
func (e *Engine) readBatches(ctx context.Context, productID int64, sc *keyScanner, out chan<- importBatch) {
	size := e.cfg.ImportBatch
	for {
		var b importBatch
		keys := make([]string, 0, min(size, 4096))
		seen := make(map[string]struct{}, min(size, 4096))
		rejected := sc.rejected
		for len(keys) < size {
			k, err := sc.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.err = err
				break
			}
			if _, ok := seen[k]; ok {
				b.dups++
				continue
			}
			seen[k] = struct{}{}
			keys = append(keys, k)
		}
		b.rejected = sc.rejected - rejected
		if b.err == nil {
			b.sealed = e.sealKeys(productID, keys)
		}
		select {
		case out <- b:
		case <-ctx.Done():
			return
		}
		if b.err != nil || sc.done {
			return
		}
	}
}

// sealKeys seals keys for a product on every CPU: HMAC and AES-GCM of a
// million keys take seconds on one.
func (e *Engine) sealKeys(productID int64, keys []string) []faka.SealedKey {
	sealed := make([]faka.SealedKey, len(keys))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(keys)/1024))
	per := (len(keys) + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < len(keys); lo += per {
		hi := min(lo+per, len(keys))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				sealed[i] = e.kr.SealCard(productID, keys[i])
			}
		}()
	}
	wg.Wait()
	return sealed
}
