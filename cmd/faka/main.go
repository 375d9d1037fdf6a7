// Command faka runs the faka store and its maintenance tasks.
//
//	faka serve [--demo]                  run the store
//	faka migrate                         create or upgrade the database
//	faka keys import --product ID FILE   import card keys, one per line
//	faka reconcile [-gateways]           check every invariant (and agreement with the gateways); exit 1 on a violation
//	faka admin create --email EMAIL      create a console account (password on stdin)
//	faka bench [-quick]                  flash-sale benchmark against the textbook baselines
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `faka: an instant-delivery store for digital goods.

Usage:
  faka serve [flags]                      run the store (--demo loads sample data into an empty store)
  faka migrate [flags]                    create or upgrade the database, then exit
  faka migrate --from sqlite:PATH --to postgres://…   move a shop to PostgreSQL
  faka keys import --product ID FILE      import card keys, one per line ("-" reads standard input)
  faka reconcile [flags]                  check every invariant; exit status 1 on any violation
                                          (-gateways: also ask the gateways about the last -since 48h of orders)
  faka admin create --email EMAIL         create a console account (/admin); the password comes
                                          from FAKA_ADMIN_PASSWORD or standard input
  faka bench [-quick] [flags]             flash-sale benchmark with the textbook baselines (last stdout line: JSON)

Run "faka COMMAND -h" for a command's flags. Settings also come from FAKA_*
environment variables (flags win); see README.md.
`

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		err = cmdServe(ctx, rest, getenv, stdout, log)
	case "migrate":
		err = cmdMigrate(ctx, rest, getenv, stdout, log)
	case "keys":
		err = cmdKeys(ctx, rest, getenv, stdin, stdout, log)
	case "reconcile":
		err = cmdReconcile(ctx, rest, getenv, stdout, log)
	case "admin":
		err = cmdAdmin(ctx, rest, getenv, stdin, stdout)
	case "bench":
		err = cmdBench(ctx, rest, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "faka: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	var ex exitError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ex):
		return int(ex)
	default:
		fmt.Fprintf(stderr, "faka: %v\n", err)
		return 1
	}
}

// exitError ends a command with a status and no further message.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// parse registers the shared flags and parses args.
func parse(name string, args []string, getenv func(string) string, extra func(*flag.FlagSet)) (*Config, *flag.FlagSet, error) {
	fs := flag.NewFlagSet("faka "+name, flag.ContinueOnError)
	c, finish := configFlags(fs, getenv)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if err := finish(); err != nil {
		return nil, nil, err
	}
	return c, fs, nil
}

func cmdServe(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
	var demo bool
	var poll func() (time.Duration, error)
	c, _, err := parse("serve", args, getenv, func(fs *flag.FlagSet) {
		fs.BoolVar(&demo, "demo", false, "load sample products into an empty store and make up the admin token and sandbox secret if unset")
		poll = pollFlag(fs, getenv)
	})
	if err != nil {
		return err
	}
	interval, err := poll()
	if err != nil {
		return err
	}
	c.Demo = demo
	setMemoryLimit(getenv, log)
	m := &Main{Config: *c, Logger: log, Out: stdout, PollInterval: interval}
	if err := m.Open(ctx); err != nil {
		m.Close()
		return err
	}
	if demo {
		printBanner(stdout, &m.Config, m.demoPassword)
	}
	<-ctx.Done()
	log.Info("shutting down")
	return m.Close()
}

func cmdMigrate(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
	var from, to string
	c, _, err := parse("migrate", args, getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&from, "from", "", "with --to: copy the shop from this database (sqlite:PATH)")
		fs.StringVar(&to, "to", "", "with --from: into this empty database (postgres://…)")
	})
	if err != nil {
		return err
	}
	if from != "" || to != "" {
		return copyShop(ctx, from, to, stdout)
	}
	st, _, err := openEngine(ctx, c, log, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database %s is up to date\n", c.databaseName())
	return st.Close()
}

func cmdKeys(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer, log *slog.Logger) error {
	if len(args) == 0 || args[0] != "import" {
		return errors.New(`usage: faka keys import --product ID FILE`)
	}
	var product int64
	c, fs, err := parse("keys import", args[1:], getenv, func(fs *flag.FlagSet) {
		fs.Int64Var(&product, "product", 0, "product ID to import into")
	})
	if err != nil {
		return err
	}
	if product <= 0 || fs.NArg() != 1 {
		return errors.New(`usage: faka keys import --product ID FILE   (FILE "-" reads standard input)`)
	}
	in := stdin
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("open keys file: %w", err)
		}
		defer f.Close()
		in = f
	}
	st, e, err := openEngine(ctx, c, log, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := e.ImportKeys(ctx, product, in)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %d, duplicates %d, rejected %d, backorders fulfilled %d\n",
		res.Imported, res.Duplicates, res.Rejected, res.Fulfilled)
	return nil
}

func cmdReconcile(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer, log *slog.Logger) error {
	var gateways bool
	var since time.Duration
	c, _, err := parse("reconcile", args, getenv, func(fs *flag.FlagSet) {
		fs.BoolVar(&gateways, "gateways", false, "also ask the enabled gateways about recent orders; exit status 1 on any disagreement")
		fs.DurationVar(&since, "since", 48*time.Hour, "with -gateways: the orders created within this long")
	})
	if err != nil {
		return err
	}
	st, e, kr, err := openKeyedEngine(ctx, c, log, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := e.Reconcile(ctx)
	if err != nil {
		return err
	}
	printReport(stdout, rep)
	ok := rep.OK
	if gateways {
		agree, err := auditGateways(ctx, c, st, e, kr, log, since, stdout)
		if err != nil {
			return err
		}
		ok = ok && agree
	}
	if !ok {
		return exitError(1)
	}
	return nil
}
