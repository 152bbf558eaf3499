package proxy

import (
	"bufio"
	"flag"
	"github.com/cutover-dev/cutover/internal/testutil"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

// goldenLogger returns a logger of the given format ("text" or "json")
// whose records are stable: no time, fixed request id, durations checked
// and fixed, the backend's address replaced by BACKEND.
func goldenLogger(t *testing.T, w *testutil.SyncBuffer, format, backend string) *slog.Logger {
	replace := func(_ []string, a slog.Attr) slog.Attr {
		switch a.Key {
		case slog.TimeKey:
			return slog.Attr{}
		case "request_id":
			if id := a.Value.String(); id == "" {
				return a // not yet assigned (413 before forwarding)
			} else if len(id) != 32 {
				t.Errorf("request_id %q", a.Value)
			}
			return slog.String(a.Key, "ID")
		case "duration_s", "upstream_s":
			if a.Value.Kind() != slog.KindFloat64 || a.Value.Float64() < 0 || a.Value.Float64() > 10 {
				t.Errorf("%s = %v, want seconds as a float", a.Key, a.Value)
			}
			if a.Key == "upstream_s" && a.Value.Float64() == 0 {
				return slog.Float64(a.Key, 0)
			}
			return slog.Float64(a.Key, 0.25)
		case "upstream":
			return slog.String(a.Key, strings.ReplaceAll(a.Value.String(), backend, "BACKEND"))
		}
		return a
	}
	opts := &slog.HandlerOptions{ReplaceAttr: replace}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs:\n--- got\n%s--- want\n%s", name, got, want)
	}
}

func TestAccessLogGolden(t *testing.T) {
	be := nameBackend(t, "be")
	dead := deadAddr(t)
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var buf testutil.SyncBuffer
			log := goldenLogger(t, &buf, format, addrOf(be))
			p := newTestProxy(t, Options{Logger: log, AccessLog: true})
			err := p.Apply([]ServiceSpec{
				oneSet("web", "v7", TargetSpec{ID: "b1", Addr: addrOf(be)}),
				{Name: "down", Hosts: []string{"down"}, Active: Set{Version: "v1", Targets: []TargetSpec{{ID: "d1", Addr: dead}}}},
				{Name: "small", Hosts: []string{"small"}, MaxBodyBytes: 4,
					Active: Set{Version: "v1", Targets: []TargetSpec{{ID: "s1", Addr: addrOf(be)}}}},
			})
			if err != nil {
				t.Fatal(err)
			}
			req := func(method, target string, body string, hdr map[string]string) {
				r := httptest.NewRequest(method, target, strings.NewReader(body))
				r.RemoteAddr = "192.0.2.7:4321"
				for k, v := range hdr {
					r.Header.Set(k, v)
				}
				p.ServeHTTP(httptest.NewRecorder(), r)
			}
			req("GET", "http://x/hello?a=1&b=two", "", map[string]string{"User-Agent": "curl/8.5", "Referer": "https://example.com/"})
			req("GET", "http://down/", "", nil)
			req("POST", "http://small/upload", "too large", nil)
			var out strings.Builder
			for line := range strings.Lines(strings.ReplaceAll(buf.String(), dead, "DEAD")) {
				if strings.Contains(line, "msg=request ") || strings.Contains(line, `"msg":"request"`) {
					out.WriteString(line)
				}
			}
			checkGolden(t, "accesslog_"+format+".golden", out.String())
		})
	}
}

func TestListenerRejectionsAreLogged(t *testing.T) {
	var buf testutil.SyncBuffer
	p := newTestProxy(t, Options{Logger: slog.New(slog.NewJSONHandler(&buf, nil)), AccessLog: true})
	_, base := startServer(t, p, ServerOptions{MaxHeaderBytes: 1 << 10, OnRejected: p.LogRejected})
	addr := strings.TrimPrefix(base, "http://")
	for _, tc := range []struct {
		req    string
		status string
		log    string
	}{
		{"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n", "431",
			`"no_upstream":"rejected by the listener: Request Header Fields Too Large","status":431`},
		{"GET / HTTP/1.1\r\nHost x\r\n\r\n", "400", `"no_upstream":"rejected by the listener: Bad Request","status":400`},
	} {
		buf.Reset()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte(tc.req)); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil || !strings.HasPrefix(line, "HTTP/1.1 "+tc.status) {
			t.Fatalf("answer %q, %v; want %s", line, err, tc.status)
		}
		// The record is written before the answer, so it is there now.
		if got := buf.String(); !strings.Contains(got, tc.log) || !strings.Contains(got, `"client":"127.0.0.1:`) {
			t.Errorf("%s: log %q lacks %s", tc.status, got, tc.log)
		}
	}
	// A handler's own 400 is not taken for the listener's.
	if _, _, ok := parseListenerError([]byte("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nDate: x\r\n\r\n")); ok {
		t.Error("a handler response was taken for a listener rejection")
	}
}
