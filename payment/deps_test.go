package payment_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestPaymentDependsOnNoStoreOrServer keeps the gateways independent of
// how faka stores data and serves HTTP: no package under payment/ (tests
// aside) may depend on a store driver, the web server or the test shop.
func TestPaymentDependsOnNoStoreOrServer(t *testing.T) {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}}", "github.com/faka-dev/faka/payment/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list found only %d packages: %q", len(deps), deps)
	}
	for _, d := range deps {
		for _, banned := range []string{"/faka/sqlite", "/faka/postgres", "/faka/web", "/faka/internal/gatewaytest", "/faka/engine"} {
			if strings.HasSuffix(d, banned) || strings.Contains(d, banned+"/") {
				t.Errorf("a package under payment/ depends on %s", d)
			}
		}
	}
}
