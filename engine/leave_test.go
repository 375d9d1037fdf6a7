package engine_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/faka-dev/faka"
	"github.com/faka-dev/faka/engine"
	"github.com/faka-dev/faka/keyring"
	"github.com/faka-dev/faka/sqlite"
)

// TestMain fails the package when a test leaves a goroutine running:
// Engine.Close must wait for every goroutine the engine started.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// heldStore holds every write transaction at its start while held is
// set, and says when one arrives.
type heldStore struct {
	faka.Store
	held    chan struct{} // closed to let held transactions go
	arrived chan struct{} // one value per transaction that arrived held
}

func (s *heldStore) Tx(ctx context.Context, fn func(context.Context, faka.Tx) error) error {
	if s.held != nil {
		s.arrived <- struct{}{}
		<-s.held
	}
	return s.Store.Tx(ctx, fn)
}

// TestBuyerWhoLeaves: buyers whose requests are cancelled while their
// reservation waits for the database neither lose their order nor the
// order of the buyer batched with them; the leaver's order is replayed by
// its Idempotency-Key.
func TestBuyerWhoLeaves(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "faka.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kr, err := keyring.New(bytes.Repeat([]byte{3}, keyring.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	hs := &heldStore{Store: st}
	e, err := engine.New(engine.Config{Store: hs, Keyring: kr, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close() // not started: no sweeper writes behind the test's back
	p := &faka.Product{Name: "Held card", Price: 500, Currency: "CNY", Active: true}
	if err := e.CreateProduct(ctx, p, 0, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ImportKeyList(ctx, p.ID, []string{"LEAVE-1", "LEAVE-2", "LEAVE-3"}); err != nil {
		t.Fatal(err)
	}

	hs.held, hs.arrived = make(chan struct{}), make(chan struct{}, 8)
	type outcome struct {
		res *engine.Reservation
		err error
	}
	reserve := func(ctx context.Context, req engine.ReserveRequest) <-chan outcome {
		ch := make(chan outcome, 1)
		go func() {
			res, err := e.Reserve(ctx, req)
			ch <- outcome{res, err}
		}()
		return ch
	}
	first := reserve(ctx, engine.ReserveRequest{ProductID: p.ID, Quantity: 1, Email: "first@example.com", Gateway: "sandbox"})
	<-hs.arrived // the first batch waits at the database; the next ones queue
	leaving, leave := context.WithCancel(ctx)
	leaveReq := engine.ReserveRequest{ProductID: p.ID, Quantity: 1, Email: "leaver@example.com", Gateway: "sandbox",
		IdempotencyKey: "leaver-key", RequestHash: []byte("leaver body")}
	leaver := reserve(leaving, leaveReq)
	stayer := reserve(ctx, engine.ReserveRequest{ProductID: p.ID, Quantity: 1, Email: "stayer@example.com", Gateway: "sandbox"})
	time.Sleep(50 * time.Millisecond) // both queued behind the first batch
	leave()
	close(hs.held)

	for name, ch := range map[string]<-chan outcome{"first": first, "stayer": stayer} {
		if o := <-ch; o.err != nil || o.res.Order.Status != faka.StatusPending {
			t.Fatalf("%s buyer: %+v, %v; want a pending order", name, o.res, o.err)
		}
	}
	left := <-leaver // answered or not, its order must exist
	again, err := e.Reserve(ctx, leaveReq)
	if err != nil || !again.Replayed {
		t.Fatalf("the leaver's retry with its Idempotency-Key: %+v, %v; want its order replayed", again, err)
	}
	if left.err == nil && left.res.Order.OrderNo != again.Order.OrderNo {
		t.Fatalf("replayed order %s, the leaver was told %s", again.Order.OrderNo, left.res.Order.OrderNo)
	}
	stock, err := st.StockGet(ctx, p.ID)
	if err != nil || stock.Reserved != 3 || stock.Available != 0 {
		t.Fatalf("stock after three buyers, one of whom left: %+v, %v; want 3 reserved", stock, err)
	}
}
