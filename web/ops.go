package web

import (
	"context"
	"io"
	"net/http"
	"time"
)

// healthz serves GET /healthz: the process is alive.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok")
}

// readyz serves GET /readyz: 200 when Ready says the server can take
// traffic, else 503 with what is wrong.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if s.cfg.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := s.cfg.Ready(ctx); err != nil {
			s.log.Warn("web: not ready", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{
				"status": "unavailable",
				"error":  errorDetail{Code: "unavailable", Message: err.Error()},
			})
			return
		}
	}
	body := map[string]any{"status": "ready"}
	if s.cfg.ReadyDetail != nil {
		for k, v := range s.cfg.ReadyDetail() {
			body[k] = v
		}
	}
	writeJSON(w, http.StatusOK, body)
}
