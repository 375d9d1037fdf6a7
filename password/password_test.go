package password_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/faka-dev/faka/password"
)

var cheap = password.Params{Memory: 64, Time: 1, Threads: 1}

func TestHashVerify(t *testing.T) {
	t.Parallel()
	h, err := password.Hash("correct horse battery", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if err := password.Verify("correct horse battery", h); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if err := password.Verify("correct horse batterY", h); !errors.Is(err, password.ErrMismatch) {
		t.Fatalf("wrong password: %v", err)
	}
	h2, _ := password.Hash("correct horse battery", cheap)
	if h2 == h {
		t.Fatal("two hashes of one password are equal: no salt")
	}
}

func TestDefaultParams(t *testing.T) {
	t.Parallel()
	h, err := password.Hash("a long enough password", password.DefaultParams())
	if err != nil || !strings.Contains(h, "m=47104,t=1,p=1") {
		t.Fatalf("%q %v", h, err)
	}
	if err := password.Verify("a long enough password", h); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyMalformed(t *testing.T) {
	t.Parallel()
	good, _ := password.Hash("whatever-password", cheap)
	parts := strings.Split(good, "$")
	for _, h := range []string{
		"", "plain", "$argon2i$v=19$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=18$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=4194304,t=1,p=1$" + parts[4] + "$" + parts[5], // 4 GiB
		"$argon2id$v=19$m=64,t=100,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=0$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1,x=2$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$!!$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$" + parts[4] + "$",
	} {
		if err := password.Verify("whatever-password", h); err == nil || errors.Is(err, password.ErrMismatch) {
			t.Errorf("Verify with %q: %v, want a malformed-hash error", h, err)
		}
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	for pw, ok := range map[string]bool{
		"short":                  false,
		"ten chars!":             true,
		"密码密码密码密码密码":             true,
		strings.Repeat("x", 257): false,
		"bad\xffutf8 password":   false,
	} {
		if err := password.Check(pw); (err == nil) != ok {
			t.Errorf("Check(%q) = %v, want ok=%v", pw, err, ok)
		}
	}
}
