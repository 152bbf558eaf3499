package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// startCutover runs the product binary exactly as a user would: `cutover
// serve -c FILE`, then `cutover deploy web v1 --admin unix://SOCK` to put the
// first version live. Switching runs `cutover deploy web vN` the same way.
func startCutover(ctx context.Context, h *harness, port int, dir string) (*subject, error) {
	bin := filepath.Join(h.binDir, "cutover")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%w: %s not built", ErrUnavailable, bin)
	}
	s := &subject{Key: keyCutover, Label: "cutover (product binary, GOMAXPROCS=1)", Port: port}
	s.data = tmplData{Port: port, Upstream: h.backendAddr(1), Upstream2: h.backendAddr(2), Dir: dir}
	conf, err := render(h.confDir, "cutover.yaml.tmpl", dir, "cutover.yaml", s.data)
	if err != nil {
		return nil, err
	}
	s.conf = conf
	admin := "unix://" + filepath.Join(dir, "admin.sock")
	s.switchTo = func(ctx context.Context, v string) error { return cutoverDeploy(ctx, bin, admin, v) }

	p, err := startProc(s.Key, h.proxyCPU, []string{"GOMAXPROCS=1"}, filepath.Join(h.workDir, s.Key+".log"),
		bin, "serve", "-c", conf)
	if err != nil {
		return nil, err
	}
	s.proc, s.pid = p, p.pid()
	fail := func(step string, err error) (*subject, error) {
		p.stop(2 * time.Second)
		return nil, fmt.Errorf("%w: `cutover serve` does not work yet (%s: %v)\n%s", ErrUnavailable, step, err, p.tail(600))
	}
	if err := waitFile(ctx, p, filepath.Join(dir, "admin.sock"), 15*time.Second); err != nil {
		return fail("admin socket", err)
	}
	dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := cutoverDeploy(dctx, bin, admin, "v1"); err != nil {
		return fail("first deploy", err)
	}
	if err := waitHTTP(ctx, p, s.URL(), 15*time.Second); err != nil {
		return fail("proxy port", err)
	}
	return s, nil
}

// cutoverDeploy runs `cutover deploy web VERSION --admin ADMIN` and waits for it.
func cutoverDeploy(ctx context.Context, bin, admin, version string) error {
	out, err := exec.CommandContext(ctx, bin, "deploy", "web", version, "--admin", admin).CombinedOutput()
	if err != nil {
		return fmt.Errorf("cutover deploy web %s: %w: %s", version, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// waitFile polls until path exists, p exits, or timeout passes.
func waitFile(ctx context.Context, p *proc, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("process exited: %v", p.err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not appear within %s", path, timeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
