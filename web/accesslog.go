package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"
)

// RequestIDHeader carries a request's id in the response (and, from a
// proxy that sets one, in the request): the same id is in the access log.
const RequestIDHeader = "X-Request-Id"

// startAccess gives the request an id, sets it on the response, and
// returns the writer to serve through and a func that logs the access
// line once the request is served. The line holds the method, the route
// pattern (never the path's values or the query string, which may hold an
// order token), the status, the duration and the id; never a header or a
// body.
func (s *Server) startAccess(w http.ResponseWriter, r *http.Request) (http.ResponseWriter, func()) {
	id := requestID(r.Header.Get(RequestIDHeader))
	w.Header().Set(RequestIDHeader, id)
	if !s.log.Enabled(r.Context(), slog.LevelInfo) {
		return w, func() {}
	}
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	return sw, func() {
		route := r.Pattern
		if route == "" {
			_, route = s.mux.Handler(r) // refused before the mux (cross-origin)
		}
		if route == "" {
			route = "unmatched"
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK // nothing written: net/http sends 200
		}
		s.log.LogAttrs(context.WithoutCancel(r.Context()), slog.LevelInfo, "http",
			slog.String("method", r.Method), slog.String("route", route), slog.Int("status", status),
			slog.Duration("duration", time.Since(start)), slog.Int64("bytes", sw.bytes),
			slog.String("request_id", id))
	}
}

// requestID keeps a proxy's id when it is short and plain (so that it can
// neither forge log lines nor grow them), else makes one.
func requestID(given string) string {
	if n := len(given); n >= 8 && n <= 64 {
		ok := true
		for i := range n {
			c := given[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
				ok = false
				break
			}
		}
		if ok {
			return given
		}
	}
	b := make([]byte, 8)
	rand.Read(b) // never fails
	return hex.EncodeToString(b)
}

// statusWriter records the status and the size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer
// (flushes, deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
