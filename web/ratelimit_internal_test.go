package web

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	l := newLimiter(3)
	l.now = func() time.Time { return now }

	for i := range 3 {
		if _, ok := l.allow("a"); !ok {
			t.Fatalf("event %d refused within the burst", i)
		}
	}
	wait, ok := l.allow("a")
	if ok || wait <= 0 || wait > 20*time.Second {
		t.Fatalf("fourth event: ok=%v wait=%v, want refused for about 20s", ok, wait)
	}
	if _, ok := l.allow("b"); !ok {
		t.Fatal("another key is limited by the first")
	}
	now = now.Add(20 * time.Second)
	if _, ok := l.allow("a"); !ok {
		t.Fatal("a token did not come back after 20s")
	}

	// Idle keys are dropped once their bucket is full again.
	now = now.Add(2 * time.Minute)
	l.allow("c")
	if n := l.size(); n != 1 {
		t.Fatalf("%d keys held after the others went idle, want 1", n)
	}
	var nilLimiter *limiter
	if _, ok := nilLimiter.allow("x"); !ok {
		t.Fatal("a nil limiter limits")
	}
}

func TestLimiterBounded(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	l := newLimiter(60)
	l.now = func() time.Time { return now }
	for i := range maxLimiterEntries {
		l.allow(fmt.Sprint(i))
	}
	if _, ok := l.allow("newcomer"); ok {
		t.Fatal("a full map admitted a new key")
	}
	if _, ok := l.allow("7"); !ok {
		t.Fatal("a known key was refused because the map is full")
	}
	if n := l.size(); n != maxLimiterEntries {
		t.Fatalf("size %d", n)
	}
	now = now.Add(time.Minute)
	if _, ok := l.allow("newcomer"); !ok {
		t.Fatal("idle keys were not swept to make room")
	}
	if n := l.size(); n > 2 {
		t.Fatalf("size %d after the sweep", n)
	}
}
