package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestBenchQuick runs `faka bench -quick` in-process with tiny numbers and
// checks what a benchmark must never get wrong: every key sold once,
// nothing oversold, no paid order lost, and a last stdout line of JSON
// with the fields scripts read. Timings are never asserted.
func TestBenchQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and three baselines")
	}
	const keys = 200
	var stdout, stderr bytes.Buffer
	args := []string{"bench", "-quick", "-keys", "200", "-attempts", "1000", "-c", "20", "-dup", "2",
		"-expire-ttl", "1s", "-redis", "", "-data-dir", t.TempDir()}
	getenv := func(string) string { return "" }
	code := run(context.Background(), args, getenv, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("faka bench exited %d\nstderr:\n%s\nstdout:\n%s", code, stderr.String(), stdout.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	last := lines[len(lines)-1]
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(last), &raw); err != nil {
		t.Fatalf("last stdout line is not a JSON object: %v\n%s", err, last)
	}
	for _, field := range []string{"attempts_per_sec", "p99_ms", "sold", "oversold", "duplicates", "lost_paid", "vs_pessimistic"} {
		if _, ok := raw[field]; !ok {
			t.Errorf("the JSON line has no %q field", field)
		}
	}
	var res struct {
		Sold        int     `json:"sold"`
		Oversold    int     `json:"oversold"`
		Duplicates  int     `json:"duplicates"`
		LostPaid    int     `json:"lost_paid"`
		ReconcileOK bool    `json:"reconcile_ok"`
		Violations  int     `json:"violations"`
		AttemptsPS  float64 `json:"attempts_per_sec"`
		VsPess      float64 `json:"vs_pessimistic"`
		Pay         struct {
			Orders    int `json:"orders"`
			Delivered int `json:"delivered"`
		} `json:"pay"`
		Expire *struct {
			Reserved int   `json:"reserved"`
			Released int64 `json:"released"`
			Expired  bool  `json:"expired"`
			Resold   bool  `json:"resold"`
		} `json:"expire"`
		Levels []struct {
			Baselines map[string]struct {
				Accepted int `json:"accepted"`
				Oversold int `json:"oversold"`
			} `json:"baselines"`
		} `json:"levels"`
	}
	if err := json.Unmarshal([]byte(last), &res); err != nil {
		t.Fatal(err)
	}
	if res.Sold != keys || res.Oversold != 0 || res.Duplicates != 0 || res.LostPaid != 0 || !res.ReconcileOK || res.Violations != 0 {
		t.Errorf("correctness: sold %d (want %d), oversold %d, duplicates %d, lost paid %d, reconcile ok %v, %d violations",
			res.Sold, keys, res.Oversold, res.Duplicates, res.LostPaid, res.ReconcileOK, res.Violations)
	}
	if res.Pay.Orders != keys || res.Pay.Delivered != keys {
		t.Errorf("pay: %d orders, %d delivered; want %d each", res.Pay.Orders, res.Pay.Delivered, keys)
	}
	if e := res.Expire; e == nil || e.Reserved == 0 || e.Released < int64(e.Reserved) || !e.Expired || !e.Resold {
		t.Errorf("expire: %+v; want every reservation released, the order expired, a key sold again", e)
	}
	if res.AttemptsPS <= 0 || res.VsPess <= 0 {
		t.Errorf("attempts/s %v, vs_pessimistic %v: want both measured", res.AttemptsPS, res.VsPess)
	}
	if len(res.Levels) != 1 {
		t.Fatalf("%d levels, want 1", len(res.Levels))
	}
	for name, b := range res.Levels[0].Baselines {
		if name != "floor" && (b.Accepted != keys || b.Oversold != 0) {
			t.Errorf("baseline %s: %d accepted, %d oversold; want %d, 0", name, b.Accepted, b.Oversold, keys)
		}
	}
	if !strings.Contains(stderr.String(), "drop:") || !strings.Contains(stderr.String(), "reconcile") {
		t.Errorf("no progress on stderr:\n%s", stderr.String())
	}
}

// benchDatabaseURL returns the PostgreSQL of the tests. Without
// FAKA_TEST_DATABASE_URL the test skips, unless FAKA_REQUIRE_POSTGRES=1
// (as in CI) makes it fail.
func benchDatabaseURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("FAKA_TEST_DATABASE_URL")
	if url == "" {
		if os.Getenv("FAKA_REQUIRE_POSTGRES") == "1" {
			t.Fatal("FAKA_REQUIRE_POSTGRES=1 but FAKA_TEST_DATABASE_URL is not set")
		}
		t.Skip("FAKA_TEST_DATABASE_URL is not set; the PostgreSQL bench is not tested")
	}
	return url
}

// TestBenchPostgres runs a tiny drop on the in-process server over
// PostgreSQL, with the PostgreSQL baselines, and, where a Redis is given
// (FAKA_TEST_REDIS_URL), again with the shared admission gate. It checks
// the correctness figures, that only part of the orders was paid as asked,
// and that the run dropped the schemas it made. Timings are never
// asserted.
func TestBenchPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and the baselines")
	}
	url := benchDatabaseURL(t)
	gates := []string{""}
	if r := os.Getenv("FAKA_TEST_REDIS_URL"); r != "" {
		gates = append(gates, r)
	}
	for _, gate := range gates {
		name := "postgres"
		if gate != "" {
			name = "postgres+redis"
		}
		t.Run(name, func(t *testing.T) {
			const keys, paid = 60, 40
			args := []string{"bench", "-backend", "postgres", "-database-url", url, "-keys", "60", "-attempts", "400",
				"-c", "10", "-dup", "1", "-pay", "40", "-expire-keys", "10", "-expire-ttl", "1s", "-redis", "",
				"-baselines", "pessimistic,rowlock,floor", "-baseline-conns", "4", "-data-dir", t.TempDir()}
			if gate != "" {
				args = append(args, "-gate-redis", gate)
			}
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), args, func(string) string { return "" }, nil, &stdout, &stderr); code != 0 {
				t.Fatalf("faka bench exited %d\nstderr:\n%s\nstdout:\n%s", code, stderr.String(), stdout.String())
			}
			lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
			var res struct {
				Backend     string  `json:"backend"`
				Paid        int     `json:"paid"`
				Sold        int     `json:"sold"`
				Reserved    int     `json:"reserved"`
				Oversold    int     `json:"oversold"`
				Duplicates  int     `json:"duplicates"`
				LostPaid    int     `json:"lost_paid"`
				ReconcileOK bool    `json:"reconcile_ok"`
				VsPess      float64 `json:"vs_pessimistic"`
				BaseOver    int     `json:"baselines_oversold"`
				Levels      []struct {
					Baselines map[string]struct {
						Accepted int `json:"accepted"`
					} `json:"baselines"`
				} `json:"levels"`
			}
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
				t.Fatalf("last stdout line is not the result: %v\n%s", err, lines[len(lines)-1])
			}
			if res.Backend != name || res.Paid != paid || res.Sold != paid || res.Reserved != keys-paid ||
				res.Oversold != 0 || res.Duplicates != 0 || res.LostPaid != 0 || !res.ReconcileOK || res.BaseOver != 0 {
				t.Errorf("result %+v; want backend %s, %d paid and sold, %d reserved, nothing oversold, duplicated or lost",
					res, name, paid, keys-paid)
			}
			if len(res.Levels) != 1 || res.Levels[0].Baselines["pessimistic"].Accepted != keys ||
				res.Levels[0].Baselines["rowlock"].Accepted != keys || res.VsPess <= 0 {
				t.Errorf("baselines %+v, vs pessimistic %v; want each to sell its %d keys", res.Levels, res.VsPess, keys)
			}
			conn, err := pgx.Connect(context.Background(), url)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			for _, m := range regexp.MustCompile(`schemas? (faka_bench_[a-z0-9_]+)`).FindAllStringSubmatch(stderr.String(), -1) {
				var n int
				if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, m[1]).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n != 0 {
					t.Errorf("schema %s is still there after the run", m[1])
				}
			}
		})
	}
}

// TestBenchImport runs the bulk benchmark with a few thousand keys: it
// builds faka, runs it as the server and as `faka keys import`, and checks
// that every key arrived once, the drop on them was served, the upload
// went through and the store reconciles.
func TestBenchImport(t *testing.T) {
	if testing.Short() {
		t.Skip("builds faka and runs it as child processes")
	}
	bin := filepath.Join(t.TempDir(), "faka")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	var stdout, stderr bytes.Buffer
	args := []string{"bench", "-import", "3000", "-attempts", "500", "-c", "20", "-upload", "2000", "-upload-part", "700",
		"-faka-bin", bin, "-data-dir", t.TempDir()}
	if code := run(context.Background(), args, func(string) string { return "" }, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("faka bench -import exited %d\nstderr:\n%s\nstdout:\n%s", code, stderr.String(), stdout.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var res struct {
		Keys          int     `json:"keys"`
		Imported      int     `json:"imported"`
		ImportSeconds float64 `json:"import_seconds"`
		Drop          struct {
			Attempts int `json:"attempts"`
			Accepted int `json:"accepted"`
		} `json:"drop"`
		PeakRSS     float64 `json:"server_peak_rss_mb"`
		UploadKeys  int     `json:"upload_keys"`
		ReconcileOK bool    `json:"reconcile_ok"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("last stdout line is not the result: %v\n%s", err, lines[len(lines)-1])
	}
	if res.Keys != 3000 || res.Imported != 3000 || res.ImportSeconds <= 0 || res.Drop.Attempts != 500 ||
		res.Drop.Accepted != 500 || res.UploadKeys != 2000 || !res.ReconcileOK {
		t.Errorf("result %+v; want 3000 keys imported, the 500 attempts accepted, 2000 uploaded, reconciled", res)
	}
	if _, err := os.Stat("/proc/self/status"); err == nil && res.PeakRSS <= 0 {
		t.Errorf("no peak RSS of the server reported: %+v", res)
	}
}
