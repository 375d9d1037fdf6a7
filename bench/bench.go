// Package bench is faka's flash-sale benchmark (docs/ARCHITECTURE.md §7, `faka
// bench`): a load generator that drives a faka server through its public
// HTTP API — a drop of many order attempts for few keys, the payment of
// every order with duplicate notifications, the expiry of unpaid
// reservations, and reconciliation — and measures the textbook baselines
// in the same run, over the same HTTP stack, so that the ratios mean
// something on a shared, noisy machine.
//
// The benchmark reports; it asserts correctness figures (nothing oversold,
// no key twice, no paid order lost) but never timings.
package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"time"
)

// Config configures a benchmark run.
type Config struct {
	// Backend names the store behind the server, for the report:
	// sqlite, postgres, postgres+redis.
	Backend string
	// StoreNote describes the database behind the server, for the report.
	StoreNote string
	// URL is the faka server under test (loopback only).
	URL           string
	AdminToken    string
	SandboxSecret string

	Keys        int // keys of the drop
	Attempts    int // order attempts of the drop, one unit each
	Concurrency int // concurrent buyers
	Dup         int // duplicate notifications per order, beyond the first
	// PayConcurrency is how many orders' notifications are in flight at
	// once in the pay phase (each sent 1+Dup times); 0 means Concurrency.
	// By Little's law the time from notification to keys visible is about
	// PayConcurrency ÷ the orders paid per second.
	PayConcurrency int

	// Rounds is how many times each drop is repeated, alternating faka
	// and the baselines; each system's median round is reported (default 1).
	Rounds int
	// Sweep lists further concurrencies at which the drop (faka and the
	// baselines) is run again, for the chart. The pay and expire phases
	// run at Concurrency only.
	Sweep []int
	// Baselines names the baselines to run: pessimistic, pessimistic-pool,
	// rowlock, redis, floor. Nil runs the default set; empty runs none.
	Baselines []string
	// RedisAddr is the Redis of baseline (c); empty skips it.
	RedisAddr string
	// BaselineDatabaseURL, when set (postgres://…), runs baselines (a)
	// and (b) on that PostgreSQL database, in a schema of their own that
	// is dropped at the end, instead of on a SQLite file in Dir.
	BaselineDatabaseURL string
	// BaselineConns is the PostgreSQL baselines' pool size (default 16).
	BaselineConns int
	// BaselineAttempts, when set, caps the attempts of each baseline's
	// drop (same keys): on PostgreSQL the pessimistic baseline sells about
	// a hundred keys a second, and its rate over 10,000 attempts is its
	// rate over 100,000.
	BaselineAttempts int

	// Services are the command names of local processes serving the
	// server under test or the baselines (postgres, redis-server): their
	// CPU time is reported per attempt beside this process's. On a shared
	// machine it includes what others asked of the same processes.
	Services []string

	// PayOrders caps the orders of the drop that the pay phase pays (0:
	// all of them). The rest stay reserved until their TTL.
	PayOrders int

	// ExpireKeys and ExpireTTL size the expiry phase; 0 keys skips it.
	ExpireKeys int
	ExpireTTL  time.Duration

	// Dir holds the baselines' database file (a temporary directory if
	// empty).
	Dir string
	// CPUProfile and MutexProfile, when set, are files that receive the
	// profiles of this process during faka's drop at Concurrency. With an
	// in-process server they cover the server and the load generator.
	CPUProfile   string
	MutexProfile string
	// PayCPUProfile, when set, receives a CPU profile of the pay phase.
	PayCPUProfile string

	// Progress receives progress lines (stderr); nil discards them.
	Progress io.Writer
}

// DefaultBaselines is the baseline set a run measures unless told.
var DefaultBaselines = []string{"pessimistic", "rowlock", "redis", "floor"}

// Run runs the benchmark and returns its result. A correctness failure
// (oversold, duplicate keys, lost paid orders, a reconciliation violation)
// is in the result's figures, not an error: the caller decides.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	if cfg.Keys < 1 || cfg.Attempts < cfg.Keys || cfg.Concurrency < 1 {
		return nil, errors.New("bench: need keys ≥ 1, attempts ≥ keys and concurrency ≥ 1")
	}
	if cfg.Baselines == nil {
		cfg.Baselines = DefaultBaselines
	}
	ep, err := parseEndpoint(cfg.URL)
	if err != nil {
		return nil, err
	}
	t := newTarget(ep, cfg.AdminToken, cfg.SandboxSecret)
	defer t.admin.close()
	pr := cfg.Progress

	dir := cfg.Dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "faka-bench-"); err != nil {
			return nil, fmt.Errorf("bench: temporary directory: %w", err)
		}
		defer os.RemoveAll(dir)
	}
	bls, closeBaselines, skipped, err := openBaselines(ctx, cfg, filepath.Join(dir, "baselines.db"))
	if err != nil {
		return nil, err
	}
	defer closeBaselines()

	res := &Result{
		Backend: cfg.Backend, StoreNote: cfg.StoreNote, Keys: cfg.Keys, Attempts: cfg.Attempts, Concurrency: cfg.Concurrency,
		Dup: cfg.Dup, Rounds: max(1, cfg.Rounds), PayConcurrency: cfg.PayConcurrency,
		Machine: machine(), Skipped: skipped, Started: time.Now().UTC(),
	}
	for _, b := range bls {
		res.Notes = append(res.Notes, b.name()+": "+b.note())
	}
	if n := cfg.baselineAttempts(); n < cfg.Attempts && len(bls) > 0 {
		res.BaselineAttempts = n
	}
	levels := append(slices.Clone(cfg.Sweep), cfg.Concurrency)
	slices.Sort(levels)
	levels = slices.Compact(levels)

	// A short unrecorded drop first: the first requests of a fresh process
	// pay for connections, page cache and heap growth that no later drop
	// pays again.
	fmt.Fprintln(pr, "warm-up: an unrecorded drop")
	wpid, err := t.createProduct("bench warm-up", 3600, min(cfg.Keys, 100))
	if err != nil {
		return nil, err
	}
	if _, err := runDrop(ctx, ep, "warm-up", wpid, min(cfg.Keys, 100), min(cfg.Attempts, 2000), cfg.maxConcurrency(), io.Discard); err != nil {
		return nil, err
	}

	var mainDrop *Drop
	var mainProduct int64
	rounds := max(1, cfg.Rounds)
	for _, c := range levels {
		fmt.Fprintf(pr, "drop: %d attempts for %d keys by %d concurrent buyers (%d round(s))\n", cfg.Attempts, cfg.Keys, c, rounds)
		// Each round runs faka and every baseline once, one after the
		// other, so that a burst of load from elsewhere on the machine
		// hits one round of each rather than all of one system; each
		// system's median round is reported.
		var fakaDrops []fakaDrop
		baseDrops := map[string][]baseDrop{}
		for r := range rounds {
			pid, err := t.createProduct(fmt.Sprintf("bench drop c=%d round %d", c, r+1), 3600, cfg.Keys)
			if err != nil {
				return nil, err
			}
			profile := c == cfg.Concurrency && r == 0
			var stopProfile func() error
			if profile {
				if stopProfile, err = startProfiles(cfg.CPUProfile, cfg.MutexProfile); err != nil {
					return nil, err
				}
			}
			cpu0 := readCPU(cfg.Services)
			d, err := runDrop(ctx, ep, "faka", pid, cfg.Keys, cfg.Attempts, c, pr)
			if err == nil {
				d.setCPU(cpu0, readCPU(cfg.Services))
			}
			if profile {
				if perr := stopProfile(); err == nil {
					err = perr
				}
			}
			if err != nil {
				return nil, err
			}
			progressDrop(pr, d)
			res.Oversold += max(0, d.Accepted-cfg.Keys)
			fakaDrops = append(fakaDrops, fakaDrop{d, pid})
			for _, b := range bls {
				bd, over, err := runBaseline(ctx, b, cfg.Keys, cfg.baselineAttempts(), c, cfg.Services, pr)
				if err != nil {
					return nil, err
				}
				progressDrop(pr, bd)
				baseDrops[b.name()] = append(baseDrops[b.name()], baseDrop{bd, over})
			}
		}
		level := Level{Concurrency: c, Baselines: map[string]DropFigures{}, Rounds: map[string][]float64{}}
		fd := median(fakaDrops, func(f fakaDrop) float64 { return f.d.AttemptsPerSec })
		level.Faka = dropFigures(fd.d)
		for _, f := range fakaDrops {
			level.Rounds["faka"] = append(level.Rounds["faka"], round2(f.d.AttemptsPerSec))
		}
		for name, ds := range baseDrops {
			bd := median(ds, func(b baseDrop) float64 { return b.d.AttemptsPerSec })
			f := dropFigures(bd.d)
			for _, b := range ds {
				f.Oversold += b.over
				level.Rounds[name] = append(level.Rounds[name], round2(b.d.AttemptsPerSec))
			}
			level.Baselines[name] = f
		}
		if c == cfg.Concurrency {
			mainDrop, mainProduct = fd.d, fd.pid
		}
		res.Levels = append(res.Levels, level)
	}
	res.Drop = dropFigures(mainDrop)

	payC := cfg.PayConcurrency
	if payC <= 0 {
		payC = cfg.Concurrency
	}
	res.PayConcurrency = payC
	toPay := mainDrop.Orders
	if cfg.PayOrders > 0 && cfg.PayOrders < len(toPay) {
		toPay = toPay[:cfg.PayOrders]
	}
	res.Paid = len(toPay)
	fmt.Fprintf(pr, "pay: %d of %d orders, %d at a time, each notification sent %d times at once\n", len(toPay), len(mainDrop.Orders), payC, 1+cfg.Dup)
	stopPayProfile, err := startProfiles(cfg.PayCPUProfile, "")
	if err != nil {
		return nil, err
	}
	pay, err := runPay(ctx, t, toPay, payC, cfg.Dup, pr)
	if perr := stopPayProfile(); err == nil {
		err = perr
	}
	if err != nil {
		return nil, err
	}
	res.Pay = payFigures(pay)
	fmt.Fprintf(pr, "  %d notifications in %v: %.0f/s; keys visible p50 %v p99 %v; lost paid %d, duplicate keys %d\n",
		pay.Notifications, pay.Elapsed.Round(time.Millisecond), pay.NotificationsPerSec, pay.Visible.P50,
		pay.Visible.P99, pay.LostPaid, pay.Duplicates)

	if cfg.ExpireKeys > 0 {
		fmt.Fprintf(pr, "expire: %d keys reserved with a %v TTL and not paid\n", cfg.ExpireKeys, cfg.ExpireTTL)
		ex, err := runExpire(ctx, t, cfg.ExpireKeys, cfg.ExpireTTL, cfg.Concurrency, pr)
		if err != nil {
			return nil, err
		}
		res.Expire = expireFigures(ex)
		fmt.Fprintf(pr, "  released %d of %d units %v after they were due; order expired %v, key sold again %v\n",
			ex.Released, ex.Reserved, ex.ReleaseLag.Round(time.Millisecond), ex.Expired, ex.Resold)
	}

	fmt.Fprintln(pr, "reconcile")
	rec, err := t.reconcile()
	if err != nil {
		return nil, err
	}
	res.ReconcileOK = rec.OK
	res.Violations = len(rec.Violations)
	st, _ := rec.stock(mainProduct)
	res.Sold, res.Reserved = st.Sold, st.Reserved
	res.Oversold += int(max(0, st.Sold+st.Reserved-st.Imported))
	res.Duplicates = pay.Duplicates
	res.LostPaid = pay.LostPaid + max(0, pay.Acked-pay.Delivered-pay.LostPaid)
	res.finish()
	return res, nil
}

// fakaDrop is one drop on faka and its product.
type fakaDrop struct {
	d   *Drop
	pid int64
}

// baseDrop is one drop on a baseline and what it oversold.
type baseDrop struct {
	d    *Drop
	over int
}

// median returns the element of xs with the median key (the lower middle
// one for an even count).
func median[T any](xs []T, key func(T) float64) T {
	s := slices.Clone(xs)
	slices.SortFunc(s, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
	return s[(len(s)-1)/2]
}

// openBaselines opens the baselines cfg names. One that cannot run (Redis
// not answering) is skipped with a note rather than failing the run.
func openBaselines(ctx context.Context, cfg Config, dbPath string) ([]baseline, func(), map[string]string, error) {
	var (
		out     []baseline
		closers []func() error
		skipped = map[string]string{}
		pg      *pgBaselines
	)
	closeAll := func() {
		for _, c := range closers {
			_ = c()
		}
	}
	for _, name := range cfg.Baselines {
		switch name {
		case "pessimistic", "rowlock":
			if cfg.BaselineDatabaseURL == "" {
				db, err := openBaselineDB(ctx, dbPath, 1)
				if err != nil {
					closeAll()
					return nil, nil, nil, err
				}
				closers = append(closers, db.Close)
				out = append(out, &sqlBaseline{db: db, label: name, counter: name == "pessimistic", conns: 1})
				continue
			}
			if pg == nil {
				conns := cfg.BaselineConns
				if conns <= 0 {
					conns = 16
				}
				var err error
				if pg, err = openPGBaselines(ctx, cfg.BaselineDatabaseURL, conns); err != nil {
					closeAll()
					return nil, nil, nil, err
				}
				closers = append(closers, pg.close)
				fmt.Fprintf(cfg.Progress, "baselines: schema %s, a pool of %d connections\n", pg.schema, conns)
			}
			out = append(out, &pgBaseline{db: pg, label: name, counter: name == "pessimistic"})
		case "pessimistic-pool":
			if cfg.BaselineDatabaseURL != "" {
				closeAll()
				return nil, nil, nil, errors.New("bench: pessimistic-pool is a SQLite baseline; on PostgreSQL, pessimistic runs on a pool")
			}
			conns := 1
			if name == "pessimistic-pool" {
				conns = 8
			}
			db, err := openBaselineDB(ctx, dbPath, conns)
			if err != nil {
				closeAll()
				return nil, nil, nil, err
			}
			closers = append(closers, db.Close)
			out = append(out, &sqlBaseline{db: db, label: name, counter: name != "rowlock", conns: conns})
		case "redis":
			if cfg.RedisAddr == "" {
				skipped[name] = "no Redis address given"
				continue
			}
			rb, err := openRedisBaseline(ctx, cfg.RedisAddr, cfg.maxConcurrency())
			if err != nil {
				skipped[name] = err.Error()
				fmt.Fprintf(cfg.Progress, "skipping the Redis baseline: %v\n", err)
				continue
			}
			closers = append(closers, rb.close)
			out = append(out, rb)
		case "floor":
			out = append(out, floorBaseline{})
		default:
			closeAll()
			return nil, nil, nil, fmt.Errorf("bench: unknown baseline %q (have pessimistic, pessimistic-pool, rowlock, redis, floor)", name)
		}
	}
	return out, closeAll, skipped, nil
}

func (cfg Config) baselineAttempts() int {
	if cfg.BaselineAttempts > 0 {
		return min(cfg.BaselineAttempts, cfg.Attempts)
	}
	return cfg.Attempts
}

func (cfg Config) maxConcurrency() int {
	n := cfg.Concurrency
	for _, c := range cfg.Sweep {
		n = max(n, c)
	}
	return n
}

// runBaseline serves one baseline on a free loopback port and drops on
// it. It returns the drop and how many units it gave out beyond its stock
// or to two orders.
func runBaseline(ctx context.Context, b baseline, keys, attempts, c int, services []string, pr io.Writer) (*Drop, int, error) {
	pid, err := b.prepare(ctx, keys)
	if err != nil {
		return nil, 0, err
	}
	var h = floorBaseline{}.handler()
	if _, ok := b.(floorBaseline); !ok {
		h = newBaselineHandler(b, "")
	}
	url, stop, err := serveLoopback(h)
	if err != nil {
		return nil, 0, err
	}
	defer stop()
	ep, err := parseEndpoint(url)
	if err != nil {
		return nil, 0, err
	}
	cpu0 := readCPU(services)
	d, err := runDrop(ctx, ep, b.name(), pid, keys, attempts, c, pr)
	if err != nil {
		return nil, 0, err
	}
	d.setCPU(cpu0, readCPU(services))
	if _, ok := b.(floorBaseline); ok {
		return d, 0, nil
	}
	units, doubles, err := b.taken(ctx, pid)
	if err != nil {
		return nil, 0, err
	}
	if units != d.Accepted {
		d.Errors = append(d.Errors, fmt.Sprintf("%d units taken in the store for %d accepted orders", units, d.Accepted))
	}
	return d, max(0, units-keys) + doubles, nil
}

// startProfiles starts the CPU profile and mutex sampling; the returned
// func stops them and writes the files.
func startProfiles(cpuPath, mutexPath string) (func() error, error) {
	var cpu *os.File
	if cpuPath != "" {
		f, err := os.Create(cpuPath)
		if err != nil {
			return nil, fmt.Errorf("bench: cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("bench: cpu profile: %w", err)
		}
		cpu = f
	}
	if mutexPath != "" {
		runtime.SetMutexProfileFraction(5)
	}
	return func() error {
		var errs []error
		if cpu != nil {
			pprof.StopCPUProfile()
			errs = append(errs, cpu.Close())
		}
		if mutexPath != "" {
			f, err := os.Create(mutexPath)
			if err == nil {
				err = pprof.Lookup("mutex").WriteTo(f, 0)
				errs = append(errs, f.Close())
			}
			errs = append(errs, err)
			runtime.SetMutexProfileFraction(0)
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("bench: write profiles: %w", err)
		}
		return nil
	}, nil
}

func progressDrop(w io.Writer, d *Drop) {
	sell := "not sold out"
	if d.SellOut > 0 {
		sell = "sold out in " + d.SellOut.Round(time.Millisecond).String()
	}
	fmt.Fprintf(w, "  %-16s c=%-4d %6.0f attempts/s  p50 %-9v p99 %-9v max %-9v  %d accepted, %d sold out, %d failed; %s\n",
		d.Target, d.Concurrency, d.AttemptsPerSec, d.Latency.P50.Round(10*time.Microsecond),
		d.Latency.P99.Round(10*time.Microsecond), d.Latency.Max.Round(10*time.Microsecond),
		d.Accepted, d.SoldOut, d.Failed, sell)
	for _, e := range d.Errors {
		fmt.Fprintf(w, "    error: %s\n", e)
	}
}
