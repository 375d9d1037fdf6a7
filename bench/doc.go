package bench

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// docMarkers returns the markers of a generated section of
// docs/BENCHMARKS.md: one section per backend (sqlite, postgres,
// postgres+redis) and one for the import.
func docMarkers(section string) (begin, end string) {
	return "<!-- faka bench: begin generated " + section + " -->", "<!-- faka bench: end generated " + section + " -->"
}

// systems lists faka and the baselines of a level in report order.
func (l Level) systems() []string {
	out := []string{"faka"}
	for _, name := range []string{"pessimistic", "pessimistic-pool", "rowlock", "redis", "floor"} {
		if _, ok := l.Baselines[name]; ok {
			out = append(out, name)
		}
	}
	return out
}

func (l Level) figures(system string) DropFigures {
	if system == "faka" {
		return l.Faka
	}
	return l.Baselines[system]
}

func (r *Result) mainLevel() (Level, bool) {
	for _, l := range r.Levels {
		if l.Concurrency == r.Concurrency {
			return l, true
		}
	}
	return Level{}, false
}

// WriteSummary writes a plain-text summary of the run for people.
func (r *Result) WriteSummary(w io.Writer) {
	fmt.Fprintf(w, "\nfaka bench: %s, %d attempts for %d keys, %d concurrent buyers, %d CPUs (%s), load average %.1f → %.1f\n",
		r.Backend, r.Attempts, r.Keys, r.Concurrency, r.Machine.CPUs, r.Machine.CPUModel, r.Machine.LoadBefore, r.Machine.LoadAfter)
	if l, ok := r.mainLevel(); ok {
		fmt.Fprintf(w, "%-17s %11s %11s %13s %8s %8s %8s %9s %9s %8s %s\n", "system", "attempts/s", "accepted/s",
			"sold-out ans/s", "p50 ms", "p99 ms", "max ms", "sold out", "faka ÷ it", "oversold", "CPU µs/attempt (process + services)")
		for _, s := range l.systems() {
			f := l.figures(s)
			ratio := "1"
			if s != "faka" {
				ratio = fmt.Sprintf("%.2f", r.Vs[s])
			}
			fmt.Fprintf(w, "%-17s %11.0f %11.0f %13.0f %8.2f %8.2f %8.2f %9s %9s %8d %s\n", s, f.AttemptsPerSec,
				f.AcceptedPerSec, f.SoldOutPerSec, f.P50MS, f.P99MS, f.MaxMS, sellOut(f), ratio, f.Oversold, cpuText(f))
		}
	}
	for _, name := range sortedKeys(r.Skipped) {
		fmt.Fprintf(w, "%-17s skipped: %s\n", name, r.Skipped[name])
	}
	fmt.Fprintf(w, "pay: %d notifications, %.0f/s; keys visible after notification p50 %.2f ms p99 %.2f ms max %.2f ms\n",
		r.Pay.Notifications, r.Pay.NotificationsPerSec, r.Pay.VisibleP50MS, r.Pay.VisibleP99MS, r.Pay.VisibleMaxMS)
	if e := r.Expire; e != nil {
		fmt.Fprintf(w, "expire: %d of %d units back on sale %.0f ms after due; order expired %v, sold again %v\n",
			e.Released, e.Reserved, e.ReleaseLagMS, e.Expired, e.Resold)
	}
	fmt.Fprintf(w, "correctness: %s, oversold %d, duplicate keys %d, lost paid %d, reconcile ok %v (%d violations); baselines oversold %d\n",
		r.soldText(), r.Oversold, r.Duplicates, r.LostPaid, r.ReconcileOK, r.Violations, r.BaselinesOversold)
}

// soldText says how many keys were sold (and reserved, when only some
// orders were paid).
func (r *Result) soldText() string {
	if r.Paid == r.Keys {
		return fmt.Sprintf("sold %d of %d keys", r.Sold, r.Keys)
	}
	return fmt.Sprintf("%d orders paid of %d: sold %d, still reserved %d (want %d and %d)",
		r.Paid, r.Keys, r.Sold, r.Reserved, r.Paid, r.Keys-r.Paid)
}

// cpuText is a drop's CPU per attempt, "-" where it was not measured.
func cpuText(f DropFigures) string {
	if f.CPUUSPerAttempt == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f + %.0f", f.CPUUSPerAttempt, f.ServiceCPUUSPerAttempt)
}

func sellOut(f DropFigures) string {
	if f.SellOutMS <= 0 || f.Accepted == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f ms", f.SellOutMS)
}

// WriteMarkdown writes the run's tables as Markdown.
func (r *Result) WriteMarkdown(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "Run of %s: `%s` store, %d attempts for %d keys, %d concurrent buyers, %d duplicate notifications per order.\n",
		r.Started.Format("2006-01-02 15:04 UTC"), r.Backend, r.Attempts, r.Keys, r.Concurrency, r.Dup)
	if r.StoreNote != "" {
		fmt.Fprintf(w, "Store: %s.\n", r.StoreNote)
	}
	fmt.Fprintf(w, "Machine: %d CPUs (%s), %d MiB memory, %s, %s; load generator in the same process; "+
		"1-minute load average %.1f at the start and %.1f at the end (the machine is shared).\n\n",
		m.CPUs, m.CPUModel, m.MemoryMB, m.Go, m.OS, m.LoadBefore, m.LoadAfter)
	if l, ok := r.mainLevel(); ok {
		fmt.Fprintf(w, "**Drop at c = %d** (each system's median round; faka ÷ system is the median of the rounds' own ratios)\n\n", r.Concurrency)
		if r.BaselineAttempts > 0 {
			fmt.Fprintf(w, "The baselines ran %d attempts each on %d keys (`-baseline-attempts`): their rate, not their time to sell out, is what is compared.\n\n",
				r.BaselineAttempts, r.Keys)
		}
		fmt.Fprintln(w, "| system | attempts/s | accepted/s | sold-out answers/s | p50 ms | p95 ms | p99 ms | max ms | all keys sold in | faka ÷ system | oversold | CPU µs per attempt: process + services | attempts/s of each round |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
		for _, s := range l.systems() {
			f := l.figures(s)
			ratio := "1"
			if s != "faka" {
				ratio = fmt.Sprintf("%.2f", r.Vs[s])
			}
			fmt.Fprintf(w, "| %s | %.0f | %.0f | %.0f | %.2f | %.2f | %.2f | %.2f | %s | %s | %d | %s | %s |\n", s, f.AttemptsPerSec,
				f.AcceptedPerSec, f.SoldOutPerSec, f.P50MS, f.P95MS, f.P99MS, f.MaxMS, sellOut(f), ratio, f.Oversold,
				cpuText(f), roundList(l.Rounds[s]))
		}
		fmt.Fprintln(w)
	}
	for _, name := range sortedKeys(r.Skipped) {
		fmt.Fprintf(w, "Baseline %s skipped: %s.\n\n", name, r.Skipped[name])
	}
	if len(r.Levels) > 1 {
		names := r.Levels[0].systems()
		fmt.Fprintln(w, "**Attempts/s and p99 by concurrency**")
		fmt.Fprintln(w)
		var head, rule strings.Builder
		head.WriteString("| c |")
		rule.WriteString("|---:|")
		for _, s := range names {
			fmt.Fprintf(&head, " %s attempts/s | %s p99 ms |", s, s)
			rule.WriteString("---:|---:|")
		}
		fmt.Fprintln(w, head.String())
		fmt.Fprintln(w, rule.String())
		for _, l := range r.Levels {
			fmt.Fprintf(w, "| %d |", l.Concurrency)
			for _, s := range names {
				f := l.figures(s)
				fmt.Fprintf(w, " %.0f | %.2f |", f.AttemptsPerSec, f.P99MS)
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w)
	}
	p := r.Pay
	which := "every order of the drop"
	if r.Paid < r.Keys {
		which = fmt.Sprintf("the first %d orders of the drop", r.Paid)
	}
	fmt.Fprintf(w, "**Pay** (%s, %d orders at a time, each notification sent %d times at once)\n", which, r.PayConcurrency, 1+r.Dup)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| orders | notifications | notifications/s | notify p50 ms | notify p99 ms | keys visible p50 ms | p95 ms | p99 ms | max ms |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	fmt.Fprintf(w, "| %d | %d | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n\n", p.Orders, p.Notifications,
		p.NotificationsPerSec, p.NotifyP50MS, p.NotifyP99MS, p.VisibleP50MS, p.VisibleP95MS, p.VisibleP99MS, p.VisibleMaxMS)
	if e := r.Expire; e != nil {
		fmt.Fprintf(w, "**Expire**: %d units reserved with a %d s TTL and not paid; %d back on sale %.0f ms after they were due "+
			"(the sweeper runs every second); an unpaid order shows `expired`: %v; a released key sold again: %v.\n\n",
			e.Reserved, e.TTLSeconds, e.Released, e.ReleaseLagMS, e.Expired, e.Resold)
	}
	fmt.Fprintf(w, "**Correctness**: %s, oversold %d, duplicate keys %d, lost paid orders %d, "+
		"reconciliation ok: %v (%d violations).\n", r.soldText(), r.Oversold, r.Duplicates, r.LostPaid, r.ReconcileOK, r.Violations)
	if len(r.Notes) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Baselines:")
		fmt.Fprintln(w)
		for _, n := range r.Notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
}

// ReplaceDocSection replaces the generated section named section of the
// Markdown file at path with what write writes.
func ReplaceDocSection(path, section string, write func(io.Writer)) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	docBegin, docEnd := docMarkers(section)
	i, j := bytes.Index(old, []byte(docBegin)), bytes.Index(old, []byte(docEnd))
	if i < 0 || j < i {
		return fmt.Errorf("bench: %s has no %q … %q section to replace", path, docBegin, docEnd)
	}
	var b bytes.Buffer
	b.Write(old[:i+len(docBegin)])
	b.WriteString("\n")
	write(&b)
	b.Write(old[j:])
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	return nil
}

// roundList writes each round's attempts/s, in the order they ran.
func roundList(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.0f", x)
	}
	return strings.Join(parts, ", ")
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
