package bench

import (
	"math"
	"slices"
	"time"
)

// Latency summarises the latencies of one kind of request.
type Latency struct {
	N    int           `json:"n"`
	P50  time.Duration `json:"-"`
	P95  time.Duration `json:"-"`
	P99  time.Duration `json:"-"`
	Max  time.Duration `json:"-"`
	Mean time.Duration `json:"-"`
}

// Summarize returns the percentiles of ds. It sorts ds in place.
func Summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	slices.Sort(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return Latency{
		N:    len(ds),
		P50:  Percentile(ds, 50),
		P95:  Percentile(ds, 95),
		P99:  Percentile(ds, 99),
		Max:  ds[len(ds)-1],
		Mean: sum / time.Duration(len(ds)),
	}
}

// Percentile returns the p-th percentile (0 < p ≤ 100) of sorted by the
// nearest-rank method: the smallest value that at least p percent of the
// values are less than or equal to. It returns 0 for no values.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// Rate returns n events per second over d, or 0 when d is not positive.
func Rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Ratio returns a ÷ b, or 0 when b is 0 (a baseline that did not run).
func Ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// ms converts a duration to milliseconds with microsecond precision, for
// the JSON report.
func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

// round2 rounds a figure to two decimals for the JSON report.
func round2(f float64) float64 { return math.Round(f*100) / 100 }
