package bench

import (
	"math"
	"slices"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	t.Parallel()
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond // 1 … 100 ms
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value", ms(7), 99, 7 * time.Millisecond},
		{"median of five", ms(1, 2, 3, 4, 5), 50, 3 * time.Millisecond},
		{"p99 of five is the max", ms(1, 2, 3, 4, 5), 99, 5 * time.Millisecond},
		{"p100", ms(1, 2, 3), 100, 3 * time.Millisecond},
		{"tiny p is the min", ms(1, 2, 3), 0.001, time.Millisecond},
		{"p50 of 1..100", hundred, 50, 50 * time.Millisecond},
		{"p95 of 1..100", hundred, 95, 95 * time.Millisecond},
		{"p99 of 1..100", hundred, 99, 99 * time.Millisecond},
		{"p99.9 of 1..100", hundred, 99.9, 100 * time.Millisecond},
		{"p50 of four rounds up the rank", ms(10, 20, 30, 40), 50, 20 * time.Millisecond},
		{"p51 of four", ms(10, 20, 30, 40), 51, 30 * time.Millisecond},
	}
	for _, tc := range tests {
		if got := Percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("%s: Percentile(p=%v) = %v, want %v", tc.name, tc.p, got, tc.want)
		}
	}
}

func TestSummarizeSortsAndSummarises(t *testing.T) {
	t.Parallel()
	ds := []time.Duration{5, 1, 4, 2, 3} // ns, out of order
	l := Summarize(ds)
	if !slices.IsSorted(ds) {
		t.Errorf("Summarize left %v unsorted", ds)
	}
	want := Latency{N: 5, P50: 3, P95: 5, P99: 5, Max: 5, Mean: 3}
	if l != want {
		t.Errorf("Summarize = %+v, want %+v", l, want)
	}
	if z := Summarize(nil); z != (Latency{}) {
		t.Errorf("Summarize(nil) = %+v, want zero", z)
	}
}

func TestRateRatioAndRounding(t *testing.T) {
	t.Parallel()
	if got := Rate(20000, 2*time.Second); got != 10000 {
		t.Errorf("Rate = %v, want 10000", got)
	}
	if got := Rate(5, 0); got != 0 {
		t.Errorf("Rate over no time = %v, want 0", got)
	}
	if got := Ratio(300, 15); got != 20 {
		t.Errorf("Ratio = %v, want 20", got)
	}
	if got := Ratio(1, 0); got != 0 {
		t.Errorf("Ratio to a missing baseline = %v, want 0", got)
	}
	if got := ms(1500 * time.Microsecond); got != 1.5 {
		t.Errorf("ms = %v, want 1.5", got)
	}
	if got := round2(2.345678); math.Abs(got-2.35) > 1e-9 {
		t.Errorf("round2 = %v, want 2.35", got)
	}
}

func TestSummarizeDrop(t *testing.T) {
	t.Parallel()
	msd := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	// Three keys: accepted answers at 10, 20 and 40 ms; sold-out answers
	// at 30 ms (before the sell-out, while the last batch committed) and
	// at 50, 60, 70, 80 ms; one failure at 90 ms.
	all := []sample{
		{end: msd(10), took: msd(10), out: accepted},
		{end: msd(20), took: msd(15), out: accepted},
		{end: msd(30), took: msd(1), out: soldOut},
		{end: msd(40), took: msd(30), out: accepted},
		{end: msd(50), took: msd(2), out: soldOut},
		{end: msd(60), took: msd(2), out: soldOut},
		{end: msd(70), took: msd(2), out: soldOut},
		{end: msd(80), took: msd(2), out: soldOut},
		{end: msd(100), took: msd(5), out: failed},
	}
	d := summarizeDrop(all, 3)
	if d.Accepted != 3 || d.SoldOut != 5 || d.Failed != 1 {
		t.Fatalf("counts = %d accepted, %d sold out, %d failed", d.Accepted, d.SoldOut, d.Failed)
	}
	if d.Elapsed != msd(100) || d.SellOut != msd(40) {
		t.Errorf("elapsed %v, sell-out %v; want 100ms, 40ms", d.Elapsed, d.SellOut)
	}
	if d.AttemptsPerSec != 90 || d.AcceptedPerSec != 30 {
		t.Errorf("rates %v attempts/s, %v accepted/s; want 90, 30", d.AttemptsPerSec, d.AcceptedPerSec)
	}
	// Four sold-out answers after the sell-out at 40 ms, over 60 ms.
	if math.Abs(d.SoldOutPerSec-4/0.060) > 1e-6 {
		t.Errorf("sold-out answers/s = %v, want %v", d.SoldOutPerSec, 4/0.060)
	}
	if d.AcceptedLatency.Max != msd(30) || d.SoldOutLatency.N != 5 || d.Latency.N != 9 {
		t.Errorf("latencies: accepted %+v, sold out %+v, all %+v", d.AcceptedLatency, d.SoldOutLatency, d.Latency)
	}
	if short := summarizeDrop(all, 4); short.SellOut != 0 {
		t.Errorf("with more keys than accepted orders, sell-out = %v, want 0", short.SellOut)
	}
}

func TestParseEndpointLoopbackOnly(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"http://127.0.0.1:8080", "http://localhost:9000/", "http://[::1]:80/shop", "http://127.3.2.1:1"} {
		if _, err := parseEndpoint(ok); err != nil {
			t.Errorf("parseEndpoint(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"https://127.0.0.1:8080", "http://10.0.0.1:80", "http://example.com", "127.0.0.1:8080", "http://192.168.1.2"} {
		if _, err := parseEndpoint(bad); err == nil {
			t.Errorf("parseEndpoint(%q) accepted a target that is not this machine's loopback", bad)
		}
	}
	ep, _ := parseEndpoint("http://127.0.0.1:8080/shop/")
	if ep.addr != "127.0.0.1:8080" || ep.prefix != "/shop" {
		t.Errorf("endpoint = %+v", ep)
	}
}
