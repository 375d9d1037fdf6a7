package engine

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"unicode"
	"unicode/utf8"

	"github.com/faka-dev/faka"
)

// MaxImportKeys caps the keys of one import request.
const MaxImportKeys = 200_000

// ParseKeys reads card keys, one per line. Surrounding white space and a
// trailing CR are trimmed and blank lines skipped. Lines longer than
// faka.MaxKeyLength bytes, or holding invalid UTF-8 or control characters,
// are rejected (counted, never echoed). Repeats inside the input are
// returned once and counted in dups.
func ParseKeys(r io.Reader) (keys []string, dups, rejected int, err error) {
	br := bufio.NewReaderSize(r, 64*1024)
	seen := map[string]bool{}
	for {
		line, err := br.ReadSlice('\n')
		long := false
		for errors.Is(err, bufio.ErrBufferFull) { // an over-long line: drain it
			long = true
			_, err = br.ReadSlice('\n')
		}
		if len(line) > 0 || long {
			switch k := string(bytes.TrimSpace(line)); {
			case long || len(k) > faka.MaxKeyLength || !validKey(k):
				rejected++
			case k == "":
			case seen[k]:
				dups++
			default:
				if len(keys) >= MaxImportKeys {
					return nil, 0, 0, faka.Errorf(faka.EInvalid, "an import holds at most %d keys; split the file", MaxImportKeys)
				}
				seen[k] = true
				keys = append(keys, k)
			}
		}
		if err == io.EOF {
			return keys, dups, rejected, nil
		}
		if err != nil {
			return nil, 0, 0, fmt.Errorf("read keys: %w", err)
		}
	}
}

func validKey(k string) bool {
	if !utf8.ValidString(k) {
		return false
	}
	for _, r := range k {
		if unicode.IsControl(r) && r != '\t' {
			return false
		}
	}
	return true
}

// ImportKeys imports card keys (text, one per line) into a card product and
// reports {imported, duplicates, rejected}. Duplicates are counted within
// the upload and against the keys already stored, by keyed hash. Waiting
// backorders are fulfilled from the new keys first.
func (e *Engine) ImportKeys(ctx context.Context, productID int64, r io.Reader) (faka.ImportResult, error) {
	keys, dups, rejected, err := ParseKeys(r)
	if err != nil {
		return faka.ImportResult{}, err
	}
	return e.importParsed(ctx, productID, keys, dups, rejected)
}

// ImportKeyList is ImportKeys for keys already split.
func (e *Engine) ImportKeyList(ctx context.Context, productID int64, keys []string) (faka.ImportResult, error) {
	var buf bytes.Buffer
	for _, k := range keys {
		buf.WriteString(k)
		buf.WriteByte('\n')
	}
	return e.ImportKeys(ctx, productID, &buf)
}

func (e *Engine) importParsed(ctx context.Context, productID int64, keys []string, dups, rejected int) (faka.ImportResult, error) {
	sealed := make([]faka.SealedKey, len(keys))
	for i, k := range keys {
		sealed[i] = e.kr.SealCard(productID, k)
	}
	res, err := e.store.KeysImport(ctx, productID, sealed)
	if err != nil {
		return faka.ImportResult{}, fmt.Errorf("import keys into product %d: %w", productID, err)
	}
	res.Duplicates += dups
	res.Rejected += rejected
	e.lane(productID).add(int64(res.Imported) - res.FulfilledUnits)
	e.log.Info("keys imported", "product_id", productID, "imported", res.Imported,
		"duplicates", res.Duplicates, "rejected", res.Rejected, "backorders_fulfilled", res.Fulfilled)
	return res, nil
}

// VoidKeys withdraws available keys from sale.
func (e *Engine) VoidKeys(ctx context.Context, productID int64, keyIDs []int64) (int, error) {
	n, err := e.store.KeysVoid(ctx, productID, keyIDs)
	if err != nil {
		return 0, fmt.Errorf("void keys: %w", err)
	}
	e.lane(productID).add(-int64(n))
	return n, nil
}
