package storetest

import (
	"bytes"
	"sync"
	"testing"

	"github.com/faka-dev/faka"
)

// MetaDriver is a store that also keeps facts about the database itself.
type MetaDriver interface {
	faka.Store
	faka.MetaStore
}

// RunMeta runs the conformance suite of faka.MetaStore against the stores
// open returns (a fresh, empty one per call):
//
//	func TestMetaConformance(t *testing.T) { storetest.RunMeta(t, openMetaStore) }
func RunMeta(t *testing.T, open func(t *testing.T) MetaDriver) {
	runCases(t, open, []storeCase[MetaDriver]{
		{"FirstValueStays", testMetaFirstValueStays},
		{"RaceHasOneWinner", testMetaRace},
		{"Invalid", testMetaInvalid},
	})
}

func testMetaFirstValueStays(t *testing.T, st MetaDriver) {
	ctx := t.Context()
	first := []byte("check value of key A")
	got, err := st.MetaSetIfAbsent(ctx, faka.MetaMasterKeyCheck, first)
	if err != nil || !bytes.Equal(got, first) {
		t.Fatalf("first set: %q %v", got, err)
	}
	got, err = st.MetaSetIfAbsent(ctx, faka.MetaMasterKeyCheck, []byte("check value of key B"))
	if err != nil || !bytes.Equal(got, first) {
		t.Fatalf("second set returned %q %v, want the first value", got, err)
	}
	other, err := st.MetaSetIfAbsent(ctx, "other", []byte{0})
	if err != nil || !bytes.Equal(other, []byte{0}) {
		t.Fatalf("another name: %q %v", other, err)
	}
}

// Instances started at once on one empty database all get the one value
// that won, never each their own.
func testMetaRace(t *testing.T, st MetaDriver) {
	ctx := t.Context()
	const n = 8
	got := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			v, err := st.MetaSetIfAbsent(ctx, faka.MetaMasterKeyCheck, []byte{byte('a' + i)})
			if err != nil {
				t.Errorf("racer %d: %v", i, err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	for i := range n {
		if len(got[i]) != 1 || !bytes.Equal(got[i], got[0]) {
			t.Fatalf("racers got %q, want one value for all", got)
		}
	}
}

func testMetaInvalid(t *testing.T, st MetaDriver) {
	ctx := t.Context()
	for _, tc := range []struct {
		name  string
		value []byte
	}{{"", []byte{1}}, {"x", nil}} {
		if _, err := st.MetaSetIfAbsent(ctx, tc.name, tc.value); faka.ErrorCode(err) != faka.EInvalid {
			t.Errorf("MetaSetIfAbsent(%q, %q): %v, want %s", tc.name, tc.value, err, faka.EInvalid)
		}
	}
}
