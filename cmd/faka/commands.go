package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"
)

func cmdServe(ctx context.Context, out cli, args []string, getenv func(string) string, log *slog.Logger) error {
	var demo bool
	var poll func() (time.Duration, error)
	c, rest, err := parseCmd(out, "serve", args, getenv, func(fs *flag.FlagSet) {
		fs.BoolVar(&demo, "demo", false, "load sample products into an empty store and make up the admin token and sandbox secret if unset")
		poll = pollFlag(fs, getenv)
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("serve takes no arguments, got %q (faka serve -h lists its flags)", rest[0])
	}
	interval, err := poll()
	if err != nil {
		return &failure{code: 2, err: err}
	}
	backups, err := backupSettings(getenv)
	if err != nil {
		return &failure{code: 2, err: err}
	}
	c.Demo = demo
	setMemoryLimit(getenv, log)
	m := &Main{Config: *c, Logger: log, Out: out.stdout, PollInterval: interval, Backup: backups}
	if err := m.Open(ctx); err != nil {
		m.Close()
		return err
	}
	if demo {
		printBanner(out.stdout, &m.Config, m.demoAccount, m.demoPassword)
	}
	<-ctx.Done()
	log.Info("shutting down")
	return m.Close()
}

func cmdMigrate(ctx context.Context, out cli, args []string, getenv func(string) string, log *slog.Logger) error {
	var from, to string
	var create bool
	c, rest, err := parseCmd(out, "migrate", args, getenv, func(fs *flag.FlagSet) {
		fs.BoolVar(&create, "create", false, "create a new, empty shop (database and master key) when there is none")
		fs.StringVar(&from, "from", "", "with --to: copy the shop from this database (sqlite:PATH)")
		fs.StringVar(&to, "to", "", "with --from: into this empty database (postgres://…)")
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("migrate takes no arguments, got %q (faka migrate -h)", rest[0])
	}
	if from != "" || to != "" {
		return copyShop(ctx, from, to, out.stdout)
	}
	if create {
		st, _, err := openEngine(ctx, c, log, nil)
		if err != nil {
			return err
		}
		fmt.Fprintf(out.stdout, "database %s is up to date; master key %s\n", c.databaseName(), c.MasterKeyFile)
		return st.Close()
	}
	if err := requireShop(ctx, c); err != nil {
		return err
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	fmt.Fprintf(out.stdout, "database %s is up to date\n", c.databaseName())
	return st.Close()
}

func cmdReconcile(ctx context.Context, out cli, args []string, getenv func(string) string, log *slog.Logger) error {
	var gateways bool
	var since time.Duration
	c, rest, err := parseCmd(out, "reconcile", args, getenv, func(fs *flag.FlagSet) {
		fs.BoolVar(&gateways, "gateways", false, "also ask the enabled gateways about recent orders; exit status 1 on any disagreement")
		fs.DurationVar(&since, "since", 48*time.Hour, "with -gateways: the orders created within this long")
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError("reconcile takes no arguments, got %q (faka reconcile -h)", rest[0])
	}
	if err := requireShop(ctx, c); err != nil {
		return err
	}
	if !gateways {
		// The invariants need no master key: a copy is checked on its own.
		st, err := openStore(ctx, c)
		if err != nil {
			return err
		}
		defer st.Close()
		rep, err := st.Reconcile(ctx)
		if err != nil {
			return fmt.Errorf("reconcile: %w", err)
		}
		printReport(out.stdout, rep)
		if !rep.OK {
			return exitError(1)
		}
		return nil
	}
	if err := requireMasterKey(c); err != nil {
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
	printReport(out.stdout, rep)
	agree, err := auditGateways(ctx, c, st, e, kr, log, since, out.stdout)
	if err != nil {
		return err
	}
	if !rep.OK || !agree {
		return exitError(1)
	}
	return nil
}
