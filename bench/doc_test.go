package bench

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReplaceDocSection rewrites one generated section of a page and
// leaves the text around it and the other sections alone.
func TestReplaceDocSection(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "BENCH.md")
	b1, e1 := docMarkers("sqlite")
	b2, e2 := docMarkers("postgres")
	page := "intro\n" + b1 + "\nold sqlite\n" + e1 + "\nmiddle\n" + b2 + "\nold postgres\n" + e2 + "\nend\n"
	if err := os.WriteFile(path, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ReplaceDocSection(path, "postgres", func(w io.Writer) { fmt.Fprintln(w, "new postgres") }); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(page, "old postgres", "new postgres", 1)
	if string(got) != want {
		t.Errorf("page after the replacement:\n%s\nwant:\n%s", got, want)
	}
	if err := ReplaceDocSection(path, "import", func(io.Writer) {}); err == nil {
		t.Error("a page without the section was rewritten")
	}
}
