package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

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
	jsonOut    string
	dataDir    string
	expireTTL  time.Duration
	expireKeys int
}

// cmdBench runs the flash-sale benchmark (package bench) against a server
// it starts in-process, or against -url. Progress goes to stderr; the last
// line on stdout is the result as JSON.
func cmdBench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var f benchFlags
	c := &f.cfg
	fs := flag.NewFlagSet("faka bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.backend, "backend", "sqlite", "store of the in-process server: sqlite (postgres comes with the scale-out work)")
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
	if f.backend != "sqlite" {
		return fmt.Errorf("faka bench: -backend %q: only sqlite is built so far (postgres comes with the scale-out work)", f.backend)
	}
	c.Backend = f.backend
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
	if c.URL == "" {
		m, err := benchServer(ctx, dir, stderr)
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
	if f.doc != "" {
		if err := bench.UpdateDoc(f.doc, res); err != nil {
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
		fmt.Fprintln(stderr, "faka bench: CORRECTNESS FAILURE: see oversold, duplicates, lost_paid, reconcile_ok and sold above")
		return exitError(1)
	}
	return nil
}

// benchServer starts the real program in-process on a free loopback port
// with a fresh database and no order rate limit, as `faka serve` would.
func benchServer(ctx context.Context, dir string, stderr io.Writer) (*Main, error) {
	env := map[string]string{
		"FAKA_ADDR":           "127.0.0.1:0",
		"FAKA_DATA_DIR":       dir,
		"FAKA_ADMIN_TOKEN":    randomHex(16),
		"FAKA_SANDBOX_SECRET": randomHex(16),
		"FAKA_ORDER_RATE":     "0",
	}
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
