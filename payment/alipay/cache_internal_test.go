package alipay

import (
	"strconv"
	"testing"
	"time"
)

// TestCodeCache checks that the QR codes kept are bounded, dropped once
// old, and asked again when the order's parameters differ.
func TestCodeCache(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	g := &Gateway{codes: map[string]cachedCode{}, now: func() time.Time { return now }}
	g.remember("A", cachedCode{code: "https://qr.alipay.com/a", key: "k", until: now.Add(codeLife)})
	if c, ok := g.cached("A", "k", now); !ok || c != "https://qr.alipay.com/a" {
		t.Fatalf("cached A: %q %v", c, ok)
	}
	if _, ok := g.cached("A", "other params", now); ok {
		t.Fatal("a code kept for other parameters")
	}
	if _, ok := g.cached("A", "k", now.Add(codeLife)); ok {
		t.Fatal("a code kept past its life")
	}
	// Full: the expired go first, then any.
	g.remember("OLD", cachedCode{code: "x", key: "k", until: now.Add(-time.Second)})
	for i := len(g.codes); i < maxCodes; i++ {
		g.remember(strconv.Itoa(i), cachedCode{code: "x", key: "k", until: now.Add(codeLife)})
	}
	if len(g.codes) != maxCodes {
		t.Fatalf("%d codes, want %d", len(g.codes), maxCodes)
	}
	g.remember("NEW", cachedCode{code: "n", key: "k", until: now.Add(codeLife)})
	if _, ok := g.codes["OLD"]; ok || len(g.codes) != maxCodes {
		t.Fatalf("after one more: %d codes, expired one kept: %v", len(g.codes), ok)
	}
	g.remember("NEW2", cachedCode{code: "n", key: "k", until: now.Add(codeLife)})
	if _, ok := g.cached("NEW2", "k", now); !ok || len(g.codes) > maxCodes {
		t.Fatalf("bound not kept: %d codes", len(g.codes))
	}
	g.remember("NEW2", cachedCode{code: "m", key: "k", until: now.Add(codeLife)})
	if c, _ := g.cached("NEW2", "k", now); c != "m" || len(g.codes) != maxCodes {
		t.Fatalf("replacing a kept code: %q, %d codes", c, len(g.codes))
	}
	g.forget("NEW2")
	if _, ok := g.cached("NEW2", "k", now); ok {
		t.Fatal("forgotten code still kept")
	}
}
