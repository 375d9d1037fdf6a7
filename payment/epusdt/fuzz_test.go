package epusdt_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/payment"
	"github.com/faka-dev/faka/payment/epusdt"
)

// FuzzEpusdtNotification feeds arbitrary bodies to ParseNotification. It
// must never panic, never accept a body whose signature does not verify
// under the token, and never accept a signed body that does not state a
// paid transaction. With sign set, a JSON object body is re-signed
// correctly so that the fuzzer explores the checks behind the signature.
func FuzzEpusdtNotification(f *testing.F) {
	f.Add([]byte(`{"trade_id":"T1","order_id":"2026A","amount":9.9,"status":2}`), true)
	f.Add([]byte(`{"trade_id":"T1","order_id":"2026A","amount":9.9,"status":2,"signature":"00"}`), false)
	f.Add([]byte(`{"amount":1e400}`), true)
	f.Add([]byte(`null`), false)
	g := newGateway(f, "https://usdt.example.com", nil)
	r := httptest.NewRequest("POST", "/pay/epusdt/notify", nil)
	f.Fuzz(func(t *testing.T, body []byte, sign bool) {
		if sign {
			var m map[string]any
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.UseNumber()
			if dec.Decode(&m) == nil && m != nil {
				body = []byte(signed(m, token))
			}
		}
		n, err := g.ParseNotification(r, body)
		if err != nil {
			if faka.ErrorCode(err) == faka.EInternal {
				t.Fatalf("an internal error for bad input: %v", err)
			}
			if n != (faka.Notification{}) {
				t.Fatalf("refused, yet filled: %+v", n)
			}
			return
		}
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("accepted a body that is not JSON: %q", body)
		}
		fields := map[string]string{}
		for k, v := range m {
			switch v := v.(type) {
			case string:
				fields[k] = v
			case json.Number:
				fields[k], _ = epusdt.FormatNumber(v)
			}
		}
		if s, _ := m["signature"].(string); !strings.EqualFold(s, epusdt.Sign(fields, token)) {
			t.Fatalf("accepted a body whose signature does not verify: %q", body)
		}
		amount, _ := m["amount"].(json.Number)
		want, aerr := payment.ParseYuan(amount.String())
		if n.Gateway != "epusdt" || n.OrderNo != m["order_id"] || n.TradeNo != m["trade_id"] || aerr != nil ||
			n.Amount != want || n.Amount <= 0 || n.Currency != "CNY" || m["status"] != json.Number("2") {
			t.Fatalf("accepted %q as %+v", body, n)
		}
	})
}
