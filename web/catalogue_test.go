package web_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/faka-dev/faka/web/i18n"
)

// TestTemplatesUseTheCatalogue checks that every message key a template
// or a handler names is in the catalogue, so that no page shows a bare key.
func TestTemplatesUseTheCatalogue(t *testing.T) {
	t.Parallel()
	c, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, k := range c.Keys("en") {
		have[k] = true
	}
	uses := []*regexp.Regexp{
		regexp.MustCompile(`\.T "([^"]+)"`),  // templates: {{.L.T "key"}}
		regexp.MustCompile(`\.T\("([^"]+)"`), // Go: p.L.T("key", …)
	}
	files, _ := filepath.Glob("templates/*.html")
	admin, _ := filepath.Glob("templates/admin/*.html")
	var code []string
	all, _ := filepath.Glob("*.go")
	for _, f := range all {
		if !strings.HasSuffix(f, "_test.go") {
			code = append(code, f)
		}
	}
	n := 0
	for _, f := range append(append(files, admin...), code...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, re := range uses {
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				key := m[1]
				if key[len(key)-1] == '.' { // a prefix completed at run time
					continue
				}
				n++
				if !have[key] {
					t.Errorf("%s uses %q, which the catalogue lacks", f, key)
				}
			}
		}
	}
	if n < 100 {
		t.Fatalf("found only %d uses of the catalogue; is the pattern stale?", n)
	}
	// Keys completed at run time.
	for _, prefix := range []string{"status.", "key.", "delivery.", "stockdisplay.", "outcome.", "ledger."} {
		found := false
		for k := range have {
			if len(k) > len(prefix) && k[:len(prefix)] == prefix {
				found = true
			}
		}
		if !found {
			t.Errorf("no message starts with %q", prefix)
		}
	}
}
