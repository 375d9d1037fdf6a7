package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/faka-dev/faka/bench"
)

// benchFlags are the flags of `faka bench`.
type benchFlags struct {
	cfg        bench.Config
	backend    string
	quick      bool
	sweep      string
	baselines  string
	chart      string
	doc        string
	docSection string
	jsonOut    string
	dataDir    string
	expireTTL  time.Duration
	expireKeys int
	// databaseURL is the PostgreSQL of -backend postgres; gateRedis the
	// Redis of faka's shared admission gate (FAKA_REDIS_URL), if any.
	databaseURL string
	gateRedis   string
	// importKeys > 0 runs the bulk benchmark instead of the flash sale.
	importKeys int
	uploadKeys int
	uploadPart int
	fakaBin    string
}

// cmdBench runs the flash-sale benchmark (package bench) against a server
// it starts in-process, or against -url. Progress goes to stderr; the last
// line on stdout is the result as JSON.
func cmdBench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var f benchFlags
	c := &f.cfg
	fs := flag.NewFlagSet("faka bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.backend, "backend", "sqlite", "store of the in-process server: sqlite or postgres")
	dbDefault := getenv("FAKA_TEST_DATABASE_URL")
	if dbDefault == "" {
		dbDefault = defaultBenchDatabase
	}
	fs.StringVar(&f.databaseURL, "database-url", dbDefault, "PostgreSQL of -backend postgres (FAKA_TEST_DATABASE_URL); the run makes a schema of its own in it for faka and one for the baselines, and drops both at the end")
	fs.StringVar(&f.gateRedis, "gate-redis", "", "redis://… for faka's shared admission gate, as FAKA_REDIS_URL gives a server; empty: the in-process gate (-redis is the Redis-only baseline's)")
	fs.IntVar(&c.PayOrders, "pay", 0, "pay only this many of the drop's orders (0: all); the rest stay reserved")
	fs.IntVar(&c.BaselineConns, "baseline-conns", 16, "connections of the PostgreSQL baselines' pool")
	fs.IntVar(&c.BaselineAttempts, "baseline-attempts", 0, "cap each baseline's drop at this many attempts, same keys (0: -attempts); for drops the baselines would take minutes over")
	fs.IntVar(&f.importKeys, "import", 0, "instead of the flash sale, the bulk benchmark: `faka keys import` of this many keys into a `faka serve` child process on SQLite, a drop of -attempts on them (peak RSS of the server), then an admin API upload of -upload keys")
	fs.IntVar(&f.uploadKeys, "upload", -1, "with -import: keys uploaded through the admin API after the drop; -1: as many as -import, 0: none")
	fs.IntVar(&f.uploadPart, "upload-part", 200_000, "with -import: keys per upload request")
	fs.StringVar(&f.fakaBin, "faka-bin", "", "with -import: the faka executable to run as the server and the importer (default: this one)")
	fs.StringVar(&c.URL, "url", "", "benchmark a running server at this loopback URL instead of starting one (needs -admin-token and -sandbox-secret)")
	fs.StringVar(&c.AdminToken, "admin-token", getenv("FAKA_ADMIN_TOKEN"), "admin token of the -url server (FAKA_ADMIN_TOKEN)")
	fs.StringVar(&c.SandboxSecret, "sandbox-secret", getenv("FAKA_SANDBOX_SECRET"), "sandbox gateway secret of the -url server (FAKA_SANDBOX_SECRET)")
	fs.IntVar(&c.Keys, "keys", 1000, "keys in the drop")
	fs.IntVar(&c.Attempts, "attempts", 20000, "order attempts in the drop, one unit each")
	fs.IntVar(&c.Concurrency, "c", 200, "concurrent buyers")
	fs.IntVar(&c.Dup, "dup", 3, "duplicate notifications per order, sent at once with the genuine one")
	fs.IntVar(&c.Rounds, "rounds", 1, "repeat each drop this many times, alternating faka and the baselines; report each one's median")
	fs.IntVar(&c.PayConcurrency, "pay-c", 50, "orders paid at a time in the pay phase, each notification sent 1+dup times at once (0: the same as -c)")
	fs.BoolVar(&f.quick, "quick", false, "a small run for CI-sized machines (under a minute): flags not given default to -keys 200 -attempts 4000 -c 50 -dup 2")
	fs.StringVar(&f.sweep, "sweep", "", "comma-separated further concurrencies to drop at, for the chart (e.g. 50,100,400)")
	fs.StringVar(&f.baselines, "baselines", strings.Join(bench.DefaultBaselines, ","), "baselines to measure: pessimistic, pessimistic-pool, rowlock, redis, floor; \"none\" for none")
	fs.StringVar(&c.RedisAddr, "redis", "127.0.0.1:6379", "Redis of the Redis-only baseline; empty skips it")
	fs.DurationVar(&f.expireTTL, "expire-ttl", 2*time.Second, "reservation TTL of the expiry phase's product")
	fs.IntVar(&f.expireKeys, "expire-keys", 0, "keys of the expiry phase (0: a fifth of -keys, at least 10)")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of faka's drop at -c to this file")
	fs.StringVar(&c.PayCPUProfile, "paycpuprofile", "", "write a CPU profile of the pay phase to this file")
	fs.StringVar(&c.MutexProfile, "mutexprofile", "", "write a mutex contention profile of faka's drop at -c to this file")
	fs.StringVar(&f.chart, "chart", "", "write an SVG chart of attempts/s and p99 against concurrency to this file")
	fs.StringVar(&f.doc, "doc", "", "replace the generated section of this Markdown file (docs/BENCHMARKS.md) with the run's tables")
	fs.StringVar(&f.docSection, "doc-section", "", "with -doc: the generated section to replace (default: the backend, e.g. sqlite, postgres, postgres+redis; import with -import)")
	fs.StringVar(&f.jsonOut, "json-out", "", "also write the result JSON to this file")
	fs.StringVar(&f.dataDir, "data-dir", "", "directory for the in-process server's and the baselines' databases (default: a temporary one, removed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("faka bench: unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if f.quick {
		// The quick run's sizes, for the flags not given.
		for _, q := range []struct {
			name string
			v    *int
			n    int
		}{{"keys", &c.Keys, 200}, {"attempts", &c.Attempts, 4000}, {"c", &c.Concurrency, 50}, {"dup", &c.Dup, 2}} {
			if !set[q.name] {
				*q.v = q.n
			}
		}
	}
	if f.importKeys > 0 {
		return benchImport(ctx, &f, stdout, stderr)
	}
	if f.backend != "sqlite" && f.backend != "postgres" {
		return fmt.Errorf("faka bench: -backend %q: want sqlite or postgres", f.backend)
	}
	c.Backend = f.backend
	if f.gateRedis != "" {
		c.Backend += "+redis"
	}
	var err error
	if c.Sweep, err = parseInts(f.sweep); err != nil {
		return fmt.Errorf("faka bench: -sweep: %w", err)
	}
	c.Baselines = []string{}
	if f.baselines != "none" {
		for _, b := range strings.Split(f.baselines, ",") {
			if b = strings.TrimSpace(b); b != "" {
				c.Baselines = append(c.Baselines, b)
			}
		}
	}
	c.ExpireTTL = f.expireTTL
	c.ExpireKeys = f.expireKeys
	if c.ExpireKeys == 0 {
		c.ExpireKeys = max(10, c.Keys/5)
	}
	c.Progress = stderr

	dir := f.dataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "faka-bench-"); err != nil {
			return fmt.Errorf("faka bench: %w", err)
		}
		defer os.RemoveAll(dir)
	}
	c.Dir = dir
	// The local services behind the server and the baselines, whose CPU
	// time is reported per attempt.
	c.Services = []string{"redis-server"}
	if f.backend == "postgres" && loopbackURL(f.databaseURL) {
		c.Services = append(c.Services, "postgres")
	}
	if c.URL == "" {
		env := map[string]string{}
		if f.backend == "postgres" {
			sc, err := createBenchSchema(ctx, f.databaseURL)
			if err != nil {
				return err
			}
			var gate *redis.Client
			if f.gateRedis != "" {
				if opt, err := redis.ParseURL(f.gateRedis); err == nil {
					gate = redis.NewClient(opt)
					defer gate.Close()
				}
			}
			defer func() {
				if err := sc.drop(context.WithoutCancel(ctx), gate); err != nil {
					fmt.Fprintln(stderr, err)
				}
			}()
			env["FAKA_DATABASE_URL"] = sc.ServerURL
			c.BaselineDatabaseURL = f.databaseURL
			c.StoreNote = sc.Describe
			fmt.Fprintf(stderr, "faka bench: schema %s in %s\n", sc.schema, redact(f.databaseURL))
		}
		if f.gateRedis != "" {
			env["FAKA_REDIS_URL"] = f.gateRedis
			c.StoreNote = strings.TrimPrefix(c.StoreNote+"; ", "; ") + "admission gate shared through Redis at " + redact(f.gateRedis)
		}
		m, err := benchServer(ctx, dir, stderr, env)
		if err != nil {
			return err
		}
		defer m.Close()
		c.URL, c.AdminToken, c.SandboxSecret = m.URL(), m.Config.AdminToken, m.Config.SandboxSecret
		fmt.Fprintf(stderr, "faka bench: serving on %s from %s\n", c.URL, dir)
	} else if c.AdminToken == "" || c.SandboxSecret == "" {
		return errors.New("faka bench: -url needs -admin-token and -sandbox-secret (or FAKA_ADMIN_TOKEN and FAKA_SANDBOX_SECRET)")
	}

	res, err := bench.Run(ctx, *c)
	if err != nil {
		return err
	}
	if f.chart != "" {
		if err := writeFile(f.chart, res.WriteChart); err != nil {
			return err
		}
	}
	return report(&f, res.Backend, res, stdout, stderr, "see oversold, duplicates, lost_paid, reconcile_ok and sold above")
}

// benchReport is what a run reports: bench.Result or bench.ImportResult.
type benchReport interface {
	WriteMarkdown(io.Writer)
	WriteJSON(io.Writer) error
	WriteSummary(io.Writer)
	Correct() bool
}

// report writes a run's result: its section of the -doc file (named by
// -doc-section, else section), the -json-out file, the summary on stderr
// and the JSON line last on stdout; a run that found an invariant broken
// exits 1, saying where to look (failure).
func report(f *benchFlags, section string, res benchReport, stdout, stderr io.Writer, failure string) error {
	if f.doc != "" {
		if f.docSection != "" {
			section = f.docSection
		}
		if err := bench.ReplaceDocSection(f.doc, section, res.WriteMarkdown); err != nil {
			return err
		}
	}
	if f.jsonOut != "" {
		if err := writeFile(f.jsonOut, res.WriteJSON); err != nil {
			return err
		}
	}
	res.WriteSummary(stderr)
	if err := res.WriteJSON(stdout); err != nil {
		return err
	}
	if !res.Correct() {
		fmt.Fprintln(stderr, "faka bench: CORRECTNESS FAILURE: "+failure)
		return exitError(1)
	}
	return nil
}

// benchServer starts the real program in-process on a free loopback port
// with a fresh database and no order rate limit, as `faka serve` would.
func benchServer(ctx context.Context, dir string, stderr io.Writer, extra map[string]string) (*Main, error) {
	env := map[string]string{
		"FAKA_ADDR":           "127.0.0.1:0",
		"FAKA_DATA_DIR":       dir,
		"FAKA_ADMIN_TOKEN":    randomHex(16),
		"FAKA_SANDBOX_SECRET": randomHex(16),
		"FAKA_ORDER_RATE":     "0",
	}
	maps.Copy(env, extra)
	c, _, err := parse("serve", nil, func(k string) string { return env[k] }, nil)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	m := &Main{Config: *c, Logger: log, Out: io.Discard}
	if err := m.Open(ctx); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive whole number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// writeFile creates path and writes it with write.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("faka bench: %w", err)
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("faka bench: %w", err)
	}
	return nil
}

// benchImport runs `faka bench -import N`: the bulk benchmark (package
// bench, RunImport).
func benchImport(ctx context.Context, f *benchFlags, stdout, stderr io.Writer) error {
	if f.backend != "sqlite" {
		return errors.New("faka bench: -import measures the embedded SQLite store; leave -backend at sqlite")
	}
	bin := f.fakaBin
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return fmt.Errorf("faka bench: -import runs faka as a child process and cannot find this one (-faka-bin): %w", err)
		}
	}
	dir := f.dataDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "faka-bench-import-"); err != nil {
			return fmt.Errorf("faka bench: %w", err)
		}
		defer os.RemoveAll(dir)
	}
	upload := f.uploadKeys
	if upload < 0 {
		upload = f.importKeys
	}
	cfg := bench.ImportConfig{Bin: bin, Dir: dir, Keys: f.importKeys, UploadKeys: upload, UploadPart: f.uploadPart,
		Attempts: min(f.cfg.Attempts, f.importKeys), Concurrency: f.cfg.Concurrency, Progress: stderr}
	res, err := bench.RunImport(ctx, cfg)
	if err != nil {
		return err
	}
	return report(f, "import", res, stdout, stderr, "keys imported, the drop or reconciliation, see above")
}
