package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// Logs copies the output of the instance req selects to w: the last
// req.Lines lines, then, with req.Follow, what it appends until ctx is
// done or the server ends the stream. An unknown version or instance is an
// *Error matching ErrNoInstance; a runtime that cannot serve the request
// one matching ErrNotSupported.
func (c *Client) Logs(ctx context.Context, req LogsRequest, w io.Writer) error {
	q := url.Values{"lines": {strconv.Itoa(req.Lines)}}
	if req.Version != "" {
		q.Set("version", req.Version)
	}
	if req.Instance != "" {
		q.Set("instance", req.Instance)
	}
	hc := c.unary
	if req.Follow {
		q.Set("follow", "true")
		hc = c.stream
	}
	resp, err := c.send(ctx, hc, http.MethodGet, servicePath(req.Service, "logs")+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil && ctx.Err() == nil {
		return fmt.Errorf("read logs of %s: %w", req.Service, err)
	}
	return nil
}
