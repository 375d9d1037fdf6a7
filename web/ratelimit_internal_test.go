package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// M5: 100,000 distinct client addresses in a minute fill the limiter.
// Before the fix every new client then got 429 for a minute; now the
// memory stays bounded, newcomers are still served, and a newcomer that
// floods is still limited.
func TestLimiterBounded(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	l := newLimiter(60)
	l.now = func() time.Time { return now }
	for i := range maxLimiterEntries {
		l.allow(fmt.Sprint(i))
	}
	for i := range 1000 {
		if _, ok := l.allow(fmt.Sprintf("newcomer-%d", i)); !ok {
			t.Fatalf("newcomer %d refused because the map is full", i)
		}
	}
	if _, ok := l.allow("7"); !ok {
		t.Fatal("a known key was refused because the map is full")
	}
	flooded := false
	for range 200 {
		if _, ok := l.allow("flooder"); !ok {
			flooded = true
			break
		}
	}
	if !flooded {
		t.Fatal("a newcomer sent 200 events in an instant and none was limited")
	}
	if n := l.size(); n != maxLimiterEntries || len(l.overflow) != overflowBuckets {
		t.Fatalf("held %d keys and %d overflow buckets, want %d and %d", n, len(l.overflow), maxLimiterEntries, overflowBuckets)
	}
	now = now.Add(time.Minute)
	if _, ok := l.allow("newcomer"); !ok {
		t.Fatal("idle keys were not swept to make room")
	}
	if n := l.size(); n > 2 {
		t.Fatalf("size %d after the sweep", n)
	}
}

// fakeShared is a SharedLimiter that answers from a script.
type fakeShared struct {
	err  error
	keys []string
	ok   bool
}

func (f *fakeShared) Allow(_ context.Context, key string, perMinute int) (time.Duration, bool, error) {
	f.keys = append(f.keys, fmt.Sprintf("%s/%d", key, perMinute))
	if f.err != nil {
		return 0, false, f.err
	}
	return 7 * time.Second, f.ok, nil
}

// TestLimiterShared: with a shared limiter the decision is the shared
// one's; while it fails, the in-process buckets decide.
func TestLimiterShared(t *testing.T) {
	t.Parallel()
	shared := &fakeShared{ok: false}
	l := newLimiter(2)
	l.share(shared, "orders:ip", slog.New(slog.DiscardHandler))
	if wait, ok := l.allow("a"); ok || wait != 7*time.Second {
		t.Fatalf("the shared limiter refused, the limiter said ok=%v wait=%v", ok, wait)
	}
	if len(shared.keys) != 1 || shared.keys[0] != "orders:ip:a/2" {
		t.Fatalf("shared limiter asked %v", shared.keys)
	}
	shared.err = errors.New("redis down")
	for i := range 2 {
		if _, ok := l.allow("a"); !ok {
			t.Fatalf("fallback refused event %d within its burst", i)
		}
	}
	if _, ok := l.allow("a"); ok {
		t.Fatal("the in-process fallback does not limit")
	}
}
