package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// requestTimeout bounds every request the load generator sends.
const requestTimeout = 30 * time.Second

// endpoint is a server under test: a loopback host:port and a path prefix.
type endpoint struct {
	addr   string // host:port
	prefix string // path prefix without a trailing slash, usually ""
}

// parseEndpoint checks that raw is a plain http:// URL of this machine:
// the benchmark only ever loads the loopback interface.
func parseEndpoint(raw string) (endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, fmt.Errorf("bench: target URL: %w", err)
	}
	if u.Scheme != "http" || u.Host == "" {
		return endpoint{}, fmt.Errorf("bench: target URL %q must be http://HOST:PORT", raw)
	}
	host := u.Hostname()
	if host != "localhost" {
		a, err := netip.ParseAddr(host)
		if err != nil || !a.IsLoopback() {
			return endpoint{}, fmt.Errorf("bench: target %q is not a loopback address; the benchmark loads this machine only", host)
		}
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	return endpoint{addr: net.JoinHostPort(host, port), prefix: strings.TrimRight(u.Path, "/")}, nil
}

// header is one request header.
type header struct{ key, value string }

// conn is one simulated client's keep-alive HTTP/1.1 connection. Requests
// are written from a reused buffer and responses parsed by net/http: the
// load generator shares this machine's CPUs with the server under test, so
// it spends as little of them as it can (no goroutines per connection, no
// per-request header maps on the way out).
type conn struct {
	ep   endpoint
	nc   net.Conn
	br   *bufio.Reader
	wbuf []byte
	body []byte
}

func newConn(ep endpoint) *conn { return &conn{ep: ep} }

// close drops the connection; the next request dials a new one.
func (c *conn) close() {
	if c.nc != nil {
		c.nc.Close()
		c.nc = nil
	}
}

// do sends one request and returns the status and the body. The body is
// valid until the next call. A failed request closes the connection and is
// not retried: a retried POST could create a second order.
func (c *conn) do(method, path string, hdr []header, body []byte) (int, []byte, error) {
	if c.nc == nil {
		nc, err := net.DialTimeout("tcp", c.ep.addr, requestTimeout)
		if err != nil {
			return 0, nil, fmt.Errorf("dial %s: %w", c.ep.addr, err)
		}
		c.nc = nc
		if c.br == nil {
			c.br = bufio.NewReaderSize(nc, 8<<10)
		} else {
			c.br.Reset(nc)
		}
	}
	b := c.wbuf[:0]
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, c.ep.prefix...)
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.ep.addr...)
	b = append(b, "\r\n"...)
	for _, h := range hdr {
		b = append(b, h.key...)
		b = append(b, ": "...)
		b = append(b, h.value...)
		b = append(b, "\r\n"...)
	}
	if body != nil || method == http.MethodPost {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, body...)
	c.wbuf = b

	if err := c.nc.SetDeadline(time.Now().Add(requestTimeout)); err != nil {
		c.close()
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if _, err := c.nc.Write(b); err != nil {
		c.close()
		return 0, nil, fmt.Errorf("%s %s: write: %w", method, path, err)
	}
	res, err := http.ReadResponse(c.br, nil)
	if err != nil {
		c.close()
		return 0, nil, fmt.Errorf("%s %s: read: %w", method, path, err)
	}
	c.body, err = readBody(c.body[:0], res)
	res.Body.Close()
	if err != nil {
		c.close()
		return 0, nil, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	if res.Close {
		c.close()
	}
	return res.StatusCode, c.body, nil
}

// readBody appends the response body to buf.
func readBody(buf []byte, res *http.Response) ([]byte, error) {
	if n := res.ContentLength; n >= 0 {
		if n > 64<<20 {
			return buf, errors.New("response too large")
		}
		if int64(cap(buf)) < n {
			buf = make([]byte, 0, n)
		}
		buf = buf[:n]
		_, err := io.ReadFull(res.Body, buf)
		return buf, err
	}
	w := bytes.NewBuffer(buf)
	_, err := io.Copy(w, io.LimitReader(res.Body, 64<<20))
	return w.Bytes(), err
}
