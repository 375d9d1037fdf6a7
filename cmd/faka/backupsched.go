package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/faka-dev/faka/sqlite"
)

// BackupSchedule is faka serve's periodic backup of the embedded database
// (FAKA_BACKUP_DIR, FAKA_BACKUP_EVERY, FAKA_BACKUP_KEEP). Dir "" is off.
type BackupSchedule struct {
	Dir   string
	Every time.Duration
	Keep  int
}

// Defaults of the schedule once FAKA_BACKUP_DIR is set.
const (
	DefaultBackupEvery = 24 * time.Hour
	DefaultBackupKeep  = 7
)

// backupSettings reads the schedule from the environment.
func backupSettings(getenv func(string) string) (BackupSchedule, error) {
	b := BackupSchedule{Dir: getenv("FAKA_BACKUP_DIR"), Every: DefaultBackupEvery, Keep: DefaultBackupKeep}
	if s := strings.TrimSpace(getenv("FAKA_BACKUP_EVERY")); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Minute {
			return b, fmt.Errorf("FAKA_BACKUP_EVERY must be a duration of at least 1m (e.g. 6h), got %q", s)
		}
		b.Every = d
	}
	if s := strings.TrimSpace(getenv("FAKA_BACKUP_KEEP")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return b, fmt.Errorf("FAKA_BACKUP_KEEP must be a whole number ≥ 1, got %q", s)
		}
		b.Keep = n
	}
	return b, nil
}

// backupPrefix and backupSuffix frame the scheduled backups' names, so
// that pruning removes only files the schedule wrote.
const (
	backupPrefix = "faka-"
	backupSuffix = ".db"
	backupStamp  = "20060102T150405Z"
)

// lastBackupFile, in the data directory, records the last scheduled
// backup (time and file) for people and tools.
const lastBackupFile = "last-backup"

// backupLoop is the running schedule: one goroutine, stopped by stop.
type backupLoop struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startBackups starts the schedule when it is on. The first backup is
// taken one interval after start.
func startBackups(b BackupSchedule, src, dataDir string, log *slog.Logger) (*backupLoop, error) {
	if b.Dir == "" {
		return nil, nil
	}
	if err := os.MkdirAll(b.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("FAKA_BACKUP_DIR: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &backupLoop{cancel: cancel}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		t := time.NewTicker(b.Every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				path, err := b.take(ctx, src, dataDir, now)
				if err != nil {
					if ctx.Err() == nil {
						log.Error("scheduled backup failed", "err", err)
					}
					continue
				}
				log.Info("scheduled backup", "file", path)
			}
		}
	}()
	return l, nil
}

// stop ends the schedule and waits for a backup under way.
func (l *backupLoop) stop() {
	if l == nil {
		return
	}
	l.cancel()
	l.wg.Wait()
}

// take writes one backup named by now, records it, and prunes the oldest
// beyond Keep.
func (b BackupSchedule) take(ctx context.Context, src, dataDir string, now time.Time) (string, error) {
	path := filepath.Join(b.Dir, backupPrefix+now.UTC().Format(backupStamp)+backupSuffix)
	if _, err := sqlite.Backup(ctx, src, path); err != nil {
		return "", err
	}
	if err := recordBackup(dataDir, path, now); err != nil {
		return path, err
	}
	return path, b.prune()
}

// prune removes the oldest scheduled backups beyond Keep.
func (b BackupSchedule) prune() error {
	entries, err := os.ReadDir(b.Dir)
	if err != nil {
		return fmt.Errorf("prune backups: %w", err)
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		stamp, ok := strings.CutPrefix(n, backupPrefix)
		if stamp, ok2 := strings.CutSuffix(stamp, backupSuffix); ok && ok2 && e.Type().IsRegular() {
			if _, err := time.Parse(backupStamp, stamp); err == nil {
				names = append(names, n)
			}
		}
	}
	slices.Sort(names) // the stamps sort by time
	for len(names) > b.Keep {
		if err := os.Remove(filepath.Join(b.Dir, names[0])); err != nil {
			return fmt.Errorf("prune backups: %w", err)
		}
		names = names[1:]
	}
	return nil
}

// recordBackup notes in the data directory when and where the last backup
// went, for the console's dashboard (readLastBackup).
func recordBackup(dataDir, path string, at time.Time) error {
	note := at.UTC().Format(time.RFC3339) + " " + path + "\n"
	if err := os.WriteFile(filepath.Join(dataDir, lastBackupFile), []byte(note), 0o600); err != nil {
		return fmt.Errorf("record the backup: %w", err)
	}
	return nil
}

// readLastBackup returns the backup recordBackup noted last; ok is false
// when there is none (or the note cannot be read).
func readLastBackup(dataDir string) (at time.Time, path string, ok bool) {
	b, err := os.ReadFile(filepath.Join(dataDir, lastBackupFile))
	if err != nil {
		return time.Time{}, "", false
	}
	stamp, path, found := strings.Cut(strings.TrimSpace(string(b)), " ")
	t, err := time.Parse(time.RFC3339, stamp)
	if !found || err != nil {
		return time.Time{}, "", false
	}
	return t, path, true
}
