package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
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
