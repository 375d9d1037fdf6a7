package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ImportConfig configures the bulk benchmark: a faka server run as a child
// process (`faka serve`, embedded SQLite) so that its memory is its own,
// Keys keys imported by `faka keys import` (another child process, on the
// server's database), a drop on the imported product, and the same number
// of keys uploaded through the admin API.
type ImportConfig struct {
	// Bin is the faka executable to run.
	Bin string
	// Dir is the child server's data directory (its database and master
	// key) and holds the key file.
	Dir string
	// Keys is how many keys `faka keys import` imports.
	Keys int
	// UploadKeys is how many keys are then uploaded through
	// POST /api/v1/products/{id}/keys, in requests of UploadPart (0: none).
	UploadKeys int
	UploadPart int
	// Attempts and Concurrency size the drop on the imported product.
	Attempts    int
	Concurrency int
	// Progress receives progress lines (stderr); nil discards them.
	Progress io.Writer
}

// ImportResult is what the bulk benchmark measured. Its JSON form is the
// last line `faka bench -import` prints.
type ImportResult struct {
	Backend string `json:"backend"`
	Keys    int    `json:"keys"`

	// The `faka keys import` child process.
	ImportSeconds    float64 `json:"import_seconds"`
	ImportKeysPerSec float64 `json:"import_keys_per_sec"`
	ImportMaxRSSMB   float64 `json:"import_max_rss_mb"`
	Imported         int     `json:"imported"`
	// GateWaitSeconds is from the end of the import until the server
	// admitted an order for the new keys (a probe order, one key).
	GateWaitSeconds float64 `json:"gate_wait_seconds"`

	// The server, a child process holding the imported keys: its peak and
	// current resident set (VmHWM, VmRSS) after the drop.
	Drop            DropFigures `json:"drop"`
	DropConcurrency int         `json:"drop_c"`
	ServerPeakRSSMB float64     `json:"server_peak_rss_mb"`
	ServerRSSMB     float64     `json:"server_rss_mb"`

	// The admin API upload, after the drop; the server's peak RSS after it.
	UploadKeys           int     `json:"upload_keys,omitempty"`
	UploadPart           int     `json:"upload_part,omitempty"`
	UploadSeconds        float64 `json:"upload_seconds,omitempty"`
	UploadKeysPerSec     float64 `json:"upload_keys_per_sec,omitempty"`
	ServerPeakRSSMBAfter float64 `json:"server_peak_rss_mb_after_upload,omitempty"`

	DatabaseMB  float64 `json:"database_mb"`
	ReconcileOK bool    `json:"reconcile_ok"`
	Violations  int     `json:"violations"`

	Machine Machine   `json:"machine"`
	Started time.Time `json:"started"`
}

// Correct reports whether every key arrived once and the store reconciles.
func (r *ImportResult) Correct() bool {
	return r.Imported == r.Keys && r.ReconcileOK && r.Violations == 0 && r.Drop.Failed == 0 &&
		r.Drop.Accepted == r.Drop.Attempts
}

// WriteJSON writes the result as one line of JSON.
func (r *ImportResult) WriteJSON(w io.Writer) error { return writeJSONLine(w, r) }

// RunImport runs the bulk benchmark.
func RunImport(ctx context.Context, cfg ImportConfig) (*ImportResult, error) {
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	pr := cfg.Progress
	if cfg.Keys < 1 || cfg.Attempts < 1 || cfg.Attempts > cfg.Keys || cfg.Concurrency < 1 {
		return nil, errors.New("bench: import: need keys ≥ 1, 1 ≤ attempts ≤ keys and concurrency ≥ 1")
	}
	res := &ImportResult{Backend: "sqlite", Keys: cfg.Keys, Machine: machine(), Started: time.Now().UTC()}

	keyFile := filepath.Join(cfg.Dir, "bench-keys.txt")
	fmt.Fprintf(pr, "import: writing %d keys to %s\n", cfg.Keys, keyFile)
	if err := writeKeyFile(keyFile, cfg.Keys); err != nil {
		return nil, err
	}
	defer os.Remove(keyFile)

	srv, err := startChild(ctx, cfg.Bin, cfg.Dir, pr)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	ep, err := parseEndpoint(srv.url)
	if err != nil {
		return nil, err
	}
	t := newTarget(ep, srv.adminToken, srv.sandboxSecret)
	defer t.admin.close()

	pid, err := t.createProduct("bench import", 3600, 0)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(pr, "import: faka keys import --product %d (%d keys) while the server runs\n", pid, cfg.Keys)
	cmd := exec.CommandContext(ctx, cfg.Bin, "keys", "import", "--product", strconv.FormatInt(pid, 10), keyFile)
	cmd.Env = srv.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("bench: faka keys import: %w\n%s", err, tail(errOut.String(), 2000))
	}
	took := time.Since(t0)
	res.ImportSeconds = round2(took.Seconds())
	res.ImportKeysPerSec = round2(Rate(cfg.Keys, took))
	res.ImportMaxRSSMB = maxRSSMB(cmd.ProcessState)
	if _, err := fmt.Sscanf(out.String(), "imported %d,", &res.Imported); err != nil {
		return nil, fmt.Errorf("bench: faka keys import said %q: %w", strings.TrimSpace(out.String()), err)
	}
	fmt.Fprintf(pr, "  %d keys in %.1f s: %.0f keys/s; peak RSS of the import %.0f MB\n",
		res.Imported, res.ImportSeconds, res.ImportKeysPerSec, res.ImportMaxRSSMB)

	// The server learns of keys another process imported when it next
	// re-reads the database (every 5 s): wait for its admission gate.
	t1 := time.Now()
	probes, err := waitGate(ctx, ep, pid, pr)
	if err != nil {
		return nil, err
	}
	res.GateWaitSeconds = round2(time.Since(t1).Seconds())
	fmt.Fprintf(pr, "  the server's gate admitted a probe order %.1f s after the import ended\n", res.GateWaitSeconds)
	keys := cfg.Keys - probes
	fmt.Fprintf(pr, "import: a drop of %d attempts by %d buyers on the product holding %d keys\n", cfg.Attempts, cfg.Concurrency, cfg.Keys)
	d, err := runDrop(ctx, ep, "faka", pid, keys, min(cfg.Attempts, keys), cfg.Concurrency, pr)
	if err != nil {
		return nil, err
	}
	progressDrop(pr, d)
	res.Drop, res.DropConcurrency = dropFigures(d), cfg.Concurrency
	res.ServerPeakRSSMB, res.ServerRSSMB = procRSSMB(srv.cmd.Process.Pid)
	fmt.Fprintf(pr, "  server peak RSS %.0f MB (now %.0f MB)\n", res.ServerPeakRSSMB, res.ServerRSSMB)

	if cfg.UploadKeys > 0 {
		part := max(1, cfg.UploadPart)
		res.UploadKeys, res.UploadPart = cfg.UploadKeys, part
		upid, err := t.createProduct("bench upload", 3600, 0)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(pr, "import: %d keys uploaded through the admin API in requests of %d\n", cfg.UploadKeys, part)
		t0 := time.Now()
		for done := 0; done < cfg.UploadKeys; done += part {
			n := min(part, cfg.UploadKeys-done)
			var imp struct {
				Imported int `json:"imported"`
			}
			if err := t.adminDo("POST", "/api/v1/products/"+strconv.FormatInt(upid, 10)+"/keys", "text/plain",
				keyRange(upid, done, n), &imp); err != nil {
				return nil, err
			}
			if imp.Imported != n {
				return nil, fmt.Errorf("bench: upload: %d keys imported of %d", imp.Imported, n)
			}
		}
		took := time.Since(t0)
		res.UploadSeconds = round2(took.Seconds())
		res.UploadKeysPerSec = round2(Rate(cfg.UploadKeys, took))
		res.ServerPeakRSSMBAfter, _ = procRSSMB(srv.cmd.Process.Pid)
		fmt.Fprintf(pr, "  %d keys in %.1f s: %.0f keys/s; server peak RSS now %.0f MB\n", cfg.UploadKeys,
			res.UploadSeconds, res.UploadKeysPerSec, res.ServerPeakRSSMBAfter)
	}

	rec, err := t.reconcile()
	if err != nil {
		return nil, err
	}
	res.ReconcileOK, res.Violations = rec.OK, len(rec.Violations)
	var size int64
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(filepath.Join(cfg.Dir, "faka.db"+suffix)); err == nil {
			size += fi.Size()
		}
	}
	res.DatabaseMB = round2(float64(size) / (1 << 20))
	res.Machine.LoadAfter = loadAverage()
	return res, nil
}

// writeKeyFile writes n made-up keys, one per line.
func writeKeyFile(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: key file: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	tag := randomToken()[:12]
	for i := range n {
		fmt.Fprintf(w, "IMPORT-%s-%09d\n", tag, i)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("bench: key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("bench: key file: %w", err)
	}
	return nil
}

// keyRange returns keys from..from+n-1 of a product, one per line.
func keyRange(productID int64, from, n int) []byte {
	var b bytes.Buffer
	b.Grow(n * 32)
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, "UPLOAD-%d-%09d\n", productID, i)
	}
	return b.Bytes()
}

// waitGate waits, for at most 60 s, until the server's admission gate
// admits an order for the product: it learns of keys another process
// imported when it next re-reads the database (every 5 s). Each probe
// that is admitted reserves one key, which the drop then does not get;
// it reports how many did.
//
// A probe that times out may still have reserved a key; the count is an
// upper bound, and the drop leaves room for it.
func waitGate(ctx context.Context, ep endpoint, productID int64, pr io.Writer) (int, error) {
	cn := newConn(ep)
	defer cn.close()
	hdr := []header{{"Content-Type", "application/json"}}
	deadline := time.Now().Add(2 * time.Minute)
	probes := 0
	for i := int64(1); ctx.Err() == nil; i++ {
		t0 := time.Now()
		status, b, err := cn.do("POST", "/api/v1/orders", hdr, orderBody(nil, productID, -i))
		if took := time.Since(t0); took > time.Second {
			fmt.Fprintf(pr, "  probe order %d took %v\n", i, took.Round(time.Millisecond))
		}
		switch {
		case err != nil:
			probes++ // it may have reserved a key after all
			fmt.Fprintf(pr, "  probe order %d: %v\n", i, err)
		case status == 201:
			return probes + 1, nil
		case status != 409:
			return 0, fmt.Errorf("bench: probe order: %d %.200s", status, b)
		}
		if time.Now().After(deadline) {
			return 0, errors.New("bench: the server's gate admitted no order for the imported keys within 2 minutes")
		}
		time.Sleep(200 * time.Millisecond)
	}
	return 0, ctx.Err()
}

// child is a `faka serve` child process.
type child struct {
	cmd           *exec.Cmd
	env           []string
	url           string
	adminToken    string
	sandboxSecret string
	logs          *tailBuffer
	done          chan struct{}
}

// startChild starts `faka serve` with a fresh embedded database in dir, on
// a free loopback port, with no order rate limit, and waits until it
// answers /healthz. Only the variables it needs are passed, so that
// FAKA_DATABASE_URL or FAKA_REDIS_URL from the caller's environment do not
// leak in.
func startChild(ctx context.Context, bin, dir string, pr io.Writer) (*child, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: free port: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := &child{adminToken: randomToken()[:32], sandboxSecret: randomToken()[:32], url: "http://" + addr,
		logs: &tailBuffer{max: 8 << 10}, done: make(chan struct{})}
	c.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "FAKA_ADDR=" + addr,
		"FAKA_DATA_DIR=" + dir, "FAKA_ADMIN_TOKEN=" + c.adminToken, "FAKA_SANDBOX_SECRET=" + c.sandboxSecret,
		"FAKA_ORDER_RATE=0"}
	c.cmd = exec.Command(bin, "serve")
	c.cmd.Env = c.env
	c.cmd.Stdout, c.cmd.Stderr = c.logs, c.logs
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start %s serve: %w", bin, err)
	}
	go func() {
		_ = c.cmd.Wait()
		close(c.done)
	}()
	fmt.Fprintf(pr, "import: faka serve (pid %d) on %s, data in %s\n", c.cmd.Process.Pid, c.url, dir)
	ep, err := parseEndpoint(c.url)
	if err != nil {
		c.stop()
		return nil, err
	}
	cn := newConn(ep)
	defer cn.close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if status, _, err := cn.do("GET", "/healthz", nil, nil); err == nil && status == 200 {
			return c, nil
		}
		select {
		case <-c.done:
			return nil, fmt.Errorf("bench: faka serve exited at start:\n%s", c.logs.String())
		case <-ctx.Done():
			c.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.stop()
			return nil, fmt.Errorf("bench: faka serve did not answer within 30 s:\n%s", c.logs.String())
		}
	}
}

// stop asks the server to shut down (SIGINT) and waits for it, killing it
// after 15 s.
func (c *child) stop() {
	_ = c.cmd.Process.Signal(os.Interrupt)
	select {
	case <-c.done:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// procRSSMB returns a process's peak and current resident set in MB
// (VmHWM and VmRSS of /proc/PID/status), 0 where they cannot be read.
func procRSSMB(pid int) (peak, now float64) {
	path := "/proc/" + strconv.Itoa(pid) + "/status"
	kb := func(key string) float64 {
		v, err := strconv.ParseFloat(strings.TrimSuffix(procField(path, key), " kB"), 64)
		if err != nil {
			return 0
		}
		return round2(v / 1024)
	}
	return kb("VmHWM"), kb("VmRSS")
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// WriteSummary writes a plain-text summary of the bulk run for people.
func (r *ImportResult) WriteSummary(w io.Writer) {
	fmt.Fprintf(w, "\nfaka bench -import: %d keys, %d CPUs (%s), load average %.1f → %.1f\n", r.Keys,
		r.Machine.CPUs, r.Machine.CPUModel, r.Machine.LoadBefore, r.Machine.LoadAfter)
	fmt.Fprintf(w, "faka keys import: %d keys in %.1f s, %.0f keys/s, peak RSS %.0f MB\n", r.Imported,
		r.ImportSeconds, r.ImportKeysPerSec, r.ImportMaxRSSMB)
	d := r.Drop
	fmt.Fprintf(w, "drop on it: %d attempts, %.0f accepted/s, p50 %.2f ms, p99 %.2f ms; server peak RSS %.0f MB (now %.0f MB)\n",
		d.Attempts, d.AcceptedPerSec, d.P50MS, d.P99MS, r.ServerPeakRSSMB, r.ServerRSSMB)
	if r.UploadKeys > 0 {
		fmt.Fprintf(w, "admin API upload: %d keys in %.1f s, %.0f keys/s; server peak RSS after %.0f MB\n", r.UploadKeys,
			r.UploadSeconds, r.UploadKeysPerSec, r.ServerPeakRSSMBAfter)
	}
	fmt.Fprintf(w, "database %.0f MB; reconcile ok %v (%d violations)\n", r.DatabaseMB, r.ReconcileOK, r.Violations)
}

// WriteMarkdown writes the bulk run's table as Markdown.
func (r *ImportResult) WriteMarkdown(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "Run of %s: `%s` store, %d keys. Machine: %d CPUs (%s), %d MiB memory, %s, %s; "+
		"1-minute load average %.1f at the start and %.1f at the end (the machine is shared). "+
		"The server is a child process (`faka serve`), so its memory is its own; the load generator runs in `faka bench`.\n\n",
		r.Started.Format("2006-01-02 15:04 UTC"), r.Backend, r.Keys, m.CPUs, m.CPUModel, m.MemoryMB, m.Go, m.OS,
		m.LoadBefore, m.LoadAfter)
	fmt.Fprintln(w, "| phase | keys | seconds | keys/s | peak RSS MB |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	fmt.Fprintf(w, "| `faka keys import` (its own process, beside the running server) | %d | %.1f | %.0f | %.0f (the import process) |\n",
		r.Imported, r.ImportSeconds, r.ImportKeysPerSec, r.ImportMaxRSSMB)
	if r.UploadKeys > 0 {
		fmt.Fprintf(w, "| admin API upload, `POST /api/v1/products/{id}/keys` in requests of %d keys, after the drop | %d | %.1f | %.0f | %.0f (the server, after it) |\n",
			r.UploadPart, r.UploadKeys, r.UploadSeconds, r.UploadKeysPerSec, r.ServerPeakRSSMBAfter)
	}
	d := r.Drop
	fmt.Fprintf(w, "\n**Drop on the product holding the %d imported keys**: %d attempts by %d buyers, %d accepted, "+
		"%.0f accepted/s, p50 %.2f ms, p99 %.2f ms, max %.2f ms. "+
		"The server admitted the first order for the new keys %.1f s after the import ended (it learns of keys "+
		"another process imported at its next resync). "+
		"**Server peak RSS (VmHWM) after the drop: %.0f MB** (VmRSS %.0f MB). Database file with its WAL: %.0f MB. "+
		"Reconciliation ok: %v (%d violations).\n",
		r.Keys, d.Attempts, r.DropConcurrency, d.Accepted, d.AcceptedPerSec, d.P50MS, d.P99MS, d.MaxMS,
		r.GateWaitSeconds, r.ServerPeakRSSMB, r.ServerRSSMB, r.DatabaseMB, r.ReconcileOK, r.Violations)
}
