package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/faka-dev/faka/engine"
	"github.com/faka-dev/faka/keyring"
	"github.com/faka-dev/faka/payment"
	"github.com/faka-dev/faka/payment/sandbox"
	"github.com/faka-dev/faka/poller"
)

// DefaultPollInterval is how often `faka serve` asks the gateways about
// orders whose notification has not come, when FAKA_POLL_INTERVAL is
// unset.
const DefaultPollInterval = 30 * time.Second

// pollFlag registers -poll-interval (FAKA_POLL_INTERVAL) on fs and
// returns a func that reads it once fs is parsed.
func pollFlag(fs *flag.FlagSet, getenv func(string) string) func() (time.Duration, error) {
	def := getenv("FAKA_POLL_INTERVAL")
	if def == "" {
		def = DefaultPollInterval.String()
	}
	var s string
	fs.StringVar(&s, "poll-interval", def, "how often gateways are asked about orders whose notification has not come, e.g. 30s; 0 = never (FAKA_POLL_INTERVAL)")
	return func() (time.Duration, error) {
		s = strings.TrimSpace(s)
		if s == "0" {
			return 0, nil
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 || (d > 0 && d < time.Second) {
			return 0, fmt.Errorf("FAKA_POLL_INTERVAL / -poll-interval must be a duration of at least 1s (e.g. 30s), or 0 for never; got %q", s)
		}
		return d, nil
	}
}

// startPoller starts the payment poller (package poller) when
// m.PollInterval is set: it asks the gateways enabled in gws about orders
// whose notification has not come, confirms what they report through the
// engine, and closes the trades of orders that ended unpaid. Close stops
// it.
func (m *Main) startPoller(st store, e *engine.Engine, gws *payment.Registry) error {
	if m.PollInterval <= 0 {
		return nil
	}
	ps, ok := st.(poller.Store)
	if !ok {
		m.Logger.Warn("this store keeps no payment checks; lost notifications are not polled for")
		return nil
	}
	p, err := poller.New(e.ConfirmPayment, ps, gws, m.Logger, poller.Options{Interval: m.PollInterval})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx)
	}()
	m.stopPoller = func() {
		cancel()
		<-done
	}
	return nil
}

// auditGateways is `faka reconcile -gateways`: it asks the gateways
// enabled in the database (and the sandbox, when configured) about the
// orders created within since, prints where they disagree with the shop,
// and reports whether they all agree.
func auditGateways(ctx context.Context, c *Config, st store, e *engine.Engine, kr *keyring.Keyring, log *slog.Logger, since time.Duration, out io.Writer) (bool, error) {
	ps, ok := st.(poller.Store)
	if !ok {
		return false, fmt.Errorf("this store cannot list orders for a gateway audit")
	}
	gws, err := payment.NewRegistry()
	if err != nil {
		return false, err
	}
	if c.SandboxSecret != "" {
		sb, err := sandbox.New([]byte(c.SandboxSecret), c.PublicURL)
		if err != nil {
			return false, err
		}
		if err := gws.Register(sb); err != nil {
			return false, err
		}
	}
	// The same gateways `faka serve` enables, from the same settings.
	m := &Main{Config: *c, Logger: log}
	if _, err := m.openGatewaySettings(ctx, st, kr, gws); err != nil {
		return false, err
	}
	if m.stopReload != nil {
		m.stopReload()
	}
	p, err := poller.New(e.ConfirmPayment, ps, gws, log, poller.Options{})
	if err != nil {
		return false, err
	}
	rep, err := p.Audit(ctx, since)
	if err != nil {
		return false, err
	}
	printAudit(out, rep)
	return rep.OK(), nil
}

// printAudit writes a gateway audit: a line per mismatch, per order that
// could not be checked, per gateway that cannot be asked, then a verdict.
func printAudit(out io.Writer, rep *poller.AuditReport) {
	for _, m := range rep.Mismatches {
		why := "the gateway says paid; this shop has not applied the payment"
		switch m.Kind {
		case poller.UnpaidAtGateway:
			why = "paid here; the gateway says unpaid or does not know the trade"
		case poller.OtherGateway:
			why = "paid through another gateway than the order's (applied; check it)"
		}
		fmt.Fprintf(out, "MISMATCH %s order=%s gateway=%s status=%s trade=%s amount=%d %s: %s\n",
			m.Kind, m.OrderNo, m.Gateway, m.Status, m.TradeNo, m.Amount, m.Currency, why)
	}
	for _, f := range rep.Failed {
		fmt.Fprintf(out, "UNVERIFIED order=%s gateway=%s: %v\n", f.OrderNo, f.Gateway, f.Err)
	}
	names := make([]string, 0, len(rep.Unchecked))
	for name := range rep.Unchecked {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(out, "unchecked: %d orders of gateway %s (not enabled, or it cannot be asked about an order)\n",
			rep.Unchecked[name], name)
	}
	since := rep.Since.UTC().Format("2006-01-02 15:04:05Z")
	if rep.OK() {
		fmt.Fprintf(out, "gateways ok: %d orders created since %s agree with their gateway (%d pending ones too young to ask)\n",
			rep.Checked, since, rep.Young)
		return
	}
	fmt.Fprintf(out, "gateways FAILED: %d mismatches, %d orders unverified (orders created since %s; %d agree)\n",
		len(rep.Mismatches), len(rep.Failed), since, rep.Checked-len(rep.Mismatches))
}
