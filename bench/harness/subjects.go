package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"
)

// ErrUnavailable reports a subject that cannot be measured on this machine
// (missing binary, product command not working yet, ...).
var ErrUnavailable = errors.New("unavailable")

// Subject keys, in the order rows are run within a round and shown.
const (
	keyDirect  = "direct"
	keyNginx   = "nginx"
	keyHAProxy = "haproxy"
	keyCaddy   = "caddy"
	keyCutover = "cutover"
	keyLibrary = "library"
)

// allSubjects lists every subject key in run order.
var allSubjects = []string{keyDirect, keyNginx, keyHAProxy, keyCaddy, keyCutover, keyLibrary}

// tmplData is what the config templates see.
type tmplData struct {
	Port      int
	Upstream  string
	Upstream2 string
	Dir       string
}

// subject is one thing wrk is pointed at. A running subject owns its process.
type subject struct {
	Key   string
	Label string
	Port  int
	proc  *proc    // nil for the backend-alone row
	pid   int      // process whose tree is measured for RSS (0: none)
	data  tmplData // rendered into the config
	conf  string   // rendered config path ("" when none)
	// switchTo routes the subject to version "v1" or "v2" (nil: cannot switch).
	switchTo func(ctx context.Context, version string) error
}

// URL is where the subject accepts load.
func (s *subject) URL() string { return "http://127.0.0.1:" + strconv.Itoa(s.Port) + "/" }

// stop ends the subject's process, if it owns one.
func (s *subject) stop() {
	if s.proc != nil {
		s.proc.stop(5 * time.Second)
	}
}

// render executes the template confDir/name into dir/out.
func render(confDir, name, dir, out string, d tmplData) (string, error) {
	t, err := template.ParseFiles(filepath.Join(confDir, name))
	if err != nil {
		return "", fmt.Errorf("template %s: %w", name, err)
	}
	path := filepath.Join(dir, out)
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if err := t.Execute(f, d); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	return path, f.Close()
}

// version runs argv and returns the first line of its combined output that
// contains want ("" when the tool is missing).
func version(want string, argv ...string) string {
	out, _ := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(strings.ToLower(line), want) {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// versionNumber extracts the first dotted version number from s.
func versionNumber(s string) string {
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '/' || r == 'v' || r == '-' }) {
		if strings.Count(f, ".") >= 1 && f[0] >= '0' && f[0] <= '9' {
			return f
		}
	}
	return ""
}

// starter starts one subject on port with its upstream(s); dir is private to it.
type starter func(ctx context.Context, h *harness, port int, dir string) (*subject, error)

func (h *harness) starters() map[string]starter {
	return map[string]starter{
		keyDirect:  startDirect,
		keyNginx:   startNginx,
		keyHAProxy: startHAProxy,
		keyCaddy:   startCaddy,
		keyCutover: startCutover,
		keyLibrary: startLibrary,
	}
}

func startDirect(_ context.Context, h *harness, _ int, _ string) (*subject, error) {
	return &subject{Key: keyDirect, Label: "backend alone (no proxy)", Port: h.backendPort(1)}, nil
}

func startNginx(ctx context.Context, h *harness, port int, dir string) (*subject, error) {
	if _, err := exec.LookPath("nginx"); err != nil {
		return nil, fmt.Errorf("%w: nginx not installed", ErrUnavailable)
	}
	s := &subject{Key: keyNginx, Label: "nginx " + versionNumber(version("nginx", "nginx", "-v")) + " (1 worker)", Port: port}
	s.data = tmplData{Port: port, Upstream: h.backendAddr(1), Upstream2: h.backendAddr(2), Dir: dir}
	for _, d := range []string{"client_body", "proxy_temp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	conf, err := render(h.confDir, "nginx.conf.tmpl", dir, "nginx.conf", s.data)
	if err != nil {
		return nil, err
	}
	s.conf = conf
	s.switchTo = func(ctx context.Context, v string) error { return h.nginxSwitch(ctx, s, v) }
	return h.launch(ctx, s, nil, "nginx", "-p", dir, "-c", conf)
}

func startHAProxy(ctx context.Context, h *harness, port int, dir string) (*subject, error) {
	if _, err := exec.LookPath("haproxy"); err != nil {
		return nil, fmt.Errorf("%w: haproxy not installed", ErrUnavailable)
	}
	s := &subject{Key: keyHAProxy, Label: "HAProxy " + versionNumber(version("haproxy version", "haproxy", "-v")) + " (1 thread)", Port: port}
	s.data = tmplData{Port: port, Upstream: h.backendAddr(1), Dir: dir}
	conf, err := render(h.confDir, "haproxy.cfg.tmpl", dir, "haproxy.cfg", s.data)
	if err != nil {
		return nil, err
	}
	s.conf = conf
	return h.launch(ctx, s, nil, "haproxy", "-db", "-f", conf)
}

func startCaddy(ctx context.Context, h *harness, port int, dir string) (*subject, error) {
	if _, err := exec.LookPath("caddy"); err != nil {
		return nil, fmt.Errorf("%w: caddy not installed (not packaged for this Debian release?)", ErrUnavailable)
	}
	s := &subject{Key: keyCaddy, Label: "Caddy " + versionNumber(version(".", "caddy", "version")) + " (GOMAXPROCS=1)", Port: port}
	s.data = tmplData{Port: port, Upstream: h.backendAddr(1), Dir: dir}
	conf, err := render(h.confDir, "Caddyfile.tmpl", dir, "Caddyfile", s.data)
	if err != nil {
		return nil, err
	}
	s.conf = conf
	env := []string{"GOMAXPROCS=1", "HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir}
	return h.launch(ctx, s, env, "caddy", "run", "--config", conf, "--adapter", "caddyfile")
}

func startLibrary(ctx context.Context, h *harness, port int, dir string) (*subject, error) {
	bin := filepath.Join(h.binDir, "proxyonly")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%w: %s not built (internal/proxy API not available yet?)", ErrUnavailable, bin)
	}
	s := &subject{Key: keyLibrary, Label: "cutover data plane (library, GOMAXPROCS=1)", Port: port}
	s.switchTo = func(_ context.Context, v string) error {
		sig := syscall.SIGUSR1
		if v == "v2" {
			sig = syscall.SIGUSR2
		}
		return syscall.Kill(s.pid, sig)
	}
	return h.launch(ctx, s, []string{"GOMAXPROCS=1"}, bin,
		"-listen", "127.0.0.1:"+strconv.Itoa(port), "-v1", h.backendAddr(1), "-v2", h.backendAddr(2))
}

// launch starts argv on the proxy CPU and waits until s answers through it.
func (h *harness) launch(ctx context.Context, s *subject, env []string, argv ...string) (*subject, error) {
	p, err := startProc(s.Key, h.proxyCPU, env, filepath.Join(h.workDir, s.Key+".log"), argv...)
	if err != nil {
		return nil, err
	}
	s.proc, s.pid = p, p.pid()
	if err := waitHTTP(ctx, p, s.URL(), 15*time.Second); err != nil {
		p.stop(2 * time.Second)
		return nil, fmt.Errorf("%w: %s did not come up: %v\n%s", ErrUnavailable, s.Key, err, p.tail(800))
	}
	return s, nil
}

// nginxSwitch is what port-switch deploy scripts do: rewrite the upstream in
// the config and run nginx -s reload.
func (h *harness) nginxSwitch(ctx context.Context, s *subject, v string) error {
	d := s.data
	if v == "v2" {
		d.Upstream = h.backendAddr(2)
	}
	if _, err := render(h.confDir, "nginx.conf.tmpl", d.Dir, "nginx.conf", d); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, "nginx", "-p", d.Dir, "-c", s.conf, "-s", "reload").CombinedOutput()
	if err != nil {
		return fmt.Errorf("nginx -s reload: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}
