package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBackupDuringADrop is issue 14's acceptance test: while buyers
// reserve and pay over HTTP against the real server, faka backup succeeds
// several times; each copy passes faka reconcile on its own
// (FAKA_DATABASE_URL=sqlite:COPY) with figures between the server's
// before and after that backup; faka restore puts a copy into an empty
// data directory and refuses a non-empty one.
func TestBackupDuringADrop(t *testing.T) {
	dir := t.TempDir()
	m := testServer(t, dir)
	defer m.Close()
	const workers, keys = 16, 600
	c := &client{t: t, base: m.URL(), http: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: workers}}}
	status, b := c.do("POST", "/api/v1/products", []byte(`{"name":"Drop","price":100,"currency":"CNY"}`), c.admin())
	if status != 201 {
		t.Fatalf("%d %s", status, b)
	}
	var upload strings.Builder
	for i := range keys {
		fmt.Fprintf(&upload, "KEY-%05d\n", i)
	}
	if status, b := c.do("POST", "/api/v1/products/1/keys", []byte(upload.String()), c.admin()); status != 200 {
		t.Fatalf("%d %s", status, b)
	}

	var stop atomic.Bool
	var paid atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				body := fmt.Sprintf(`{"product_id":1,"quantity":1,"email":"b%d@example.com","gateway":"sandbox"}`, w)
				status, b := c.do("POST", "/api/v1/orders", []byte(body), map[string]string{"Content-Type": "application/json"})
				var o orderReply
				if status == 409 {
					return // sold out
				}
				if status != 201 || json.Unmarshal(b, &o) != nil {
					t.Errorf("order: %d %s", status, b)
					return
				}
				if i%2 == 0 { // half paid, half left reserved
					if s, body := c.notify(o.OrderNo, "T-"+o.OrderNo, o.Amount, o.Currency, "test-sandbox-secret"); s != 200 {
						t.Errorf("notify: %d %s", s, body)
						return
					}
					paid.Add(1)
				}
			}
		}()
	}
	env := map[string]string{"FAKA_DATA_DIR": dir}
	for i := range 3 {
		time.Sleep(100 * time.Millisecond)
		before := c.reconcile().Products[0]
		copyPath := filepath.Join(t.TempDir(), "out.db")
		code, out, errOut := runIn(t, env, "", "backup", copyPath)
		after := c.reconcile().Products[0]
		if code != 0 || !strings.Contains(out, "every invariant holds") || !strings.Contains(out, "master key") {
			t.Fatalf("backup %d: exit %d\n%s%s", i, code, out, errOut)
		}
		code, out, errOut = runIn(t, map[string]string{"FAKA_DATABASE_URL": "sqlite:" + copyPath}, "", "reconcile")
		if code != 0 {
			t.Fatalf("reconcile of backup %d: exit %d\n%s%s", i, code, out, errOut)
		}
		var id, imported, available, reserved, sold, void int64
		if _, err := fmt.Sscanf(strings.Split(out, "\n")[1], "%d %d %d %d %d %d", &id, &imported, &available, &reserved, &sold, &void); err != nil {
			t.Fatalf("reconcile output %q: %v", out, err)
		}
		if imported != keys || sold < before.Sold || sold > after.Sold || available > before.Available || available < after.Available {
			t.Fatalf("backup %d has sold %d, available %d; the server had sold %d→%d, available %d→%d",
				i, sold, available, before.Sold, after.Sold, before.Available, after.Available)
		}
		t.Logf("backup %d: sold %d, reserved %d, available %d", i, sold, reserved, available)
		if i == 2 {
			stop.Store(true)
			wg.Wait()
			restoreDir := filepath.Join(t.TempDir(), "restored")
			renv := map[string]string{"FAKA_DATA_DIR": restoreDir}
			if code, out, errOut := runIn(t, renv, "", "restore", copyPath); code != 0 || !strings.Contains(out, "master key") {
				t.Fatalf("restore: exit %d\n%s%s", code, out, errOut)
			}
			if code, out, errOut := runIn(t, renv, "", "reconcile"); code != 0 || !strings.Contains(out, fmt.Sprintf("%d", sold)) {
				t.Fatalf("reconcile of the restored shop: exit %d\n%s%s", code, out, errOut)
			}
			if code, _, errOut := runIn(t, renv, "", "restore", copyPath); code != 2 || !strings.Contains(errOut, "not empty") {
				t.Fatalf("restore into a shop: exit %d %s", code, errOut)
			}
		}
	}
	if paid.Load() == 0 {
		t.Fatal("the drop paid no order while the backups ran")
	}
	if code, _, errOut := runIn(t, env, "", "backup", filepath.Join(dir, "faka.db")); code != 1 || !strings.Contains(errOut, "already exists") {
		t.Fatalf("backup over an existing file: exit %d %s", code, errOut)
	}
}

// TestScheduledBackups checks the schedule's pruning and records: each
// take writes a verified copy named by its time, records it in the data
// directory, and keeps the newest Keep.
func TestScheduledBackups(t *testing.T) {
	dir := t.TempDir()
	m := testServer(t, dir)
	m.Close()
	b := BackupSchedule{Dir: filepath.Join(t.TempDir(), "backups"), Every: time.Hour, Keep: 2}
	if err := os.MkdirAll(b.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(b.Dir, "notes.txt")
	if err := os.WriteFile(other, []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var last string
	for i := range 3 {
		p, err := b.take(t.Context(), filepath.Join(dir, "faka.db"), dir, t0.Add(time.Duration(i)*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		last = p
	}
	entries, _ := os.ReadDir(b.Dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := "faka-20260102T040405Z.db faka-20260102T050405Z.db notes.txt"
	if strings.Join(names, " ") != want {
		t.Fatalf("backup directory holds %v, want %s", names, want)
	}
	rec, err := os.ReadFile(filepath.Join(dir, lastBackupFile))
	if err != nil || !strings.Contains(string(rec), last) || !strings.HasPrefix(string(rec), "2026-01-02T05:04:05Z") {
		t.Fatalf("last backup record %q (%v)", rec, err)
	}
	if _, err := backupSettings(func(k string) string { return map[string]string{"FAKA_BACKUP_EVERY": "1s"}[k] }); err == nil {
		t.Fatal("FAKA_BACKUP_EVERY=1s accepted")
	}
}

// TestServeRunsAndStopsTheBackupSchedule checks that faka serve takes
// scheduled backups and that Close stops the schedule's goroutine.
func TestServeRunsAndStopsTheBackupSchedule(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"FAKA_ADDR": "127.0.0.1:0", "FAKA_DATA_DIR": dir}
	c, _, err := parse("serve", nil, func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &Main{Config: *c, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Out: &strings.Builder{},
		Backup: BackupSchedule{Dir: filepath.Join(dir, "backups"), Every: 50 * time.Millisecond, Keep: 2}}
	if err := m.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, lastBackupFile)); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no scheduled backup in 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(m.Backup.Dir)
	if len(entries) == 0 || len(entries) > 2 {
		t.Fatalf("backup directory holds %d files, want 1 or 2", len(entries))
	}
	n := len(entries)
	time.Sleep(200 * time.Millisecond)
	if entries, _ := os.ReadDir(m.Backup.Dir); len(entries) != n {
		t.Fatal("a backup was taken after Close")
	}
}

// TestLastBackupRecord: what a backup records is what the dashboard reads,
// and a missing or damaged record reads as none.
func TestLastBackupRecord(t *testing.T) {
	dir := t.TempDir()
	if _, _, ok := readLastBackup(dir); ok {
		t.Fatal("a data directory without a record has a last backup")
	}
	at := time.Date(2026, 12, 3, 11, 2, 0, 0, time.UTC)
	if err := recordBackup(dir, "/var/backups/faka 1.db", at); err != nil {
		t.Fatal(err)
	}
	got, path, ok := readLastBackup(dir)
	if !ok || !got.Equal(at) || path != "/var/backups/faka 1.db" {
		t.Fatalf("readLastBackup = %v %q %v", got, path, ok)
	}
	if err := os.WriteFile(filepath.Join(dir, lastBackupFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := readLastBackup(dir); ok {
		t.Fatal("a damaged record reads as a backup")
	}
}
