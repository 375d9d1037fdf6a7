package password

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// ErrBusy is returned by a Hasher when too many hashes are already
// waiting for a slot: the caller should answer "try again shortly".
var ErrBusy = errors.New("password: too many password checks at once, try again shortly")

// Hasher runs argon2id hashes with a bound on how many run at once. Each
// hash allocates its Memory parameter (46 MiB by default), so an
// unbounded number of concurrent sign-ins is an unbounded amount of
// memory; with a Hasher the peak is about Slots × Memory. One Hasher
// serves the whole process: every hash of a server goes through it.
type Hasher struct {
	params  Params
	slots   chan struct{}
	waiting atomic.Int64
	maxWait int64

	// idKey is argon2.IDKey; tests wrap it to watch concurrency.
	idKey idKeyFunc
}

// NewHasher returns a Hasher that hashes new passwords with p, runs at
// most slots hashes at once and lets at most maxWait more wait for a
// slot; beyond that, Hash and Verify return ErrBusy at once.
func NewHasher(p Params, slots, maxWait int) (*Hasher, error) {
	if slots < 1 || maxWait < 0 {
		return nil, fmt.Errorf("password: hasher needs at least one slot and a non-negative queue, got %d and %d", slots, maxWait)
	}
	return &Hasher{params: p, slots: make(chan struct{}, slots), maxWait: int64(maxWait), idKey: argon2.IDKey}, nil
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params { return h.params }

// acquire takes a slot, waiting while ctx allows. The returned func gives
// it back.
func (h *Hasher) acquire(ctx context.Context) (func(), error) {
	select {
	case h.slots <- struct{}{}:
		return func() { <-h.slots }, nil
	default:
	}
	if h.waiting.Add(1) > h.maxWait {
		h.waiting.Add(-1)
		return nil, ErrBusy
	}
	defer h.waiting.Add(-1)
	select {
	case h.slots <- struct{}{}:
		return func() { <-h.slots }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("password: waiting for a hashing slot: %w", ErrBusy)
	}
}

// Hash returns the PHC string of pw under fresh salt, like the package's
// Hash, within the Hasher's bound.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	release, err := h.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return hash(pw, h.params, h.idKey)
}

// Verify reports whether pw matches hash, like the package's Verify,
// within the Hasher's bound: ErrBusy when no slot came free in time.
func (h *Hasher) Verify(ctx context.Context, pw, hash string) error {
	p, salt, key, err := parse(hash)
	if err != nil {
		return err
	}
	release, err := h.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	return verify(pw, p, salt, key, h.idKey)
}
