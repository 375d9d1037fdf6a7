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

// MaxImportKeys caps the keys ParseKeys returns: it holds them all in
// memory. ImportKeys streams and has no cap.
const MaxImportKeys = 200_000

// ParseKeys reads card keys, one per line. Surrounding white space and a
// trailing CR are trimmed and blank lines skipped. Lines longer than
// faka.MaxKeyLength bytes, or holding invalid UTF-8 or control characters,
// are rejected (counted, never echoed). Repeats inside the input are
// returned once and counted in dups.
func ParseKeys(r io.Reader) (keys []string, dups, rejected int, err error) {
	sc := newKeyScanner(r)
	seen := map[string]bool{}
	for {
		k, err := sc.next()
		if err == io.EOF {
			return keys, dups, sc.rejected, nil
		}
		if err != nil {
			return nil, 0, 0, err
		}
		if seen[k] {
			dups++
			continue
		}
		if len(keys) >= MaxImportKeys {
			return nil, 0, 0, faka.Errorf(faka.EInvalid, "an import holds at most %d keys; split the file", MaxImportKeys)
		}
		seen[k] = true
		keys = append(keys, k)
	}
}

// keyScanner reads card keys one per line, with the rules of ParseKeys,
// without holding more than a line in memory.
type keyScanner struct {
	br       *bufio.Reader
	rejected int // lines refused so far
	done     bool
}

func newKeyScanner(r io.Reader) *keyScanner {
	return &keyScanner{br: bufio.NewReaderSize(r, 64*1024)}
}

// next returns the next valid key, or io.EOF after the last one.
func (s *keyScanner) next() (string, error) {
	for !s.done {
		line, err := s.br.ReadSlice('\n')
		long := false
		for errors.Is(err, bufio.ErrBufferFull) { // an over-long line: drain it
			long = true
			_, err = s.br.ReadSlice('\n')
		}
		if err == io.EOF {
			s.done = true
		} else if err != nil {
			return "", fmt.Errorf("read keys: %w", err)
		}
		if len(line) == 0 && !long {
			continue
		}
		switch k := bytes.TrimSpace(line); {
		case long || len(k) > faka.MaxKeyLength || !validKey(k):
			s.rejected++
		case len(k) == 0:
		default:
			return string(k), nil
		}
	}
	return "", io.EOF
}

func validKey(k []byte) bool {
	if !utf8.Valid(k) {
		return false
	}
	for _, r := range string(k) {
		if unicode.IsControl(r) && r != '\t' {
			return false
		}
	}
	return true
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

// VoidKeys withdraws available keys from sale.
func (e *Engine) VoidKeys(ctx context.Context, productID int64, keyIDs []int64) (int, error) {
	n, err := e.rules.KeysVoid(ctx, productID, keyIDs)
	if err != nil {
		return 0, fmt.Errorf("void keys: %w", err)
	}
	e.lane(productID).add(-int64(n))
	return n, nil
}
