package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/faka-dev/faka/engine"
	"github.com/faka-dev/faka/keyring"
	"github.com/faka-dev/faka/payment"
	"github.com/faka-dev/faka/payment/sandbox"
	"github.com/faka-dev/faka/sqlite"
	"github.com/faka-dev/faka/web"
)

// Main is a running faka server: its store, engine and HTTP server.
type Main struct {
	Config Config
	Logger *slog.Logger
	Out    io.Writer // where the demo banner goes

	Store   *sqlite.Store
	Engine  *engine.Engine
	Handler *web.Server

	listener net.Listener
	server   *http.Server
}

// openEngine opens the store, the keyring and an engine over them (not
// started): what every command that touches the database needs.
func openEngine(ctx context.Context, c *Config, log *slog.Logger) (*sqlite.Store, *engine.Engine, error) {
	kr, err := keyring.LoadOrCreate(c.MasterKeyFile)
	if err != nil {
		return nil, nil, err
	}
	st, err := sqlite.Open(ctx, c.dbPath(), sqlite.Options{})
	if err != nil {
		return nil, nil, err
	}
	e, err := engine.New(engine.Config{Store: st, Keyring: kr, Logger: log})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, e, nil
}

// Open opens the store, starts the engine and listens. Addr may be
// "127.0.0.1:0" for a free port; PublicURL then follows the real one.
func (m *Main) Open(ctx context.Context) error {
	c := &m.Config
	if c.Demo {
		if c.AdminToken == "" {
			c.AdminToken = randomHex(16)
		}
		if c.SandboxSecret == "" {
			c.SandboxSecret = randomHex(16)
		}
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.Addr, err)
	}
	m.listener = ln
	if c.PublicURL == "http://"+c.Addr {
		c.PublicURL = "http://" + ln.Addr().String()
	}
	st, e, err := openEngine(ctx, c, m.Logger)
	if err != nil {
		ln.Close()
		return err
	}
	m.Store, m.Engine = st, e
	e.Start(ctx)

	gws, err := payment.NewRegistry()
	if err != nil {
		return err
	}
	if c.SandboxSecret != "" {
		sb, err := sandbox.New([]byte(c.SandboxSecret), c.PublicURL)
		if err != nil {
			return err
		}
		if err := gws.Register(sb); err != nil {
			return err
		}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	h, err := web.New(web.Config{
		Engine:         e,
		Gateways:       gws,
		AdminToken:     c.AdminToken,
		PublicURL:      c.PublicURL,
		OrderRate:      c.OrderRate,
		TrustedProxies: c.TrustedProxies,
		Logger:         m.Logger,
		Registry:       reg,
		Ready:          st.Ping,
	})
	if err != nil {
		return err
	}
	m.Handler = h
	if c.Demo {
		if err := seedDemo(ctx, e, m.Out); err != nil {
			return err
		}
	}
	m.server = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := m.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Logger.Error("http server stopped", "err", err)
		}
	}()
	m.Logger.Info("faka is serving", "url", c.PublicURL, "database", c.dbPath(),
		"sandbox", c.SandboxSecret != "", "admin_api", c.AdminToken != "")
	return nil
}

// URL is the base URL the server answers on.
func (m *Main) URL() string { return m.Config.PublicURL }

// Close stops taking requests, lets running ones finish, then stops the
// engine and closes the database.
func (m *Main) Close() error {
	var errs []error
	if m.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, m.server.Shutdown(ctx))
		cancel()
	} else if m.listener != nil {
		errs = append(errs, m.listener.Close())
	}
	if m.Engine != nil {
		m.Engine.Close()
	}
	if m.Store != nil {
		errs = append(errs, m.Store.Close())
	}
	return errors.Join(errs...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
