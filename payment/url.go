package payment

import (
	"net"
	"net/netip"
	"net/url"
	"strings"

	"github.com/faka-dev/faka"
)

// BaseURL checks an absolute http(s) URL without user, query or fragment,
// such as the shop's public URL, and returns it without a trailing slash.
func BaseURL(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.ForceQuery ||
		u.Fragment != "" || u.User != nil {
		return "", faka.Errorf(faka.EInvalid, "%q is not an absolute http(s) URL without user, query or fragment", s)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// ProviderURL is BaseURL for where faka talks to a payment provider (an
// EPay site, an API base): https, because the merchant's key travels to it
// and its replies decide what is paid. Plain http is allowed only to a
// loopback host (tests, a local mock).
func ProviderURL(s string) (string, error) {
	base, err := BaseURL(s)
	if err != nil {
		return "", err
	}
	u, _ := url.Parse(base)
	if u.Scheme != "https" && !LoopbackHost(u.Hostname()) {
		return "", faka.Errorf(faka.EInvalid, "%q must be https: only a loopback host may be plain http", s)
	}
	return base, nil
}

// LoopbackHost reports whether host (without port) is "localhost" or a
// loopback address.
func LoopbackHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && a.Unmap().IsLoopback()
}
