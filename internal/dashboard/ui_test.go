package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/store"
)

func TestPageIsServedWithItsPolicy(t *testing.T) {
	ui := New(Options{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ui/{$}", ui.ServePage)
	mux.HandleFunc("GET /ui/{file}", ui.ServePage)
	for _, tc := range []struct {
		path, ctype string
		status      int
	}{
		{"/ui/", "text/html", 200}, {"/ui/app.js", "javascript", 200}, {"/ui/style.css", "text/css", 200},
		{"/ui/report.html", "", 404}, {"/ui/nothing.js", "", 404},
	} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest("GET", tc.path, nil))
		if w.Code != tc.status || !strings.Contains(w.Header().Get("Content-Type"), tc.ctype) {
			t.Errorf("GET %s: %d %q, want %d %q", tc.path, w.Code, w.Header().Get("Content-Type"), tc.status, tc.ctype)
		}
		if tc.status == 200 && !strings.Contains(w.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("GET %s: no content security policy", tc.path)
		}
	}
}

func TestReportIsSelfContained(t *testing.T) {
	evil := `v1</script><script>alert(1)</script>`
	rep := Report{Title: "demo <run>", Generated: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Services: []ReportService{{
			Status:  deploy.ServiceStatus{Name: "web", Active: &deploy.ReleaseStatus{Version: evil}},
			History: []store.HistoryRecord{{ID: "op-1", Service: "web", Kind: store.OpDeploy, Version: evil, Outcome: store.OutcomeDeployed}},
		}},
		Samples: []Sample{{Time: time.Now(), Points: []Point{{Service: "web", Version: evil, Requests: 3}}}},
	}
	path := filepath.Join(t.TempDir(), "r.html")
	if err := WriteReportFile(path, rep); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteReport(&b, rep); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if n := strings.Count(page, "</script>"); n != 2 {
		t.Errorf("the report has %d </script> tags, want 2 (data and script): a version name ended one", n)
	}
	for _, no := range []string{"src=", "href=", "http://", "https://"} {
		if strings.Contains(page, no) {
			t.Errorf("the report refers to something outside itself (%q)", no)
		}
	}
	if !strings.Contains(page, "<title>demo &lt;run&gt;</title>") {
		t.Error("the title is not escaped")
	}
	start := strings.Index(page, `<script type="application/json" id="report-data">`)
	end := strings.Index(page[start:], "</script>")
	data := page[start+len(`<script type="application/json" id="report-data">`) : start+end]
	var back Report
	if err := json.Unmarshal([]byte(data), &back); err != nil || back.Services[0].History[0].Version != evil {
		t.Errorf("the data does not read back: %v", err)
	}
}

func TestForwarderMarksRequestsAndStreams(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "admin.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *http.Request, 1)
	upstream := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r
		w.Header().Set("Content-Type", "application/x-ndjson")
		_, _ = io.WriteString(w, "{\"n\":1}\n")
		http.NewResponseController(w).Flush()
		<-r.Context().Done() // a stream that never ends
	})}
	go upstream.Serve(ln)
	defer upstream.Close()

	fwd := httptest.NewServer(NewForwarder(func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}))
	defer fwd.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", fwd.URL+"/v1/traffic", nil)
	req.Header.Set(ForwardedHeader, "0")
	req.Header.Set("Authorization", "Bearer guessed")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line := make([]byte, 8)
	if _, err := io.ReadFull(resp.Body, line); err != nil || string(line) != "{\"n\":1}\n" {
		t.Fatalf("first line of the stream: %q, %v (the forwarder must not buffer it)", line, err)
	}
	r := <-got
	if r.Header.Get(ForwardedHeader) != "1" || r.Header.Get("Authorization") != "" {
		t.Errorf("upstream saw %s=%q, Authorization=%q; want 1 and none", ForwardedHeader, r.Header.Get(ForwardedHeader), r.Header.Get("Authorization"))
	}
	if want := strings.TrimPrefix(fwd.URL, "http://"); r.Host != want {
		t.Errorf("upstream saw Host %q, want the browser's %q", r.Host, want)
	}
}
