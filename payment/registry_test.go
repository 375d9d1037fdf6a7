package payment_test

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment"
)

// stub is a gateway that does nothing.
type stub struct{ name string }

func (s stub) Name() string { return s.name }
func (s stub) PayURL(context.Context, *faka.Order, string) (string, error) {
	return "https://pay.example/" + s.name, nil
}
func (s stub) ParseNotification(*http.Request, []byte) (faka.Notification, error) {
	return faka.Notification{}, faka.Errorf(faka.EUnauthorized, "stub")
}
func (s stub) Acknowledge(http.ResponseWriter)   {}
func (s stub) Reject(http.ResponseWriter, error) {}

func TestRegistry(t *testing.T) {
	t.Parallel()
	r, err := payment.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Default(); ok {
		t.Fatal("an empty registry has a default")
	}
	for _, name := range []string{"epay", "usdt", "wechat_pay"} {
		if err := r.Register(stub{name}); err != nil {
			t.Fatalf("register %s: %v", name, err)
		}
	}
	if got := r.Names(); !slices.Equal(got, []string{"epay", "usdt", "wechat_pay"}) {
		t.Fatalf("names %v", got)
	}
	if g, ok := r.Default(); !ok || g.Name() != "epay" {
		t.Fatalf("default %v %v, want the first registered", g, ok)
	}
	if err := r.SetDefault("usdt"); err != nil {
		t.Fatal(err)
	}
	if g, _ := r.Default(); g.Name() != "usdt" {
		t.Fatalf("default %s after SetDefault", g.Name())
	}
	if err := r.SetDefault("nope"); faka.ErrorCode(err) != faka.ENotFound {
		t.Fatalf("SetDefault(unknown) = %v", err)
	}
	if g, ok := r.Get("wechat_pay"); !ok || g.Name() != "wechat_pay" {
		t.Fatal("Get wechat_pay")
	}
	if _, ok := r.Get("alipay"); ok {
		t.Fatal("Get of an unregistered gateway")
	}
	if err := r.Register(stub{"epay"}); faka.ErrorCode(err) != faka.EConflict {
		t.Fatalf("duplicate name: %v", err)
	}
	for _, bad := range []string{"", "Sandbox", "pay/x", "a b", "ünï", "x23456789012345678901234567890123"} {
		if err := r.Register(stub{bad}); faka.ErrorCode(err) != faka.EInvalid {
			t.Fatalf("name %q: %v", bad, err)
		}
	}
	if err := r.Register(nil); faka.ErrorCode(err) != faka.EInvalid {
		t.Fatalf("nil gateway: %v", err)
	}
	if _, err := payment.NewRegistry(stub{"a"}, stub{"a"}); err == nil {
		t.Fatal("NewRegistry with a duplicate succeeded")
	}
}

func TestRegistrySetRemove(t *testing.T) {
	t.Parallel()
	r, _ := payment.NewRegistry(stub{"sandbox"})
	a := stub{"epay"}
	if err := r.Set(a); err != nil {
		t.Fatal(err)
	}
	if err := r.Set(stub{"epay"}); err != nil {
		t.Fatalf("replace: %v", err)
	}
	if got := r.Names(); !slices.Equal(got, []string{"sandbox", "epay"}) {
		t.Fatalf("names %v after replace", got)
	}
	if err := r.Set(stub{"Bad"}); faka.ErrorCode(err) != faka.EInvalid {
		t.Fatalf("Set(bad name) = %v", err)
	}
	if !r.Remove("sandbox") || r.Remove("sandbox") {
		t.Fatal("Remove reports wrongly")
	}
	if g, ok := r.Default(); !ok || g.Name() != "epay" {
		t.Fatalf("default after removing it: %v %v", g, ok)
	}
	r.Remove("epay")
	if _, ok := r.Default(); ok || len(r.Names()) != 0 {
		t.Fatal("an emptied registry has gateways")
	}
	if err := r.Set(stub{"usdt"}); err != nil {
		t.Fatal(err)
	}
	if g, ok := r.Default(); !ok || g.Name() != "usdt" {
		t.Fatal("Set on an empty registry does not make the default")
	}
	// Concurrent use, for -race.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 200 {
				if i%2 == 0 {
					r.Set(stub{"epay"})
					r.Remove("epay")
				} else {
					r.Get("epay")
					r.Names()
					r.Default()
				}
			}
		})
	}
	wg.Wait()
}

// testStub is a test gateway, like the sandbox.
type testStub struct{ stub }

func (testStub) TestMode() bool { return true }

// M1: with the sandbox registered first (the environment turns it on
// before the database's gateways load) and EPay enabled after, an order
// that names no gateway must not go to the sandbox.
func TestRegistryNeverDefaultsToATestGateway(t *testing.T) {
	t.Parallel()
	r, err := payment.NewRegistry(testStub{stub{"sandbox"}})
	if err != nil {
		t.Fatal(err)
	}
	if g, ok := r.Default(); !ok || g.Name() != "sandbox" || !r.TestMode() {
		t.Fatalf("alone, the sandbox is the default and test mode is on: %v %v %v", g, ok, r.TestMode())
	}
	if err := r.Set(stub{"epay"}); err != nil {
		t.Fatal(err)
	}
	if g, _ := r.Default(); g.Name() != "epay" {
		t.Fatalf("default %q with EPay enabled, want epay", g.Name())
	}
	if err := r.SetDefault("sandbox"); err != nil {
		t.Fatal(err)
	}
	if g, _ := r.Default(); g.Name() != "epay" {
		t.Fatalf("default %q after SetDefault(sandbox) with EPay enabled, want epay", g.Name())
	}
	r.Remove("epay")
	if g, _ := r.Default(); g.Name() != "sandbox" {
		t.Fatalf("default %q once EPay is off, want sandbox", g.Name())
	}
	r.Remove("sandbox")
	if r.TestMode() {
		t.Fatal("test mode on with no test gateway")
	}
}
