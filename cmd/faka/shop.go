package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"
)

// requireShop fails with exit status 2, naming where it looked, when there
// is no shop's database at the configured place: the commands that read a
// shop must never create an empty one and then report on it.
func requireShop(ctx context.Context, c *Config) error {
	if c.isPostgres() {
		return requirePostgresShop(ctx, c)
	}
	path := c.dbPath()
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist), err == nil && info.Mode().IsRegular() && info.Size() == 0:
		return usageError("no shop database at %s: run in the shop's directory, or set FAKA_DATA_DIR (-data-dir) or FAKA_DATABASE_URL; faka migrate --create makes a new shop", absPath(path))
	case err != nil:
		return fmt.Errorf("look for the shop database: %w", err)
	case !info.Mode().IsRegular():
		return usageError("%s is not a database file", absPath(path))
	}
	return nil
}

// requirePostgresShop checks that the PostgreSQL database holds faka's
// schema, without applying any migration.
func requirePostgresShop(ctx context.Context, c *Config) error {
	conn, err := pgx.Connect(ctx, c.DatabaseURL)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", c.databaseName(), err)
	}
	defer conn.Close(ctx)
	var found bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('products') IS NOT NULL`).Scan(&found); err != nil {
		return fmt.Errorf("look for the shop in %s: %w", c.databaseName(), err)
	}
	if !found {
		return usageError("no shop in the database %s (no products table on its search_path); faka migrate --create makes a new shop", c.databaseName())
	}
	return nil
}

// requireMasterKey fails with exit status 2 when the master key file is
// missing, instead of creating a new key that cannot open the shop's card
// keys.
func requireMasterKey(c *Config) error {
	if _, err := os.Stat(c.MasterKeyFile); errors.Is(err, fs.ErrNotExist) {
		return usageError("no master key at %s: the shop's card keys are sealed with it; put it back (or set FAKA_MASTER_KEY_FILE)", absPath(c.MasterKeyFile))
	} else if err != nil {
		return fmt.Errorf("look for the master key: %w", err)
	}
	return nil
}

// absPath is path made absolute for messages, or path itself.
func absPath(path string) string {
	if p, err := filepath.Abs(path); err == nil {
		return p
	}
	return path
}
