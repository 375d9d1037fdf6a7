package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/faka-dev/faka/postgres"
	"github.com/faka-dev/faka/sqlite"
	"github.com/faka-dev/faka/storecopy"
)

// copyShop moves a shop from a SQLite file to an empty PostgreSQL
// database, then reconciles the copy. The card keys stay encrypted under
// the same master key: the new instances need the same master.key file.
func copyShop(ctx context.Context, from, to string, out io.Writer) error {
	path, ok := strings.CutPrefix(from, "sqlite:")
	if !ok || path == "" || !(strings.HasPrefix(to, "postgres://") || strings.HasPrefix(to, "postgresql://")) {
		return errors.New("usage: faka migrate --from sqlite:PATH --to postgres://USER@HOST/DB (stop the SQLite server first)")
	}
	// Bring both schemas to the latest migration first.
	src, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		return err
	}
	if err := src.Close(); err != nil {
		return err
	}
	dst, err := postgres.Open(ctx, to, postgres.Options{})
	if err != nil {
		return err
	}
	defer dst.Close()
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer raw.Close()
	rep, err := storecopy.Copy(ctx, raw, dst.Pool())
	if err != nil {
		return err
	}
	for _, t := range []string{"products", "card_keys", "orders", "payments", "ledger", "idempotency_keys"} {
		fmt.Fprintf(out, "copied %-16s %d rows\n", t, rep.Rows[t])
	}
	check, err := dst.Reconcile(ctx)
	if err != nil {
		return err
	}
	printReport(out, check)
	if !check.OK {
		return exitError(1)
	}
	fmt.Fprintln(out, "Point FAKA_DATABASE_URL at the new database and keep the same master.key.")
	return nil
}
