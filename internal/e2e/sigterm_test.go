package e2e

import (
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMDrainsAndLeavesInstances: SIGTERM of cutover serve stops
// accepting, lets the requests in flight finish, exits 0 and leaves every
// app instance running; the next serve re-adopts them without starting
// any.
func TestSIGTERMDrainsAndLeavesInstances(t *testing.T) {
	e := newEnv(t, "")
	e.start()
	e.mustCLI("deploy", "shop", "v1")
	e.mustCLI("deploy", "shop", "v2")
	before := map[int]string{}
	for _, p := range e.instances() {
		before[p.pid] = p.version
	}
	const inFlight = 4
	type answer struct {
		status  int
		version string
		err     error
	}
	answers := make(chan answer, inFlight)
	for range inFlight {
		go func() {
			c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
			resp, err := c.Post("http://"+e.http+"/slow?ms=1500", "text/plain", strings.NewReader("payload"))
			if err != nil {
				answers <- answer{err: err}
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			answers <- answer{status: resp.StatusCode, version: resp.Header.Get("X-Version")}
		}()
	}
	waitFor(t, "the slow requests to be in flight", 10*time.Second, func() bool {
		st := e.status()
		n := int64(0)
		for _, in := range st.Active.Instances {
			n += in.InFlight
		}
		return n == inFlight
	})
	if err := e.serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// New connections are refused once the listener is closed, while the
	// requests in flight still run.
	waitFor(t, "the listener to close", 10*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", e.http, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	for range inFlight {
		a := <-answers
		if a.err != nil || a.status != 200 || a.version != "v2" {
			t.Errorf("request in flight at SIGTERM: %d from %q, %v; want 200 from v2", a.status, a.version, a.err)
		}
	}
	select {
	case err := <-e.done:
		if err != nil {
			t.Fatalf("cutover serve exited with %v after SIGTERM, want 0\n%s", err, e.logs)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("cutover serve did not exit after SIGTERM")
	}
	e.serve = nil
	if !strings.Contains(e.logs.String(), "app instances keep running") {
		t.Errorf("no shutdown line in the log:\n%s", e.logs)
	}
	after := map[int]string{}
	for _, p := range e.instances() {
		after[p.pid] = p.version
	}
	if len(after) != len(before) {
		t.Fatalf("instances after SIGTERM %v, want all of %v still running", after, before)
	}
	for pid, v := range before {
		if after[pid] != v {
			t.Errorf("instance %d (%s) is gone after SIGTERM", pid, v)
		}
	}
	e.start()
	if v := e.version(); v != "v2" {
		t.Errorf("serving %s after the restart, want v2", v)
	}
	for _, p := range e.instances() {
		if _, ok := before[p.pid]; !ok {
			t.Errorf("the restart started instance %d (%s); it must re-adopt", p.pid, p.version)
		}
	}
	e.stop()
}
