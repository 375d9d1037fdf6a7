package storetest

import "testing"

// storeCase is one named test of a suite over a driver of type D.
type storeCase[D any] struct {
	name string
	fn   func(t *testing.T, st D)
}

// runCases runs each case in parallel on its own fresh store.
func runCases[D any](t *testing.T, open func(t *testing.T) D, cases []storeCase[D]) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}
