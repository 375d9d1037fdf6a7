package wechat

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCodeCache checks the bound and the sharing of the codes kept for
// the QR page.
func TestCodeCache(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	c := &codeCache{m: map[string]*codeCall{}, max: 3}
	made := 0
	code := func(v string, until time.Time) func() (string, time.Time, error) {
		return func() (string, time.Time, error) { made++; return v, until, nil }
	}
	get := func(no string, at time.Time, create func() (string, time.Time, error)) string {
		t.Helper()
		got, err := c.get(t.Context(), no, at, create)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	get("A", now, code("a", now.Add(time.Minute)))
	get("B", now, code("b", now.Add(3*time.Minute)))
	get("C", now, code("c", now.Add(2*time.Minute)))
	if got := get("A", now, code("a2", now.Add(time.Minute))); got != "a" || made != 3 {
		t.Fatalf("kept code: %q after %d calls", got, made)
	}
	// Full: D pushes out A, the one that expires soonest.
	get("D", now, code("d", now.Add(4*time.Minute)))
	if len(c.m) != 3 || c.m["A"] != nil {
		t.Fatalf("after D: %v", c.m)
	}
	// Later, C (and nothing else) has expired: E takes its place.
	later := now.Add(2*time.Minute + time.Second)
	get("E", later, code("e", later.Add(time.Minute)))
	if len(c.m) != 3 || c.m["C"] != nil || c.m["B"] == nil || c.m["D"] == nil {
		t.Fatalf("after E: %v", c.m)
	}
	// An expired code is made again.
	if got := get("B", now.Add(3*time.Minute), code("b2", now.Add(9*time.Minute))); got != "b2" {
		t.Fatalf("expired code: %q", got)
	}

	// A failure is not kept.
	boom := errors.New("boom")
	if _, err := c.get(t.Context(), "F", now, func() (string, time.Time, error) { return "", time.Time{}, boom }); !errors.Is(err, boom) {
		t.Fatalf("failure: %v", err)
	}
	if c.m["F"] != nil {
		t.Fatal("a failure was kept")
	}

	// Concurrent first asks share one call; a waiter whose context ends
	// stops waiting.
	var calls atomic.Int32
	release := make(chan struct{})
	slow := func() (string, time.Time, error) {
		calls.Add(1)
		<-release
		return "g", now.Add(time.Hour), nil
	}
	var wg sync.WaitGroup
	results := make([]string, 6)
	wg.Go(func() { results[0], _ = c.get(context.Background(), "G", now, slow) })
	for calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	for i := 1; i < len(results); i++ {
		wg.Go(func() { results[i], _ = c.get(context.Background(), "G", now, slow) })
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.get(ctx, "G", now, slow); err == nil {
		t.Fatal("a cancelled waiter kept waiting")
	}
	close(release)
	wg.Wait()
	for i, r := range results {
		if r != "g" {
			t.Fatalf("caller %d got %q", i, r)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("%d calls for one code", calls.Load())
	}
}
