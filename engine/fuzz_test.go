package engine_test

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
)

// FuzzParseKeys checks the key-import parser on arbitrary uploads: it never
// fails on a reader that does not fail, every key it returns is a trimmed,
// valid, bounded, distinct line of the input, and every non-blank line is
// accounted for as a key, a duplicate or a rejection.
func FuzzParseKeys(f *testing.F) {
	f.Add([]byte("A\nB\r\nA\n\n"))
	f.Add([]byte("  spaced key \n\tTAB\t\n"))
	f.Add([]byte("\xff\xfe\n\x00\n"))
	f.Add([]byte(strings.Repeat("k", faka.MaxKeyLength+1) + "\nok"))
	f.Fuzz(func(t *testing.T, in []byte) {
		keys, dups, rejected, err := engine.ParseKeys(bytes.NewReader(in))
		if err != nil {
			t.Fatalf("ParseKeys: %v", err)
		}
		seen := map[string]bool{}
		for _, k := range keys {
			if k == "" || k != strings.TrimSpace(k) || len(k) > faka.MaxKeyLength || !utf8.ValidString(k) {
				t.Fatalf("bad key %q", k)
			}
			if strings.ContainsAny(k, "\n\r\x00") {
				t.Fatalf("key %q holds a line break or NUL", k)
			}
			if seen[k] {
				t.Fatalf("key %q returned twice", k)
			}
			seen[k] = true
			if !bytes.Contains(in, []byte(k)) {
				t.Fatalf("key %q is not in the input", k)
			}
		}
		nonBlank := 0
		for _, line := range strings.Split(string(in), "\n") {
			if strings.TrimSpace(line) != "" {
				nonBlank++
			}
		}
		if got := len(keys) + dups + rejected; got != nonBlank {
			t.Fatalf("%d keys + %d duplicates + %d rejected = %d, input has %d non-blank lines",
				len(keys), dups, rejected, got, nonBlank)
		}
	})
}
