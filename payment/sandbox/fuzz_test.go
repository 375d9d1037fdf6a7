package sandbox_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/faka-dev/faka"
)

// FuzzSandboxNotification feeds arbitrary bodies and signatures to
// ParseNotification. It must never panic, never accept a body whose
// signature does not verify, and never accept a signed body that does not
// state a well-formed payment. With sign set, the body is signed
// correctly so that the fuzzer explores the JSON checks behind the
// signature.
func FuzzSandboxNotification(f *testing.F) {
	f.Add([]byte(`{"order_no":"2026A","trade_no":"T-1","amount":990,"currency":"CNY","status":"paid"}`), "", true)
	f.Add([]byte(`{"order_no":"2026A","trade_no":"T-1","amount":990,"currency":"CNY","status":"paid"}`), "00", false)
	f.Add([]byte(`{"order_no":"","amount":-1}`), "", true)
	f.Add([]byte(`not json`), strings.Repeat("ab", 32), false)
	g := newGateway(f)
	f.Fuzz(func(t *testing.T, body []byte, sig string, sign bool) {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		want := mac.Sum(nil)
		if sign {
			sig = hex.EncodeToString(want)
		}
		n, err := g.ParseNotification(notification(string(body), sig), body)
		if err != nil {
			if code := faka.ErrorCode(err); code == faka.EInternal {
				t.Fatalf("an internal error for bad input: %v", err)
			}
			if n != (faka.Notification{}) {
				t.Fatalf("refused, yet filled: %+v", n)
			}
			return
		}
		got, derr := hex.DecodeString(strings.TrimSpace(sig))
		if derr != nil || !hmac.Equal(got, want) {
			t.Fatalf("accepted a body whose signature %q does not verify", sig)
		}
		if n.Gateway != "sandbox" || n.OrderNo == "" || n.TradeNo == "" || n.Amount <= 0 || !faka.ValidCurrency(n.Currency) {
			t.Fatalf("accepted a malformed payment %+v", n)
		}
	})
}
