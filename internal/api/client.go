package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/store"
)

// Client timeouts.
const (
	// DialTimeout bounds connecting to the admin API.
	DialTimeout = 5 * time.Second
	// RequestTimeout bounds a whole request other than an event stream.
	RequestTimeout = 60 * time.Second
)

// Client calls the admin API. It is safe for concurrent use.
type Client struct {
	addr   string // as given, for messages
	base   string // URL prefix, e.g. "http://cutover"
	token  string
	unary  *http.Client
	stream *http.Client
}

// NewClient returns a client of the admin API at addr: "unix:///path/to/admin.sock"
// (or a plain path containing a slash), or "http://host:port" / "https://host:port".
// token, if not empty, is sent as a bearer token (required on TCP).
// Connecting times out after DialTimeout; calls other than Events time out
// after RequestTimeout.
func NewClient(addr, token string) (*Client, error) {
	return NewClientWithOptions(addr, ClientOptions{Token: token})
}

// ClientOptions configures NewClientWithOptions.
type ClientOptions struct {
	// Token, if not empty, is sent as a bearer token (required on TCP).
	Token string
	// CAFile, if set, is a PEM file of the certificate authorities that an
	// https:// admin address is verified against instead of the system's
	// (for a self-signed admin.tls.cert, the certificate itself).
	CAFile string
}

// NewClientWithOptions is NewClient with a CA file for https:// addresses.
func NewClientWithOptions(addr string, opts ClientOptions) (*Client, error) {
	token := opts.Token
	base, dial, err := parseAddr(addr)
	if err != nil {
		return nil, err
	}
	var tc *tls.Config
	if opts.CAFile != "" {
		pem, err := os.ReadFile(opts.CAFile)
		if err != nil {
			return nil, fmt.Errorf("admin ca file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: admin ca file %s holds no PEM certificate", ErrBadAddress, opts.CAFile)
		}
		tc = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	}
	tr := &http.Transport{
		TLSClientConfig:       tc,
		Proxy:                 nil,
		DialContext:           dial,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       30 * time.Second,
		TLSHandshakeTimeout:   DialTimeout,
		ResponseHeaderTimeout: RequestTimeout,
	}
	return &Client{
		addr:   addr,
		base:   base,
		token:  token,
		unary:  &http.Client{Transport: tr, Timeout: RequestTimeout},
		stream: &http.Client{Transport: tr},
	}, nil
}

// Close releases the client's idle connections. The client stays usable.
func (c *Client) Close() {
	c.unary.CloseIdleConnections()
}

// Addr returns the address the client was created with.
func (c *Client) Addr() string { return c.addr }

type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// parseAddr returns the URL prefix and dialer for an admin address.
func parseAddr(addr string) (string, dialFunc, error) {
	d := &net.Dialer{Timeout: DialTimeout}
	unix := func(path string) (string, dialFunc, error) {
		if path == "" {
			return "", nil, fmt.Errorf("%w %q: the unix socket path is empty", ErrBadAddress, addr)
		}
		return "http://cutover", func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		}, nil
	}
	if path, ok := strings.CutPrefix(addr, "unix://"); ok {
		return unix(path)
	}
	if strings.HasPrefix(addr, "/") || strings.HasPrefix(addr, "./") {
		return unix(addr)
	}
	u, err := url.Parse(addr)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return "", nil, fmt.Errorf("%w %q: use unix:///path/to/admin.sock or http://host:port", ErrBadAddress, addr)
	}
	return u.Scheme + "://" + u.Host, d.DialContext, nil
}

// Health checks that the server answers.
func (c *Client) Health(ctx context.Context) error {
	var out healthResponse
	return c.do(ctx, http.MethodGet, "/v1/health", nil, &out)
}

// Deploy starts a deploy and returns its operation id.
func (c *Client) Deploy(ctx context.Context, req deploy.DeployRequest) (string, error) {
	var out opResponse
	body := deployBody{Version: req.Version, Strategy: req.Strategy, Targets: req.Targets, Force: req.Force,
		Watch: req.Watch, AllowLost: req.AllowLost, Batch: req.Batch, Allow: req.Allow}
	err := c.do(ctx, http.MethodPost, servicePath(req.Service, "deploy"), body, &out)
	return out.OpID, err
}

// Rollback starts a rollback and returns its operation id.
func (c *Client) Rollback(ctx context.Context, req deploy.RollbackRequest) (string, error) {
	var out opResponse
	err := c.do(ctx, http.MethodPost, servicePath(req.Service, "rollback"), rollbackBody{To: req.To, Force: req.Force}, &out)
	return out.OpID, err
}

// Promote finishes the service's canary or standby window now.
func (c *Client) Promote(ctx context.Context, service string) error {
	return c.do(ctx, http.MethodPost, servicePath(service, "promote"), nil, nil)
}

// Abort stops the service's operation in progress.
func (c *Client) Abort(ctx context.Context, service string) error {
	return c.do(ctx, http.MethodPost, servicePath(service, "abort"), nil, nil)
}

// Pause holds the service's canary at its current weight.
func (c *Client) Pause(ctx context.Context, service string) error {
	return c.do(ctx, http.MethodPost, servicePath(service, "pause"), nil, nil)
}

// Resume continues a paused canary.
func (c *Client) Resume(ctx context.Context, service string) error {
	return c.do(ctx, http.MethodPost, servicePath(service, "resume"), nil, nil)
}

// SetWeight sets the canary's traffic percentage.
func (c *Client) SetWeight(ctx context.Context, service string, percent float64) error {
	return c.do(ctx, http.MethodPost, servicePath(service, "weight"), weightBody{Percent: &percent}, nil)
}

// Status returns one service's status.
func (c *Client) Status(ctx context.Context, service string) (deploy.ServiceStatus, error) {
	var out deploy.ServiceStatus
	err := c.do(ctx, http.MethodGet, servicePath(service, ""), nil, &out)
	return out, err
}

// StatusAll returns every service's status.
func (c *Client) StatusAll(ctx context.Context) ([]deploy.ServiceStatus, error) {
	var out servicesResponse
	err := c.do(ctx, http.MethodGet, "/v1/services", nil, &out)
	return out.Services, err
}

// History returns up to limit newest finished operations, newest first
// (limit ≤ 0: all).
func (c *Client) History(ctx context.Context, service string, limit int) ([]store.HistoryRecord, error) {
	var out historyResponse
	p := servicePath(service, "history")
	if limit > 0 {
		p += "?limit=" + strconv.Itoa(limit)
	}
	err := c.do(ctx, http.MethodGet, p, nil, &out)
	return out.Records, err
}

// Reload asks the server to re-read its config file and returns what
// changed. An invalid file yields an *Error with code "invalid_config" whose
// Details list the problems; a file that drops a live service one with code
// "live_removal", unless opts.AllowRemove.
func (c *Client) Reload(ctx context.Context, opts deploy.ReloadOptions) (config.Changes, error) {
	var out struct {
		Changes config.Changes `json:"changes"`
	}
	var body any
	if opts.AllowRemove {
		body = map[string]bool{"allow_remove": true}
	}
	err := c.do(ctx, http.MethodPost, "/v1/reload", body, &out)
	return out.Changes, err
}

// Config returns the config the server runs with.
func (c *Client) Config(ctx context.Context) (*config.Config, error) {
	var out config.Config
	if err := c.do(ctx, http.MethodGet, "/v1/config", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// servicePath returns /v1/services/{name}[/action].
func servicePath(service, action string) string {
	p := "/v1/services/" + url.PathEscape(service)
	if action != "" {
		p += "/" + action
	}
	return p
}

// do sends one request with a JSON body (nil = none) and decodes a JSON
// response into out (nil = discard).
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.send(ctx, c.unary, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("read response of %s %s: %w", method, path, err)
	}
	return nil
}

// send sends a request and returns a 2xx response, or an *Error for any
// other status, or an error wrapping ErrUnreachable when the server cannot
// be reached.
func (c *Client) send(ctx context.Context, hc *http.Client, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, readError(resp)
	}
	return resp, nil
}

// transportError classifies a failed round trip: a dial failure wraps
// ErrUnreachable; a cancelled ctx is returned as ctx.Err().
func (c *Client) transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if oe, ok := errors.AsType[*net.OpError](err); ok && oe.Op == "dial" {
		if oe.Net == "unix" && errors.Is(oe.Err, fs.ErrPermission) {
			if ua, ok := oe.Addr.(*net.UnixAddr); ok {
				return permissionError(ua.Name, oe.Err)
			}
		}
		return fmt.Errorf("%w at %s: %w", ErrUnreachable, c.addr, oe.Err)
	}
	return fmt.Errorf("admin api at %s: %w", c.addr, err)
}

// readError decodes an error response; a body that is not one becomes an
// *Error with the status text.
func readError(resp *http.Response) error {
	var body errorBody
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if json.Unmarshal(data, &body) != nil || body.Error == nil || body.Error.Code == "" {
		msg := strings.TrimSpace(string(data))
		if msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		return &Error{Status: resp.StatusCode, Code: CodeInternal, Message: msg}
	}
	body.Error.Status = resp.StatusCode
	return body.Error
}
