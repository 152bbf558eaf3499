package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// workload is one kind of speed run: the request wrk sends, how many
// connections it keeps, and whether idle keep-alive connections are held
// open beside it.
type workload struct {
	Key   string
	Label string
	Conns int
	// Size is the response body size (the backend's /size/N); 0: 100 B.
	Size int
	// PostSize, if set, makes every request a POST with a body this long.
	PostSize int
	// NewConn sends "Connection: close": a new connection per request.
	NewConn bool
	// Idle is the number of idle keep-alive connections held open to the
	// proxy during the run (each has sent one request).
	Idle int
}

// workloads are the known speed runs, in report order.
var workloads = []workload{
	{Key: "c1", Label: "100 B responses, 1 connection", Conns: 1},
	{Key: "c64", Label: "100 B responses, 64 connections", Conns: 64},
	{Key: "c256", Label: "100 B responses, 256 connections", Conns: 256},
	{Key: "newconn", Label: "100 B responses, 64 clients, a new connection per request", Conns: 64, NewConn: true},
	{Key: "16k", Label: "16 KB responses, 64 connections", Conns: 64, Size: 16 << 10},
	{Key: "1m", Label: "1 MB responses, 64 connections", Conns: 64, Size: 1 << 20},
	{Key: "post16k", Label: "16 KB POST bodies (100 B responses), 64 connections", Conns: 64, PostSize: 16 << 10},
	{Key: "idle10k", Label: "100 B responses, 64 connections, while 10,000 idle keep-alive connections are held", Conns: 64, Idle: 10_000},
}

// defaultWorkloads is the -workloads default.
const defaultWorkloads = "c1,c64,c256,newconn,16k,1m,post16k,idle10k"

func findWorkload(key string) (workload, bool) {
	for _, w := range workloads {
		if w.Key == key {
			return w, true
		}
	}
	return workload{}, false
}

// parseWorkloads parses a comma-separated list of workload keys.
func parseWorkloads(spec string) ([]workload, error) {
	var out []workload
	for _, f := range strings.Split(spec, ",") {
		k := strings.TrimSpace(f)
		w, ok := findWorkload(k)
		if !ok {
			keys := make([]string, len(workloads))
			for i, w := range workloads {
				keys[i] = w.Key
			}
			return nil, fmt.Errorf("%w: -workloads: unknown %q (known: %s)", ErrBadFlags, k, strings.Join(keys, ", "))
		}
		out = append(out, w)
	}
	return out, nil
}

// runKey is the workload of a run; runs recorded before workloads existed
// are "c<conns>".
func runKey(r speedRun) string {
	if r.Workload != "" {
		return r.Workload
	}
	return "c" + strconv.Itoa(r.Conns)
}

// path is the request path of w.
func (w workload) path() string {
	if w.Size > 0 {
		return "size/" + strconv.Itoa(w.Size)
	}
	return ""
}

// script writes the wrk script of w (the report script, with the request
// settings before it) into dir and returns its path.
func (w workload) script(dir, report string) (string, error) {
	if w.PostSize == 0 && !w.NewConn {
		return report, nil
	}
	base, err := os.ReadFile(report)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if w.PostSize > 0 {
		fmt.Fprintf(&b, "wrk.method = \"POST\"\nwrk.body = string.rep(\"x\", %d)\nwrk.headers[\"Content-Type\"] = \"application/octet-stream\"\n", w.PostSize)
	}
	if w.NewConn {
		b.WriteString("wrk.headers[\"Connection\"] = \"close\"\n")
	}
	b.Write(base)
	p := dir + "/wrk-" + w.Key + ".lua"
	return p, os.WriteFile(p, []byte(b.String()), 0o644)
}

// holdIdle opens n keep-alive connections to addr, sends one request on
// each and reads its response, and returns them open. Connections that
// fail are counted, not fatal: the run notes how many were held.
func holdIdle(ctx context.Context, addr string, n int) ([]net.Conn, error) {
	conns := make([]net.Conn, 0, n)
	req := []byte("GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
	var d net.Dialer
	for range n {
		if ctx.Err() != nil {
			break
		}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			closeAll(conns)
			return nil, fmt.Errorf("idle connection %d: %w", len(conns)+1, err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(req); err != nil {
			c.Close()
			closeAll(conns)
			return nil, fmt.Errorf("idle connection %d: %w", len(conns)+1, err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if err != nil {
			c.Close()
			closeAll(conns)
			return nil, fmt.Errorf("idle connection %d: %w", len(conns)+1, err)
		}
		_ = c.SetDeadline(time.Time{})
		conns = append(conns, c)
	}
	return conns, nil
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		c.Close()
	}
}

func workloadKeys(ws []workload) []string {
	keys := make([]string, len(ws))
	for i, w := range ws {
		keys[i] = w.Key
	}
	return keys
}
