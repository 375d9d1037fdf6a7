package web

import (
	"errors"
	"io"
	"net/http"

	"github.com/faka-dev/faka"
)

// gatewayJSON is an enabled gateway as a buyer sees it.
type gatewayJSON struct {
	Name    string `json:"name"`
	Default bool   `json:"default"`
}

// listGateways serves GET /api/v1/gateways: to buyers, the enabled
// gateways they may name in an order; to the admin, every configurable
// gateway with its settings, secrets masked.
func (s *Server) listGateways(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if s.isAdmin(r) && s.cfg.GatewaySettings != nil {
		views, err := s.cfg.GatewaySettings.List(r.Context())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"gateways": views, "enabled": s.enabledGateways()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"gateways": s.enabledGateways()})
}

func (s *Server) enabledGateways() []gatewayJSON {
	def := ""
	if g, ok := s.gateways.Default(); ok {
		def = g.Name()
	}
	out := []gatewayJSON{}
	for _, name := range s.gateways.Names() {
		out = append(out, gatewayJSON{Name: name, Default: name == def})
	}
	return out
}

// putGateway serves PUT /api/v1/gateways/{name}: the gateway's fields and
// "enabled"; the change takes effect at once.
func (s *Server) putGateway(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if s.cfg.GatewaySettings == nil {
		s.writeError(w, r, faka.Errorf(faka.ENotFound, "gateways are not configurable on this server"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBytes))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			err = faka.Errorf(faka.ETooLarge, "the body is larger than %d bytes", maxJSONBytes)
		} else {
			err = faka.Errorf(faka.EBadRequest, "the body could not be read: %w", err)
		}
		s.writeError(w, r, err)
		return
	}
	v, err := s.cfg.GatewaySettings.Put(r.Context(), r.PathValue("name"), body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.log.Info("web: gateway configured", "gateway", v.Name, "enabled", v.Enabled)
	writeJSON(w, http.StatusOK, v)
}
