package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Settings every instance of a cluster shares.
const (
	adminToken    = "e2e-admin-token-0123456789abcdef0"
	sandboxSecret = "e2e-sandbox-secret"
)

// buildFaka builds ./cmd/faka of the module under test into a temporary
// directory and returns the binary's path.
func buildFaka(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build faka: %v", err)
	}
	out, err := exec.Command(goBin, "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		t.Fatalf("go env GOMOD = %q, %v: run the tests inside the faka module", gomod, err)
	}
	bin := filepath.Join(t.TempDir(), "faka")
	start := time.Now()
	cmd := exec.Command(goBin, "build", "-o", bin, "./cmd/faka")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/faka: %v\n%s", err, out)
	}
	t.Logf("built faka in %v", time.Since(start).Round(time.Millisecond))
	return bin
}

// instance is one `faka serve` process, restartable on the same address.
type instance struct {
	name    string
	bin     string
	addr    string   // 127.0.0.1:port
	env     []string // the whole environment of the process
	logPath string   // stdout and stderr of every run, appended

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the process of cmd has exited
}

// URL is the instance's base URL.
func (in *instance) URL() string { return "http://" + in.addr }

// start starts a process; it does not wait for it to be ready.
func (in *instance) start() error {
	f, err := os.OpenFile(in.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "=== e2e: faka serve starting at %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(in.bin, "serve")
	cmd.Env = in.env
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("start %s: %w", in.name, err)
	}
	done := make(chan struct{})
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(f, "=== e2e: faka serve exited at %s: %v\n", time.Now().Format(time.RFC3339Nano), err)
		f.Close()
		close(done)
	}()
	in.mu.Lock()
	in.cmd, in.done = cmd, done
	in.mu.Unlock()
	return nil
}

func (in *instance) current() (*exec.Cmd, chan struct{}) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.cmd, in.done
}

// waitReady polls /readyz until it answers 200, the process exits, or the
// timeout passes.
func (in *instance) waitReady(timeout time.Duration) error {
	_, done := in.current()
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-done:
			return fmt.Errorf("%s exited before it was ready; see its log", in.name)
		default:
		}
		res, err := hc.Get(in.URL() + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v (last: %v)", in.name, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill ends the process with SIGKILL, as a crash or an OOM kill would,
// and waits for it to be gone.
func (in *instance) kill() {
	cmd, done := in.current()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// stop asks the process to shut down (SIGINT), and kills it if it has not
// within ten seconds.
func (in *instance) stop() {
	cmd, done := in.current()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		in.kill()
	}
}

// restart kills the process and starts a new one on the same address,
// waiting until it is ready. It returns how long the address was down.
func (in *instance) restart() (time.Duration, error) {
	start := time.Now()
	in.kill()
	if err := in.start(); err != nil {
		return 0, err
	}
	if err := in.waitReady(30 * time.Second); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// tailLog returns the last n lines of the instance's log.
func (in *instance) tailLog(n int) string {
	b, err := os.ReadFile(in.logPath)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = append([][]byte{[]byte(fmt.Sprintf("… %d earlier lines", len(lines)-n))}, lines[len(lines)-n:]...)
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// cluster is several instances on one database (and one Redis).
type cluster struct {
	instances []*instance
	redisURL  string // empty: the instances run without Redis
}

// clusterConfig says what a cluster runs on.
type clusterConfig struct {
	bin         string
	size        int
	databaseURL string
	redisURL    string // empty: no Redis
	// together starts every instance at the same moment, as a deployment
	// of several replicas on a new database does.
	together bool
}

// startCluster starts cfg.size instances on free ports of 127.0.0.1, each
// with a data directory of its own and all with the same master key file,
// and waits until every one is ready. They are stopped when the test ends,
// and their logs are printed if it failed.
func startCluster(t *testing.T, cfg clusterConfig) *cluster {
	t.Helper()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "master.key")
	master := make([]byte, 32)
	rand.Read(master)
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(master)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := baseEnv()
	common := []string{
		"FAKA_DATABASE_URL=" + cfg.databaseURL,
		"FAKA_MASTER_KEY_FILE=" + keyFile,
		"FAKA_ADMIN_TOKEN=" + adminToken,
		"FAKA_SANDBOX_SECRET=" + sandboxSecret,
		"FAKA_ORDER_RATE=0",
	}
	if cfg.redisURL != "" {
		common = append(common, "FAKA_REDIS_URL="+cfg.redisURL)
	}
	cl := &cluster{redisURL: cfg.redisURL}
	for i, addr := range freeAddrs(t, cfg.size) {
		in := &instance{
			name:    fmt.Sprintf("instance %d (%s)", i+1, addr),
			bin:     cfg.bin,
			addr:    addr,
			logPath: filepath.Join(dir, fmt.Sprintf("faka-%d.log", i+1)),
		}
		in.env = append(append(append([]string(nil), base...), common...),
			"FAKA_ADDR="+addr, "FAKA_DATA_DIR="+filepath.Join(dir, fmt.Sprintf("data-%d", i+1)))
		cl.instances = append(cl.instances, in)
	}
	// Registered after t.TempDir, so it runs before the directory goes.
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, in := range cl.instances {
			wg.Go(in.stop)
		}
		wg.Wait()
		if t.Failed() {
			for _, in := range cl.instances {
				t.Logf("--- log of %s ---\n%s", in.name, in.tailLog(150))
			}
		}
	})
	// Unless told to start all at once, the first instance migrates the
	// empty database alone, and the others start when it is ready.
	waves := [][]*instance{cl.instances}
	if !cfg.together {
		waves = [][]*instance{cl.instances[:1], cl.instances[1:]}
	}
	for _, wave := range waves {
		for _, in := range wave {
			if err := in.start(); err != nil {
				t.Fatal(err)
			}
		}
		for _, in := range wave {
			if err := in.waitReady(60 * time.Second); err != nil {
				t.Fatal(err)
			}
		}
	}
	return cl
}

// baseEnv is the test's environment without FAKA_* variables, so that a
// developer's settings do not leak into the instances.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FAKA_") {
			env = append(env, kv)
		}
	}
	return env
}

// freeAddrs returns n distinct 127.0.0.1 addresses with ports nothing
// listens on now.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close() // held until all are chosen, so they differ
		addrs = append(addrs, ln.Addr().String())
	}
	return addrs
}
