package web

import (
	"context"
	"crypto/subtle"
	"io"
	"net/http"
	"time"

	"github.com/faka-dev/faka"
)

// metricsGuard serves /metrics to loopback clients, and to others only
// with the bearer MetricsToken: the figures (stock per product, sales
// counters) are the merchant's business. The client is the one clientIP
// sees, so a trusted proxy on the same host does not open it to the
// world.
func (s *Server) metricsGuard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.clientIP(r).IsLoopback() || s.isMetricsToken(bearer(r)) {
			h.ServeHTTP(w, r)
			return
		}
		if s.cfg.MetricsToken == "" {
			s.writeError(w, r, faka.Errorf(faka.EForbidden, "/metrics answers only loopback clients unless FAKA_METRICS_TOKEN is set"))
			return
		}
		s.unauthorized(w, r, "/metrics needs Authorization: Bearer <metrics token>")
	})
}

// isMetricsToken reports whether token is the metrics token.
func (s *Server) isMetricsToken(token string) bool {
	if s.cfg.MetricsToken == "" || token == "" {
		return false
	}
	a, b := tokenSum(token), tokenSum(s.cfg.MetricsToken)
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

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
