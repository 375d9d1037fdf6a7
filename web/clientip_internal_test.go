package web

import (
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/faka-dev/faka/engine"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	s := &Server{cfg: Config{TrustedProxies: []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("fd00::/8"),
	}}}
	for _, tc := range []struct {
		name, remote string
		xff          []string
		want, key    string
	}{
		{"direct", "203.0.113.5:443", nil, "203.0.113.5", "203.0.113.5"},
		{"direct ignores XFF", "203.0.113.5:443", []string{"192.0.2.1"}, "203.0.113.5", "203.0.113.5"},
		{"proxy without XFF", "10.1.1.1:443", nil, "10.1.1.1", "10.1.1.1"},
		{"one proxy", "10.1.1.1:443", []string{"192.0.2.1"}, "192.0.2.1", "192.0.2.1"},
		{"right-most untrusted", "10.1.1.1:443", []string{"198.51.100.9, 192.0.2.1, 10.2.2.2"}, "192.0.2.1", "192.0.2.1"},
		{"several headers", "10.1.1.1:443", []string{"198.51.100.9", "192.0.2.1"}, "192.0.2.1", "192.0.2.1"},
		{"all trusted", "10.1.1.1:443", []string{"10.3.3.3, 10.2.2.2"}, "10.3.3.3", "10.3.3.3"},
		{"garbage hop", "10.1.1.1:443", []string{"192.0.2.1, junk, 10.2.2.2"}, "10.2.2.2", "10.2.2.2"},
		{"mapped v4", "[::ffff:203.0.113.5]:443", nil, "203.0.113.5", "203.0.113.5"},
		{"v6 keyed by /64", "[2001:db8:1:2:3:4:5:6]:443", nil, "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"v6 proxy", "[fd00::1]:443", []string{"2001:db8::7"}, "2001:db8::7", "2001:db8::/64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := s.clientIP(r).String(); got != tc.want {
				t.Fatalf("clientIP = %s, want %s", got, tc.want)
			}
			if got := s.clientKey(r); got != tc.key {
				t.Fatalf("clientKey = %s, want %s", got, tc.key)
			}
		})
	}
}

func TestRequestHash(t *testing.T) {
	t.Parallel()
	a := requestHashOf(1, 2, "a@b.c", "sandbox", "")
	for _, other := range [][]byte{
		requestHashOf(1, 2, "a@b.c", "sandbox", "x"),
		requestHashOf(12, 2, "a@b.c", "sandbox", ""),
		requestHashOf(1, 2, "a@b.csandbox", "", ""),
		requestHashOf(1, 3, "a@b.c", "sandbox", ""),
		requestHash(engine.ReserveRequest{ProductID: 1, Quantity: 2, Email: "a@b.c", Gateway: "sandbox"}, "192.0.2.9"),
	} {
		if string(other) == string(a) {
			t.Fatal("two different requests hash alike")
		}
	}
	if string(a) != string(requestHashOf(1, 2, "a@b.c", "sandbox", "")) {
		t.Fatal("the hash is not deterministic")
	}
}

func requestHashOf(pid int64, qty int, email, gateway, pw string) []byte {
	return requestHash(engine.ReserveRequest{ProductID: pid, Quantity: qty, Email: email, Gateway: gateway, QueryPassword: pw}, "192.0.2.1")
}
