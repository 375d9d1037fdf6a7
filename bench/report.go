package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Result is what a run measured. Its JSON form is the last line `faka
// bench` prints; the headline fields come first.
type Result struct {
	Backend     string `json:"backend"`
	StoreNote   string `json:"store_note,omitempty"`
	Keys        int    `json:"keys"`
	Attempts    int    `json:"attempts"`
	Concurrency int    `json:"c"`
	Dup         int    `json:"dup"`
	Rounds      int    `json:"rounds"`
	// BaselineAttempts is each baseline's attempts when capped below
	// Attempts (same keys); 0 when they ran the whole drop.
	BaselineAttempts int `json:"baseline_attempts,omitempty"`
	// PayConcurrency is the orders paid at a time in the pay phase.
	PayConcurrency int `json:"pay_c"`

	// The drop at Concurrency.
	AttemptsPerSec float64 `json:"attempts_per_sec"`
	AcceptedPerSec float64 `json:"accepted_per_sec"`
	SoldOutPerSec  float64 `json:"sold_out_per_sec"`
	P50MS          float64 `json:"p50_ms"`
	P95MS          float64 `json:"p95_ms"`
	P99MS          float64 `json:"p99_ms"`
	MaxMS          float64 `json:"max_ms"`
	SellOutMS      float64 `json:"sell_out_ms"` // 0: the keys did not all sell

	// The pay phase.
	NotificationsPerSec float64 `json:"notifications_per_sec"`
	VisibleP50MS        float64 `json:"visible_p50_ms"`
	VisibleP99MS        float64 `json:"visible_p99_ms"`

	// Paid is how many of the drop's orders the pay phase paid: all of
	// them unless -pay capped it.
	Paid int `json:"paid"`
	// Correctness: all zero but sold, which equals paid, and reserved,
	// which holds the drop's unpaid orders (keys - paid).
	Sold        int64 `json:"sold"`
	Reserved    int64 `json:"reserved"`
	Oversold    int   `json:"oversold"`
	Duplicates  int   `json:"duplicates"`
	LostPaid    int   `json:"lost_paid"`
	ReconcileOK bool  `json:"reconcile_ok"`
	Violations  int   `json:"violations"`
	// BaselinesOversold is what the baselines oversold: a check on the
	// benchmark itself, always 0.
	BaselinesOversold int `json:"baselines_oversold"`

	// Ratios at Concurrency: faka's attempts/s ÷ each baseline's (with
	// several rounds, the median of each round's ratio).
	VsPessimistic float64            `json:"vs_pessimistic"`
	Vs            map[string]float64 `json:"vs"`
	// SoldOutVsFloor is faka's sold-out answers/s ÷ the HTTP floor's
	// requests/s.
	SoldOutVsFloor float64 `json:"sold_out_vs_floor"`

	Drop   DropFigures    `json:"drop"`
	Pay    PayFigures     `json:"pay"`
	Expire *ExpireFigures `json:"expire,omitempty"`
	// Levels are the drops at each concurrency (faka and baselines).
	Levels  []Level           `json:"levels"`
	Skipped map[string]string `json:"skipped,omitempty"`
	Notes   []string          `json:"notes,omitempty"`
	Machine Machine           `json:"machine"`
	Started time.Time         `json:"started"`
}

// Level is one concurrency's drops.
type Level struct {
	Concurrency int                    `json:"c"`
	Faka        DropFigures            `json:"faka"`
	Baselines   map[string]DropFigures `json:"baselines"`
	// Rounds are each system's attempts/s in every round, to show the
	// noise; the figures above are each system's median round.
	Rounds map[string][]float64 `json:"rounds"`
}

// DropFigures is a Drop in the report's units.
type DropFigures struct {
	Attempts       int     `json:"attempts"`
	Accepted       int     `json:"accepted"`
	SoldOut        int     `json:"sold_out"`
	Failed         int     `json:"failed"`
	ElapsedMS      float64 `json:"elapsed_ms"`
	AttemptsPerSec float64 `json:"attempts_per_sec"`
	AcceptedPerSec float64 `json:"accepted_per_sec"`
	SoldOutPerSec  float64 `json:"sold_out_per_sec"`
	P50MS          float64 `json:"p50_ms"`
	P95MS          float64 `json:"p95_ms"`
	P99MS          float64 `json:"p99_ms"`
	MaxMS          float64 `json:"max_ms"`
	AcceptedP99MS  float64 `json:"accepted_p99_ms"`
	SoldOutP99MS   float64 `json:"sold_out_p99_ms"`
	SellOutMS      float64 `json:"sell_out_ms"`
	// CPUUSPerAttempt is this process's CPU µs per attempt (server or
	// baseline, and the load generator); ServiceCPUUSPerAttempt the local
	// database's and Redis's.
	CPUUSPerAttempt        float64  `json:"cpu_us_per_attempt,omitempty"`
	ServiceCPUUSPerAttempt float64  `json:"service_cpu_us_per_attempt,omitempty"`
	Oversold               int      `json:"oversold"`
	Errors                 []string `json:"errors,omitempty"`
}

func dropFigures(d *Drop) DropFigures {
	return DropFigures{
		Attempts: d.Attempts, Accepted: d.Accepted, SoldOut: d.SoldOut, Failed: d.Failed,
		ElapsedMS:      ms(d.Elapsed),
		AttemptsPerSec: round2(d.AttemptsPerSec), AcceptedPerSec: round2(d.AcceptedPerSec),
		SoldOutPerSec: round2(d.SoldOutPerSec),
		P50MS:         ms(d.Latency.P50), P95MS: ms(d.Latency.P95), P99MS: ms(d.Latency.P99), MaxMS: ms(d.Latency.Max),
		AcceptedP99MS: ms(d.AcceptedLatency.P99), SoldOutP99MS: ms(d.SoldOutLatency.P99),
		SellOutMS: ms(d.SellOut), Errors: d.Errors,
		CPUUSPerAttempt: d.CPUPerAttempt, ServiceCPUUSPerAttempt: d.ServiceCPUPerAttempt,
	}
}

// PayFigures is a Pay in the report's units.
type PayFigures struct {
	Orders              int      `json:"orders"`
	Notifications       int      `json:"notifications"`
	Acked               int      `json:"acked"`
	Failed              int      `json:"failed"`
	ElapsedMS           float64  `json:"elapsed_ms"`
	NotificationsPerSec float64  `json:"notifications_per_sec"`
	NotifyP50MS         float64  `json:"notify_p50_ms"`
	NotifyP99MS         float64  `json:"notify_p99_ms"`
	VisibleP50MS        float64  `json:"visible_p50_ms"`
	VisibleP95MS        float64  `json:"visible_p95_ms"`
	VisibleP99MS        float64  `json:"visible_p99_ms"`
	VisibleMaxMS        float64  `json:"visible_max_ms"`
	Delivered           int      `json:"delivered"`
	LostPaid            int      `json:"lost_paid"`
	Duplicates          int      `json:"duplicates"`
	Errors              []string `json:"errors,omitempty"`
}

func payFigures(p *Pay) PayFigures {
	return PayFigures{
		Orders: p.Orders, Notifications: p.Notifications, Acked: p.Acked, Failed: p.Failed,
		ElapsedMS: ms(p.Elapsed), NotificationsPerSec: round2(p.NotificationsPerSec),
		NotifyP50MS: ms(p.NotifyLatency.P50), NotifyP99MS: ms(p.NotifyLatency.P99),
		VisibleP50MS: ms(p.Visible.P50), VisibleP95MS: ms(p.Visible.P95), VisibleP99MS: ms(p.Visible.P99),
		VisibleMaxMS: ms(p.Visible.Max),
		Delivered:    p.Delivered, LostPaid: p.LostPaid, Duplicates: p.Duplicates, Errors: p.Errors,
	}
}

// ExpireFigures is an Expire in the report's units.
type ExpireFigures struct {
	Keys         int      `json:"keys"`
	TTLSeconds   int      `json:"ttl_seconds"`
	Reserved     int      `json:"reserved"`
	Released     int64    `json:"released"`
	ReleaseLagMS float64  `json:"release_lag_ms"`
	Expired      bool     `json:"expired"`
	Resold       bool     `json:"resold"`
	Errors       []string `json:"errors,omitempty"`
}

func expireFigures(e *Expire) *ExpireFigures {
	return &ExpireFigures{Keys: e.Keys, TTLSeconds: int(e.TTL / time.Second), Reserved: e.Reserved,
		Released: e.Released, ReleaseLagMS: ms(e.ReleaseLag), Expired: e.Expired, Resold: e.Resold, Errors: e.Errors}
}

// finish fills the headline figures from the drop and pay phases and the
// ratios from the level at Concurrency.
func (r *Result) finish() {
	r.Machine.LoadAfter = loadAverage()
	d := r.Drop
	r.AttemptsPerSec, r.AcceptedPerSec, r.SoldOutPerSec = d.AttemptsPerSec, d.AcceptedPerSec, d.SoldOutPerSec
	r.P50MS, r.P95MS, r.P99MS, r.MaxMS, r.SellOutMS = d.P50MS, d.P95MS, d.P99MS, d.MaxMS, d.SellOutMS
	r.NotificationsPerSec, r.VisibleP50MS, r.VisibleP99MS = r.Pay.NotificationsPerSec, r.Pay.VisibleP50MS, r.Pay.VisibleP99MS
	r.Vs = map[string]float64{}
	for _, l := range r.Levels {
		for _, b := range l.Baselines {
			r.BaselinesOversold += b.Oversold
		}
		if l.Concurrency != r.Concurrency {
			continue
		}
		for name, b := range l.Baselines {
			r.Vs[name] = round2(Ratio(d.AttemptsPerSec, b.AttemptsPerSec))
			// With several rounds, the median of the rounds' own ratios:
			// faka and the baseline of one round ran side by side, so their
			// ratio sees the same load from elsewhere on the machine.
			if ratios := roundRatios(l.Rounds["faka"], l.Rounds[name]); len(ratios) > 1 {
				r.Vs[name] = round2(median(ratios, func(x float64) float64 { return x }))
			}
		}
		r.VsPessimistic = r.Vs["pessimistic"]
		if f, ok := l.Baselines["floor"]; ok {
			r.SoldOutVsFloor = round2(Ratio(d.SoldOutPerSec, f.AttemptsPerSec))
		}
	}
}

// roundRatios returns a[i] ÷ b[i] for each round both ran.
func roundRatios(a, b []float64) []float64 {
	var out []float64
	for i := range min(len(a), len(b)) {
		if b[i] > 0 {
			out = append(out, a[i]/b[i])
		}
	}
	return out
}

// Correct reports whether every correctness figure is as it must be.
func (r *Result) Correct() bool {
	return r.Oversold == 0 && r.Duplicates == 0 && r.LostPaid == 0 && r.ReconcileOK &&
		r.Violations == 0 && r.Sold == int64(r.Paid) && r.Sold+r.Reserved == int64(r.Keys)
}

// WriteJSON writes the result as one line of JSON.
func (r *Result) WriteJSON(w io.Writer) error { return writeJSONLine(w, r) }

// writeJSONLine writes v as one line of JSON.
func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("bench: encode result: %w", err)
	}
	b = append(b, '\n')
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("bench: write result: %w", err)
	}
	return nil
}

// Machine describes where the run happened.
type Machine struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpu_model"`
	MemoryMB int64  `json:"memory_mb"`
	Go       string `json:"go"`
	OS       string `json:"os"`
	// LoadBefore and LoadAfter are the 1-minute load averages when the
	// run began and ended: on a shared machine, how busy the others were.
	LoadBefore float64 `json:"load_before"`
	LoadAfter  float64 `json:"load_after"`
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
		LoadBefore: loadAverage()}
	m.CPUModel = procField("/proc/cpuinfo", "model name")
	if kb, err := strconv.ParseInt(strings.Fields(procField("/proc/meminfo", "MemTotal") + " 0")[0], 10, 64); err == nil {
		m.MemoryMB = kb / 1024
	}
	return m
}

// loadAverage returns the 1-minute load average, or 0 where there is none.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(b) + " 0")[0], 64)
	return f
}

// procField returns the value of the first "key: value" line of a /proc
// file, or "" when there is none.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
