package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/faka-dev/faka/sqlite"
)

// cmdBackup writes a verified copy of the embedded database (see
// sqlite.Backup) while the shop may be serving.
func cmdBackup(ctx context.Context, out cli, args []string, getenv func(string) string) error {
	c, dst, err := parseFileCmd(out, "backup", args, getenv, "pg_dump or point-in-time recovery")
	if err != nil {
		return err
	}
	if err := requireShop(ctx, c); err != nil {
		return err
	}
	start := time.Now()
	rep, err := sqlite.Backup(ctx, c.dbPath(), dst)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	info, err := os.Stat(dst)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if abs, err := filepath.Abs(dst); err == nil {
		if err := recordBackup(c.DataDir, abs, start); err != nil {
			fmt.Fprintf(out.stderr, "warning: %v\n", err)
		}
	}
	fmt.Fprintf(out.stdout, "backed up %s to %s (%d bytes, %s): integrity ok, every invariant holds (%d products)\n",
		c.dbPath(), dst, info.Size(), time.Since(start).Round(time.Millisecond), len(rep.Products))
	fmt.Fprintf(out.stdout, "Keep the master key %s with it: without that file the card keys in the copy cannot be read.\n", c.MasterKeyFile)
	return nil
}

// cmdRestore puts a backup into a data directory that holds no database:
// it copies the file beside the database's place, verifies the copy and
// renames it into place.
func cmdRestore(ctx context.Context, out cli, args []string, getenv func(string) string) error {
	c, from, err := parseFileCmd(out, "restore", args, getenv, "pg_restore")
	if err != nil {
		return err
	}
	dst := c.dbPath()
	if err := requireEmptyDataDir(filepath.Dir(dst), filepath.Base(c.MasterKeyFile)); err != nil {
		return err
	}
	src, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer src.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	tmp := dst + ".restoring"
	if err := copyFile(tmp, src); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("restore: %w", err)
	}
	rep, err := sqlite.Verify(ctx, tmp)
	if err != nil {
		for _, p := range []string{tmp, tmp + "-wal", tmp + "-shm"} {
			os.Remove(p)
		}
		return fmt.Errorf("restore: %s is not a sound faka database: %w", from, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(out.stdout, "restored %s to %s: integrity ok, every invariant holds (%d products)\n", from, dst, len(rep.Products))
	if _, err := os.Stat(c.MasterKeyFile); errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(out.stdout, "Now put the shop's master key at %s (mode 0600) before faka serve: a new key cannot open its card keys.\n", c.MasterKeyFile)
	}
	return nil
}

// parseFileCmd parses the flags of backup or restore, which take one file
// and work on the embedded database only; pgTool is what PostgreSQL uses
// instead.
func parseFileCmd(out cli, name string, args []string, getenv func(string) string, pgTool string) (*Config, string, error) {
	c, rest, err := parseCmd(out, name, args, getenv, nil)
	if err != nil {
		return nil, "", err
	}
	if len(rest) != 1 {
		return nil, "", usageError("usage: faka %s FILE", name)
	}
	if c.isPostgres() {
		return nil, "", usageError("faka %s works on the embedded SQLite database; on PostgreSQL use %s (docs/DEPLOY.md)", name, pgTool)
	}
	return c, rest[0], nil
}

// requireEmptyDataDir refuses a data directory that holds anything but
// the master key (put back before the database, as a restore may).
func requireEmptyDataDir(dir, keyName string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	for _, e := range entries {
		if e.Name() != keyName {
			return usageError("restore: the data directory %s is not empty (it holds %s); restore into an empty one", absPath(dir), e.Name())
		}
	}
	return nil
}

// copyFile writes r to a new file at path (mode 0600) and syncs it.
func copyFile(path string, r io.Reader) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
