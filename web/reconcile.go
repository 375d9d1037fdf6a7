package web

import (
	"net/http"

	"github.com/faka-dev/faka"
)

// stockJSON is one product's inventory by state.
type stockJSON struct {
	ID        int64 `json:"id"`
	Imported  int64 `json:"imported"`
	Available int64 `json:"available"`
	Reserved  int64 `json:"reserved"`
	Sold      int64 `json:"sold"`
	Void      int64 `json:"void"`
}

func newStockJSON(st []faka.Stock) []stockJSON {
	out := make([]stockJSON, 0, len(st))
	for _, s := range st {
		out = append(out, stockJSON{s.ProductID, s.Imported, s.Available, s.Reserved, s.Sold, s.Void})
	}
	return out
}

// reconcile serves GET /api/v1/reconcile (admin): the invariants of
// docs/ARCHITECTURE.md §1 checked now. Products are the live figures, ledger the
// same summed from the inventory ledger.
func (s *Server) reconcile(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	rep, err := s.engine.Reconcile(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	violations := rep.Violations
	if violations == nil {
		violations = []faka.Violation{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"ok":         rep.OK,
		"checked_at": timeString(rep.CheckedAt),
		"products":   newStockJSON(rep.Products),
		"ledger":     newStockJSON(rep.Ledger),
		"violations": violations,
	})
}
