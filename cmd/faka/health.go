package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

const healthcheckHelp = `usage: faka healthcheck [-url URL]

Asks a running faka serve whether it is ready (GET /readyz: the database
answers) and exits 0 when it is, 1 when not: the container's HEALTHCHECK,
with no curl or wget in the image.`

// cmdHealthcheck probes the readiness endpoint of a running server, by
// default the one FAKA_ADDR names, on loopback when it listens on every
// address.
func cmdHealthcheck(ctx context.Context, out cli, args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("faka healthcheck", flag.ContinueOnError)
	target := fs.String("url", readyURL(getenv("FAKA_ADDR")), "the server's readiness URL (default from FAKA_ADDR)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s\n\nFlags:\n", healthcheckHelp)
		fs.PrintDefaults()
	}
	if wantsHelp(args) {
		fs.SetOutput(out.stdout)
		fs.Usage()
		return flag.ErrHelp
	}
	fs.SetOutput(out.stderr)
	if err := fs.Parse(args); err != nil {
		return exitError(2)
	}
	if fs.NArg() > 0 {
		return usageError("healthcheck takes no arguments, got %q", fs.Arg(0))
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *target, nil)
	if err != nil {
		return usageError("-url: %w", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %d: %s", *target, res.StatusCode, body)
	}
	fmt.Fprintf(out.stdout, "ready: %s\n", body)
	return nil
}

// readyURL is the /readyz URL of a server listening on addr (default
// 127.0.0.1:8080); an unspecified host (":8080", "0.0.0.0:8080") is
// reached on loopback.
func readyURL(addr string) string {
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr + "/readyz"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz"
}
