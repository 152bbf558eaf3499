// Package engine is a small client for the Docker Engine HTTP API.
//
// It speaks only the endpoints cutover needs (containers, images, image
// build) over the local unix socket or plain TCP. It prefers API version
// 1.41 (Docker 20.10, the oldest engine still shipped by LTS distributions)
// and moves up only as far as an engine's minimum version requires; every
// field it sends or reads has the same meaning from 1.41 onwards.
package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PreferredAPIVersion is the API version the client speaks unless the
// engine's minimum is higher.
const PreferredAPIVersion = "1.41"

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// Options configures a Client. The zero value talks to DefaultHost.
type Options struct {
	// Host is the engine address: unix:///path/docker.sock or tcp://host:port
	// (default DefaultHost; use HostFromEnv to honour DOCKER_HOST).
	Host string
	// DialTimeout bounds connecting to the engine (default 5s). Requests
	// themselves are bounded only by their context: stopping a container
	// legitimately takes as long as its grace period.
	DialTimeout time.Duration
}

// Client calls the Docker Engine API. It is safe for concurrent use. The API
// version is negotiated on the first request that needs it and kept.
type Client struct {
	host string
	http *http.Client

	mu      sync.Mutex
	version string // negotiated, "" until known
}

// New returns a Client for opts.Host. It does no I/O; use Ping to check the
// engine is reachable.
func New(opts Options) (*Client, error) {
	if opts.Host == "" {
		opts.Host = DefaultHost
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 5 * time.Second
	}
	ep, err := parseHost(opts.Host)
	if err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: opts.DialTimeout}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, ep.network, ep.address)
		},
		MaxIdleConns:        8,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	return &Client{host: opts.Host, http: &http.Client{Transport: tr}}, nil
}

// Host returns the engine address the client talks to.
func (c *Client) Host() string { return c.host }

// Close releases idle connections. The client stays usable.
func (c *Client) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// Ping checks that the engine answers and that its API versions overlap with
// the client's; it also fixes the API version used by later calls.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.apiVersion(ctx)
	return err
}

// VersionInfo is the engine's version report.
type VersionInfo struct {
	Version       string `json:"Version"`
	APIVersion    string `json:"ApiVersion"`
	MinAPIVersion string `json:"MinAPIVersion"`
	OS            string `json:"Os"`
	Arch          string `json:"Arch"`
}

// Version returns the engine's version report.
func (c *Client) Version(ctx context.Context) (VersionInfo, error) {
	var v VersionInfo
	resp, err := c.send(ctx, "version", http.MethodGet, "/version", nil, nil, nil)
	if err != nil {
		return v, err
	}
	defer drain(resp)
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return v, fmt.Errorf("docker version: decode: %w", err)
	}
	return v, nil
}

// apiVersion returns the negotiated API version, negotiating once.
func (c *Client) apiVersion(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.version != "" {
		return c.version, nil
	}
	v, err := c.Version(ctx)
	if err != nil {
		return "", err
	}
	chosen, err := negotiate(v.MinAPIVersion, v.APIVersion)
	if err != nil {
		return "", fmt.Errorf("engine %s at %s: %w", v.Version, c.host, err)
	}
	c.version = chosen
	return chosen, nil
}

// negotiate picks PreferredAPIVersion, or the engine's minimum when that is
// higher, provided it is within the engine's range.
func negotiate(minV, maxV string) (string, error) {
	if maxV == "" {
		return "", fmt.Errorf("%w: engine reported no api version", ErrUnsupportedVersion)
	}
	if versionLess(maxV, PreferredAPIVersion) {
		return "", fmt.Errorf("%w: engine speaks up to %s, need %s or newer (docker 20.10+)", ErrUnsupportedVersion, maxV, PreferredAPIVersion)
	}
	if minV != "" && versionLess(PreferredAPIVersion, minV) {
		return minV, nil
	}
	return PreferredAPIVersion, nil
}

// versionLess compares "major.minor" API versions.
func versionLess(a, b string) bool {
	am, an := splitVersion(a)
	bm, bn := splitVersion(b)
	if am != bm {
		return am < bm
	}
	return an < bn
}

func splitVersion(v string) (int, int) {
	major, minor, _ := strings.Cut(v, ".")
	ma, _ := strconv.Atoi(major)
	mi, _ := strconv.Atoi(minor)
	return ma, mi
}

// call sends a request to a versioned API path and returns the response when
// its status is below 400. in, when not nil, is sent as JSON.
func (c *Client) call(ctx context.Context, op, method, path string, query url.Values, in any) (*http.Response, error) {
	var body io.Reader
	hdr := http.Header{}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("docker %s: encode request: %w", op, err)
		}
		body = bytes.NewReader(b)
		hdr.Set("Content-Type", "application/json")
	}
	return c.callRaw(ctx, op, method, path, query, body, hdr)
}

// callRaw is call with a caller-provided body and headers.
func (c *Client) callRaw(ctx context.Context, op, method, path string, query url.Values, body io.Reader, hdr http.Header) (*http.Response, error) {
	v, err := c.apiVersion(ctx)
	if err != nil {
		return nil, err
	}
	return c.send(ctx, op, method, "/v"+v+path, query, body, hdr)
}

// send performs one HTTP request and turns transport failures and error
// statuses into errors.
func (c *Client) send(ctx context.Context, op, method, path string, query url.Values, body io.Reader, hdr http.Header) (*http.Response, error) {
	u := "http://docker" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("docker %s: %w", op, err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("docker %s: %w", op, ctx.Err())
		}
		return nil, fmt.Errorf("docker %s: %w at %s (is the daemon running and may this user use it?): %w", op, ErrUnreachable, c.host, err)
	}
	if resp.StatusCode >= 400 {
		defer drain(resp)
		return nil, &Error{Op: op, StatusCode: resp.StatusCode, Message: readMessage(resp.Body)}
	}
	return resp, nil
}

// readMessage extracts {"message": "..."} from an error body, or its text.
func readMessage(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, maxErrorBody))
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &m) == nil && m.Message != "" {
		return m.Message
	}
	if s := strings.TrimSpace(string(b)); s != "" {
		return s
	}
	return "no error message"
}

// drain discards what is left of a response body (so the connection can be
// reused) and closes it.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	_ = resp.Body.Close()
}

// decode reads a JSON response body into out and closes it.
func decode(op string, resp *http.Response, out any) error {
	defer drain(resp)
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("docker %s: decode response: %w", op, err)
	}
	return nil
}

// filterQuery encodes engine list filters, e.g. {"label": ["a=b"]}.
func filterQuery(f map[string][]string) (string, error) {
	b, err := json.Marshal(f)
	return string(b), err
}
