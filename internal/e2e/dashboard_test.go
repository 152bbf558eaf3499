package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cutover-dev/cutover/internal/store"
	"github.com/cutover-dev/cutover/internal/testutil"
)

// browserTimeout bounds one test's use of the browser.
const browserTimeout = 2 * time.Minute

// chromiumPath finds Debian's chromium. Without it the test fails under
// CI=true and is skipped elsewhere.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (apt-get install chromium); the dashboard tests need a real browser")
	}
	t.Skip("chromium is not installed (apt-get install chromium)")
	return ""
}

// artifactDir is where screenshots of failed browser tests go:
// $CUTOVER_ARTIFACTS, else cutover-artifacts in the temp dir. It is kept.
func artifactDir(t *testing.T) string {
	dir := os.Getenv("CUTOVER_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "cutover-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser is one headless chromium with one tab.
type browser struct {
	t   *testing.T
	ctx context.Context
}

// newBrowser starts chromium; when the test fails it saves a screenshot
// of the tab into artifactDir.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.WindowSize(1400, 1000),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	// The first run starts the browser; it lives as long as ctx, which
	// has no deadline of its own (each action gets one instead).
	if err := chromedp.Do(ctx); err != nil {
		cancelTab()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	b := &browser{t: t, ctx: ctx}
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	t.Cleanup(func() {
		if !t.Failed() && os.Getenv("CUTOVER_SCREENSHOTS") != "all" {
			return
		}
		b.screenshot(strings.ReplaceAll(t.Name(), "/", "_"))
	})
	return b
}

// screenshot saves the whole page as name.png in artifactDir.
func (b *browser) screenshot(name string) {
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot: %v", err)
		return
	}
	path := filepath.Join(artifactDir(b.t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Logf("screenshot: %v", err)
		return
	}
	b.t.Logf("screenshot of the page: %s", path)
}

// run runs browser actions (within browserTimeout), failing the test on error.
func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %s: %v", what, err)
	}
}

// text returns the text of the first element that matches the CSS selector.
func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("browser: text of %s: %v", sel, err)
	}
	return s
}

// waitJS waits until the JavaScript expression is truthy (polled on each
// animation frame by the page itself).
func (b *browser) waitJS(what, expr string, timeout time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout+5*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(timeout))); err != nil {
		body, _ := evalJS[string](b, `document.body.innerText.slice(0, 3000)`)
		b.t.Fatalf("browser: waiting for %s: %v\npage text:\n%s", what, err, body)
	}
}

// evalJS evaluates a JavaScript expression (awaiting a promise) into a T.
func evalJS[T any](b *browser, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, browserTimeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// mustEval is evalJS failing the test on error.
func mustEval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := evalJS[T](b, expr)
	if err != nil {
		b.t.Fatalf("browser: evaluate %s: %v", expr, err)
	}
	return v
}

// dashboardLink runs `cutover dashboard -o json` against e's socket and
// returns the login URL and forwarder address it prints; the command
// keeps forwarding until the test ends.
func (e *env) dashboardLink() (url, listen string) {
	e.t.Helper()
	cmd := exec.Command(bin, "dashboard", "-o", "json")
	cmd.Env = append(os.Environ(), "CUTOVER_ADMIN=unix://"+e.sock)
	out, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	var stderr testutil.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	e.t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			e.t.Errorf("cutover dashboard did not stop on SIGTERM")
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		e.t.Fatalf("cutover dashboard printed no link: %v\n%s", err, &stderr)
	}
	go io.Copy(io.Discard, out)
	var link struct {
		URL    string `json:"url"`
		Listen string `json:"listen"`
	}
	if err := json.Unmarshal([]byte(line), &link); err != nil || link.URL == "" || link.Listen == "" {
		e.t.Fatalf("cutover dashboard -o json printed %q (%v)", line, err)
	}
	return link.URL, link.Listen
}

// postLoad sends POST requests through the proxy (a transport that never
// retries them) until stop is called, and returns the count of requests
// and of failures.
func postLoad(t *testing.T, addr string) (stop func() (requests, failed int64)) {
	ctx, cancel := context.WithCancel(context.Background())
	var n, failed atomic.Int64
	var errs sync.Map
	var wg sync.WaitGroup
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 10 * time.Second}
	for range 2 {
		wg.Go(func() {
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for i := 0; i < 6000; i++ { // bounded: at most 2 min
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				resp, err := c.Post("http://"+addr+"/which", "text/plain", strings.NewReader("dashboard"))
				n.Add(1)
				if err != nil {
					failed.Add(1)
					errs.Store(err.Error(), true)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					errs.Store(resp.Status, true)
				}
			}
		})
	}
	return func() (int64, int64) {
		cancel()
		wg.Wait()
		errs.Range(func(k, _ any) bool { t.Logf("load error: %v", k); return true })
		return n.Load(), failed.Load()
	}
}

// TestDashboardDeployAndRollback drives the page in a real browser: it
// loads through `cutover dashboard`, follows a deploy live (progress, then
// the crossover of requests from v1 to v2 in the chart), rolls back with
// the page's button and sees the result; the forwarder refuses requests
// without the session.
func TestDashboardDeployAndRollback(t *testing.T) {
	e := newEnv(t, "")
	e.start()
	e.mustCLI("deploy", "shop", "v1")
	stopLoad := postLoad(t, e.http)
	defer stopLoad()

	url, listen := e.dashboardLink()
	for _, path := range []string{"/ui/", "/v1/services", "/v1/traffic", "/ui/session"} {
		resp, err := http.Get("http://" + listen + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("forwarder without a session: GET %s: status %d, want 401", path, resp.StatusCode)
		}
	}

	b := newBrowser(t)
	b.run("open the login link", chromedp.Navigate(url))
	b.waitJS("the page with v1 live", `document.querySelector('#svc-shop .rel.live[data-version="v1"]') !== null`, 20*time.Second)
	b.waitJS("v1's traffic in the chart",
		`cutoverDashboard.state.samples.filter(s => s.pts.shop && s.pts.shop.v1).length >= 3`, 30*time.Second)

	// A slow-starting v2, so that the deploy's progress is on the page for a while.
	e.flags("v2", "--start-delay 2s")
	deployed := make(chan result, 1)
	go func() { deployed <- e.cli("deploy", "shop", "v2") }()
	b.waitJS("the deploy's progress", `(() => { const op = document.querySelector('#svc-shop .op');
		return op !== null && op.textContent.includes('deploy v2') && op.querySelectorAll('li').length > 0; })()`, 20*time.Second)
	if r := <-deployed; r.code != 0 {
		t.Fatalf("deploy v2: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	b.waitJS("v2 live and v1 on standby", `document.querySelector('#svc-shop .rel.live[data-version="v2"]') !== null &&
		document.querySelector('#svc-shop .rel.standby[data-version="v1"]') !== null`, 20*time.Second)
	b.waitJS("the crossover v1 → v2 in the chart",
		`document.querySelector('#svc-shop .crossovers').textContent.includes('v1 → v2')`, 30*time.Second)
	b.waitJS("the deploy in the history", `document.querySelector('#svc-shop tr.rec[data-kind="deploy"][data-version="v2"][data-outcome="deployed"]') !== null`, 20*time.Second)

	b.run("click roll back", chromedp.Click(chromedp.CSS(`#svc-shop button[data-action="rollback"]:not([disabled])`)))
	b.waitJS("the confirmation", `document.getElementById('confirm').open`, 5*time.Second)
	question := b.text(`#confirm-text`)
	if !strings.Contains(question, "Roll back shop from v2 to v1") {
		t.Errorf("confirmation says %q, want it to name the service and both versions", question)
	}
	b.run("confirm", chromedp.Click(chromedp.CSS(`#confirm-ok`)))
	b.waitJS("v1 live again", `document.querySelector('#svc-shop .rel.live[data-version="v1"]') !== null`, 30*time.Second)
	b.waitJS("the rollback in the history", `document.querySelector('#svc-shop tr.rec[data-kind="rollback"][data-version="v1"][data-outcome="deployed"]') !== null`, 30*time.Second)
	b.waitJS("the crossover v2 → v1 in the chart",
		`document.querySelector('#svc-shop .crossovers').textContent.includes('v2 → v1')`, 30*time.Second)
	if v := e.version(); v != "v1" {
		t.Errorf("the proxy serves %s after the rollback from the page, want v1", v)
	}
	msg := b.text(`#svc-shop .msg`)
	if !strings.Contains(msg, "rollback: started") {
		t.Errorf("the page says %q after the rollback, want it to say it started", msg)
	}
	if n, failed := stopLoad(); failed > 0 || n == 0 {
		t.Errorf("load through the deploy and the rollback: %d of %d requests failed", failed, n)
	} else {
		t.Logf("load: %d requests through the deploy and the rollback, none failed", n)
	}
	e.stop()
}

// TestDashboardOnTCPNeedsLogin: on the TCP admin listener the page, the
// API and the streams refuse a request without the token or a session; a
// one-time code gives the browser a session; a session's action without
// the CSRF token is refused.
func TestDashboardOnTCPNeedsLogin(t *testing.T) {
	port := testutil.FreePort(t)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(e2eToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "")
	cfg, _ := os.ReadFile(e.cfg)
	cfg = []byte(strings.Replace(string(cfg), "admin:\n", fmt.Sprintf("admin:\n  tcp: \"127.0.0.1:%d\"\n  token_file: %q\n", port, tokenFile), 1))
	if err := os.WriteFile(e.cfg, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	e.start()
	e.mustCLI("deploy", "shop", "v1")
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	// Each request comes from an address of its own in 127.0.0.0/8, so
	// that the refusals are not turned into 429s by the limit on failed
	// token attempts per client address.
	var src atomic.Int32
	src.Store(1)
	do := func(method, path string, hdr map[string]string) *http.Response {
		t.Helper()
		local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+src.Add(1)))}
		c := &http.Client{
			Transport:     &http.Transport{DialContext: (&net.Dialer{LocalAddr: local}).DialContext},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		req, _ := http.NewRequest(method, base+path, strings.NewReader("{}"))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	for _, tc := range []struct{ method, path string }{
		{"GET", "/ui/"}, {"GET", "/ui/app.js"}, {"GET", "/ui/session"}, {"GET", "/v1/services"}, {"GET", "/v1/traffic"},
		{"GET", "/v1/events"}, {"POST", "/v1/services/shop/rollback"}, {"POST", "/v1/dashboard/login"},
	} {
		if resp := do(tc.method, tc.path, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s %s without a token: status %d, want 401", tc.method, tc.path, resp.StatusCode)
		}
	}
	if resp := do("GET", "/v1/services", map[string]string{"Cookie": "cutover_0000=forged"}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a forged cookie: status %d, want 401", resp.StatusCode)
	}
	if resp := do("GET", "/ui/login?code=0123456789abcdef0123456789abcdef", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an unknown login code: status %d, want 401", resp.StatusCode)
	}

	// The command prints a link to the TCP listener itself.
	r := e.runCLI([]string{"CUTOVER_ADMIN=" + base, "CUTOVER_TOKEN=" + e2eToken}, "dashboard", "-o", "json")
	var link struct {
		URL    string `json:"url"`
		Listen string `json:"listen"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &link); r.code != 0 || err != nil || !strings.HasPrefix(link.URL, base+"/ui/login?code=") || link.Listen != "" {
		t.Fatalf("cutover dashboard on TCP: exit %d, printed %q (%v)\n%s", r.code, r.stdout, err, r.stderr)
	}
	login := do("GET", strings.TrimPrefix(link.URL, base), nil)
	cookies := login.Cookies()
	if login.StatusCode != http.StatusSeeOther || len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("login: status %d, cookies %v; want 303 and one HttpOnly SameSite=Strict cookie", login.StatusCode, cookies)
	}
	session := map[string]string{"Cookie": cookies[0].Name + "=" + cookies[0].Value}
	if resp := do("GET", strings.TrimPrefix(link.URL, base), nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the login link used a second time: status %d, want 401", resp.StatusCode)
	}
	if resp := do("GET", "/v1/services", session); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /v1/services with the session: status %d, want 200", resp.StatusCode)
	}
	if resp := do("POST", "/v1/services/shop/pause", session); resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST with the session but without the CSRF token: status %d, want 403", resp.StatusCode)
	}

	// In the browser: refused before the login, served after it.
	b := newBrowser(t)
	b.run("open the page without logging in", chromedp.Navigate(base+"/ui/"))
	body := b.text("body")
	if !strings.Contains(body, "unauthorized") {
		t.Errorf("the page without a login shows %q, want the refusal", body)
	}
	r = e.runCLI([]string{"CUTOVER_ADMIN=" + base, "CUTOVER_TOKEN=" + e2eToken}, "dashboard", "-o", "json")
	if err := json.Unmarshal([]byte(r.stdout), &link); err != nil {
		t.Fatalf("cutover dashboard: %q: %v", r.stdout, err)
	}
	b.run("log in", chromedp.Navigate(link.URL))
	b.waitJS("the page with v1 live", `document.querySelector('#svc-shop .rel.live[data-version="v1"]') !== null`, 20*time.Second)
	b.waitJS("the streams connected", `document.getElementById('conn').textContent === 'live'`, 20*time.Second)
	csrfSent := mustEval[string](b, `fetch('/v1/services/shop/pause', {method: 'POST', body: '{}'}).then(r => String(r.status))`)
	if csrfSent != "403" {
		t.Errorf("a POST from the page without the CSRF header: status %s, want 403", csrfSent)
	}
	e.stop()
}

// TestDashboardTenServicesDayOfHistory loads ten services with a day of
// history each (a deploy every five minutes) and measures the render in
// the browser: every timeline shows every operation, and a full re-render
// stays well under a second.
func TestDashboardTenServicesDayOfHistory(t *testing.T) {
	const services, perService = 10, 288
	var extra strings.Builder
	e := newEnv(t, "")
	cfg, _ := os.ReadFile(e.cfg)
	block := string(cfg)[strings.Index(string(cfg), "  shop:\n"):]
	for i := range services - 1 {
		b := strings.Replace(block, "  shop:\n", fmt.Sprintf("  svc%02d:\n    path_prefix: /svc%02d\n", i, i), 1)
		// Ports of their own (never used: these services are not deployed).
		b = strings.Replace(b, fmt.Sprintf("ports: [%d, %d]", e.ports[0], e.ports[1]),
			fmt.Sprintf("ports: [%d, %d]", testutil.FreePort(t), testutil.FreePort(t)), 1)
		extra.WriteString(b)
	}
	if err := os.WriteFile(e.cfg, []byte(string(cfg)+extra.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	names := []string{"shop"}
	for i := range services - 1 {
		names = append(names, fmt.Sprintf("svc%02d", i))
	}
	writeDayOfHistory(t, filepath.Join(e.dir, "state", "state"), names, perService) // cutover serve keeps its store in <state_dir>/state
	e.start()

	url, _ := e.dashboardLink()
	b := newBrowser(t)
	b.run("open the login link", chromedp.Navigate(url))
	b.waitJS("every service rendered with its history", `document.body.dataset.ready === '1'`, 60*time.Second)
	bars := mustEval[[]int](b, `[...document.querySelectorAll('svg.timeline')].map(s => Number(s.dataset.bars))`)
	if len(bars) != services || slices.ContainsFunc(bars, func(n int) bool { return n != perService }) {
		t.Fatalf("timelines show %v operations, want %d services × %d", bars, services, perService)
	}
	first := mustEval[float64](b, `cutoverDashboard.state.firstRenderMs`)
	// A full re-render from scratch (every part rebuilt), five times.
	times := mustEval[[]float64](b, `(() => { const out = [];
		for (let i = 0; i < 5; i++) {
			document.querySelectorAll('#services [class^="part-"]').forEach(el => { el._html = undefined; });
			const t0 = performance.now(); cutoverDashboard.renderAll(); out.push(performance.now() - t0);
		}
		return out; })()`)
	slices.Sort(times)
	median := times[len(times)/2]
	b.run("show the whole history of one service", chromedp.Click(chromedp.CSS(`#svc-shop button[data-action="toggle-history"]`)))
	b.waitJS("the whole history listed", fmt.Sprintf(`document.querySelectorAll('#svc-shop tr.rec').length === %d`, perService), 10*time.Second)
	rows := mustEval[int](b, `document.querySelectorAll('tr.rec').length`)
	t.Logf("%d services × %d operations: page ready %.0f ms after navigation; full re-render median %.1f ms (of %v); %d history rows listed",
		services, perService, first, median, times, rows)
	writeArtifact(t, "dashboard-render.json", map[string]any{"services": services, "operations_per_service": perService,
		"ready_ms": first, "rerender_median_ms": median, "rerender_ms": times})
	if median > 1000 {
		t.Errorf("a full re-render takes %.0f ms (median of 5); the page is not responsive with %d services and a day of history",
			median, services)
	}
	e.stop()
}

// writeDayOfHistory appends perService finished operations, one every five
// minutes over the last day, to each service's history in the state dir.
func writeDayOfHistory(t *testing.T, dir string, services []string, perService int) {
	t.Helper()
	st, err := store.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	outcomes := []store.Outcome{store.OutcomeDeployed, store.OutcomeDeployed, store.OutcomeDeployed, store.OutcomeFailed,
		store.OutcomeDeployed, store.OutcomeRolledBack, store.OutcomeAborted}
	start := time.Now().Add(-24 * time.Hour)
	ctx := context.Background()
	for _, svc := range services {
		for i := range perService {
			at := start.Add(time.Duration(i) * 5 * time.Minute)
			o := outcomes[i%len(outcomes)]
			rec := store.HistoryRecord{ID: fmt.Sprintf("op-%s-%d", svc, i), Service: svc, Kind: store.OpDeploy,
				Version: fmt.Sprintf("v%d", i+2), From: fmt.Sprintf("v%d", i+1), Strategy: "switch",
				Start: at, End: at.Add(4 * time.Second), Outcome: o,
				Steps: map[string]time.Duration{"start": 1200 * time.Millisecond, "gate": 2 * time.Second,
					"switch": 3 * time.Millisecond, "drain": 700 * time.Millisecond}}
			if o != store.OutcomeDeployed {
				rec.Reason = "health gate: 2 consecutive failures (GET /healthz: 500)"
			}
			if err := st.AppendHistory(ctx, rec); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// writeArtifact writes v as JSON into artifactDir.
func writeArtifact(t *testing.T, name string, v any) {
	b, _ := json.MarshalIndent(v, "", "  ")
	path := filepath.Join(artifactDir(t), name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Logf("write %s: %v", path, err)
	}
}

// TestDemoReportInBrowser: `cutover demo` ends by writing an HTML report
// and printing its path; opened from the file in a browser (no server),
// it shows every switch of the run as a crossover and every operation in
// the timeline.
func TestDemoReportInBrowser(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.html")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "demo", "--report", path).CombinedOutput()
	if err != nil {
		t.Fatalf("cutover demo: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "report   "+path) {
		t.Errorf("the demo does not print the report's path %s:\n%s", path, out)
	}
	b := newBrowser(t)
	b.run("open the report", chromedp.Navigate("file://"+path))
	b.waitJS("the report rendered", `document.body.dataset.ready === '1'`, 20*time.Second)
	switches := b.text(`#svc-shop .crossovers`)
	for _, want := range []string{"v1 → v2", "v2 → v3", "v3 → v2"} {
		if !strings.Contains(switches, want) {
			t.Errorf("the report's chart shows %q, want the switch %s", switches, want)
		}
	}
	kinds := mustEval[[]string](b, `[...document.querySelectorAll('#svc-shop tr.rec')].map(r => r.dataset.kind + ' ' + r.dataset.version)`)
	if want := []string{"rollback v2", "deploy v3", "deploy v2", "deploy v1"}; !slices.Equal(kinds, want) {
		t.Errorf("the report's timeline lists %v, want %v", kinds, want)
	}
	if n := mustEval[int](b, `document.querySelectorAll('button[data-action]').length`); n != 0 {
		t.Errorf("the report has %d action buttons, want none", n)
	}
}

// TestDashboardCanaryPromote follows a canary that cannot get enough data
// in the page (weights, the verdict "wait" and that data is lacking) and
// promotes it with the page's button.
func TestDashboardCanaryPromote(t *testing.T) {
	e := newEnv(t, canaryConfig("      min_requests: 1000000\n"))
	e.start()
	e.mustCLI("deploy", "shop", "v1", "--strategy", "switch")
	stopLoad := postLoad(t, e.http)
	defer stopLoad()
	url, _ := e.dashboardLink()
	b := newBrowser(t)
	b.run("open the login link", chromedp.Navigate(url))
	b.waitJS("the page with v1 live", `document.querySelector('#svc-shop .rel.live[data-version="v1"]') !== null`, 20*time.Second)

	deployed := make(chan result, 1)
	go func() { deployed <- e.cli("deploy", "shop", "v2") }()
	b.waitJS("the canary with its weight", `(() => { const c = document.querySelector('#svc-shop .rel.canary[data-version="v2"]');
		return c !== null && /\d+% of traffic/.test(c.textContent); })()`, 30*time.Second)
	b.waitJS("the verdict: not enough data", `(() => { const v = document.querySelector('#svc-shop .part-canary');
		return v !== null && v.querySelector('.verdict.wait') !== null && v.textContent.includes('not enough data yet'); })()`, 30*time.Second)
	b.waitJS("v2's traffic in the table", `Number(document.querySelector('#svc-shop table.traffic tr[data-version="v2"] .rps')?.textContent) > 0`, 30*time.Second)

	b.run("click promote", chromedp.Click(chromedp.CSS(`#svc-shop button[data-action="promote"]:not([disabled])`)))
	b.waitJS("the confirmation", `document.getElementById('confirm').open`, 5*time.Second)
	if q := b.text(`#confirm-text`); !strings.Contains(q, "Promote shop to v2") {
		t.Errorf("confirmation says %q", q)
	}
	b.run("confirm", chromedp.Click(chromedp.CSS(`#confirm-ok`)))
	b.waitJS("v2 live", `document.querySelector('#svc-shop .rel.live[data-version="v2"]') !== null &&
		document.querySelector('#svc-shop .rel.canary') === null`, 30*time.Second)
	select {
	case r := <-deployed:
		if r.code != 0 {
			t.Errorf("the promoted deploy: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the deploy did not end after the promotion")
	}
	if v := e.version(); v != "v2" {
		t.Errorf("the proxy serves %s after the promotion, want v2", v)
	}
	if n, failed := stopLoad(); failed > 0 {
		t.Errorf("load through the canary: %d of %d requests failed", failed, n)
	}
	e.stop()
}

// TestDashboardFleetHosts: with a fleet of three, the page lists every
// host, ready, with the version it applied, in the fleet table and in the
// service's card.
func TestDashboardFleetHosts(t *testing.T) {
	ec := etcdOne(t)
	f := newFleet(t, 3, ec.Endpoints(), nil)
	f.startAll()
	f.host(0).mustCLI("deploy", "shop", "v1")
	f.waitAllReady(20 * time.Second)
	url, _ := f.host(1).dashboardLink()
	b := newBrowser(t)
	b.run("open the login link", chromedp.Navigate(url))
	b.waitJS("the fleet table with three ready hosts on v1", `(() => {
		const rows = [...document.querySelectorAll('#fleet tr.ok')];
		return rows.length === 3 && rows.every(r => r.textContent.includes('ready') && r.textContent.includes('v1'));
	})()`, 20*time.Second)
	cardHosts := b.text(`#svc-shop .part-rels .legend`)
	for _, name := range f.names {
		if !strings.Contains(cardHosts, name+": v1") {
			t.Errorf("the card's hosts line %q lacks %s: v1", cardHosts, name)
		}
	}
	f.host(2).mustCLI("deploy", "shop", "v2")
	b.waitJS("every host on v2", `[...document.querySelectorAll('#fleet tr.ok')].filter(r => r.textContent.includes('v2')).length === 3`, 20*time.Second)
	// The deploy ran from another host: no event of it reached this page's
	// host, the history follows all the same.
	b.waitJS("the deploy from another host in the history",
		`document.querySelector('#svc-shop tr.rec[data-kind="deploy"][data-version="v2"]') !== null`, 20*time.Second)
}
