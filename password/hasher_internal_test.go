package password

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

var cheap = Params{Memory: 64, Time: 1, Threads: 1}

// watch wraps h's argon2 call to record the most hashes running at once;
// each one holds its slot until release is closed.
func watch(h *Hasher, release <-chan struct{}) (peak *atomic.Int64, started chan struct{}) {
	var running atomic.Int64
	peak = new(atomic.Int64)
	started = make(chan struct{}, 1000)
	h.idKey = func(pw, salt []byte, t, m uint32, th uint8, n uint32) []byte {
		now := running.Add(1)
		defer running.Add(-1)
		for {
			old := peak.Load()
			if now <= old || peak.CompareAndSwap(old, now) {
				break
			}
		}
		started <- struct{}{}
		<-release
		return argon2.IDKey(pw, salt, t, m, th, n)
	}
	return peak, started
}

// The H1 attack: many sign-ins at once, each an argon2id hash of 46 MiB.
// However many come, no more than the slots hash at the same time, the
// queue beyond maxWait is refused with ErrBusy, and every admitted one
// gets its real answer.
func TestHasherBoundsConcurrentHashes(t *testing.T) {
	t.Parallel()
	stored, err := Hash("the right password", cheap)
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHasher(cheap, 2, 10)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	peak, started := watch(h, release)

	const attempts = 100
	var wg sync.WaitGroup
	results := make(chan error, attempts)
	for i := range attempts {
		wg.Go(func() {
			pw := "a wrong password"
			if i == 0 {
				pw = "the right password"
			}
			results <- h.Verify(context.Background(), pw, stored)
		})
	}
	// Two hashes are running and hold their slots; the others queue or
	// are turned away. Wait until all 88 turned away have answered.
	<-started
	<-started
	busy := 0
	for busy < attempts-2-10 {
		if err := <-results; !errors.Is(err, ErrBusy) {
			t.Fatalf("an attempt beyond the queue got %v, want ErrBusy", err)
		}
		busy++
	}
	close(release)
	wg.Wait()
	close(results)
	answered := 0
	for err := range results {
		if err != nil && !errors.Is(err, ErrMismatch) {
			t.Fatalf("a queued attempt got %v", err)
		}
		answered++
	}
	if answered != 12 {
		t.Fatalf("%d attempts hashed, want 2 running + 10 queued", answered)
	}
	if p := peak.Load(); p != 2 {
		t.Fatalf("%d hashes ran at once, want at most 2", p)
	}
}

func TestHasherWaitEndsWithContext(t *testing.T) {
	t.Parallel()
	h, err := NewHasher(cheap, 1, 5)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	defer close(release)
	_, started := watch(h, release)
	go h.Hash(context.Background(), "holds the only slot")
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := h.Hash(ctx, "waits"); !errors.Is(err, ErrBusy) {
		t.Fatalf("a wait past its deadline: %v, want ErrBusy", err)
	}
}

func TestHasherVerifies(t *testing.T) {
	t.Parallel()
	h, err := NewHasher(cheap, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := h.Hash(context.Background(), "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Verify(context.Background(), "correct horse battery", stored); err != nil {
		t.Fatalf("right password: %v", err)
	}
	if err := h.Verify(context.Background(), "correct horse batterY", stored); !errors.Is(err, ErrMismatch) {
		t.Fatalf("wrong password: %v", err)
	}
	if err := Verify("correct horse battery", stored); err != nil {
		t.Fatalf("the package's Verify disagrees: %v", err)
	}
	if _, err := NewHasher(cheap, 0, 0); err == nil {
		t.Fatal("a hasher without slots was made")
	}
}
