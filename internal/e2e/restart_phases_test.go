package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/store"
)

// firstAnswer sends POST /which over fresh connections to addr until one
// is answered 200 and returns the version that answered and the time since
// launched. Only attempts that fail to connect (the port not bound yet) are
// made again.
func firstAnswer(t *testing.T, addr string, launched time.Time) (string, time.Duration) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	deadline := launched.Add(10 * time.Second)
	for {
		resp, err := c.Post("http://"+addr+"/which", "text/plain", strings.NewReader("x"))
		if err == nil {
			took := time.Since(launched)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("first answer after the restart: status %d", resp.StatusCode)
			}
			return resp.Header.Get("X-Version"), took
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer within 10s of the restart: %v", err)
		}
		time.Sleep(time.Millisecond) // the port is not bound yet: nothing to wait on but the next try
	}
}

// phase returns the recorded phase of shop's operation ("" none).
func (e *env) phase() store.Phase {
	e.t.Helper()
	if op := e.status().Op; op != nil {
		return op.Phase
	}
	return ""
}

// waitPhase waits until shop's operation is in phase p.
func (e *env) waitPhase(p store.Phase) {
	e.t.Helper()
	waitFor(e.t, "phase "+string(p), 20*time.Second, func() bool { return e.phase() == p })
}

// editState rewrites the recorded state of shop, as a cutover killed at
// a given point would have left it (cutover must not be running).
func (e *env) editState(edit func(*store.ServiceState)) {
	e.t.Helper()
	path := filepath.Join(e.dir, "state", "state", "services", "shop.json")
	b, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatal(err)
	}
	var st store.ServiceState
	if err := json.Unmarshal(b, &st); err != nil {
		e.t.Fatal(err)
	}
	edit(&st)
	st.Generation++
	if b, err = json.MarshalIndent(st, "", "  "); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// namedPIDs returns the pids of every instance status names, retiring
// ones included.
func namedPIDs(st deploy.ServiceStatus) map[int]bool {
	pids := map[int]bool{}
	rels := []*deploy.ReleaseStatus{st.Active, st.Candidate, st.Standby}
	for i := range st.Retiring {
		rels = append(rels, &st.Retiring[i].ReleaseStatus)
	}
	for _, r := range rels {
		if r == nil {
			continue
		}
		for _, in := range r.Instances {
			pids[in.PID] = true
		}
	}
	return pids
}

// TestKill9RestartInEveryPhase: cutover serve is killed with SIGKILL while
// a deploy is in each recorded phase, the new version ignoring SIGTERM
// wherever it runs, and started again at once. The restarted cutover
// answers from the recorded routing before it has stopped anything (the
// instance that ignores SIGTERM is still running when the first answer
// comes back), the interrupted deploy is settled as its phase implies, no
// instance is left that the state does not name, and the next deploy goes
// live.
func TestKill9RestartInEveryPhase(t *testing.T) {
	const hold = `if [ "$CUTOVER_VERSION" = v2 ]; then sleep 20; fi`
	for _, tc := range []struct {
		phase   string
		extra   string
		tighten bool // a short deploy timeout, to reach the undo quickly
		// prepare brings a deploy of v2 over v1 to the phase (cutover
		// running); craft, if set, then edits the state of the killed
		// cutover instead.
		prepare func(e *env)
		craft   func(st *store.ServiceState)
		served  []string // versions the first answer may come from
		// leftover is a version ignoring SIGTERM that the recovery
		// must stop, in the background.
		leftover string
		outcome  store.Outcome
	}{
		{phase: "starting", extra: "    hooks:\n      pre_start: '" + hold + "'\n",
			prepare: func(e *env) { e.mustCLI("deploy", "shop", "v2", "--detach"); e.waitPhase(store.PhaseStarting) },
			served:  []string{"v1"}, outcome: store.OutcomeFailed},
		{phase: "gating",
			prepare: func(e *env) {
				e.flags("v2", "--start-delay 60s --ignore-sigterm")
				e.mustCLI("deploy", "shop", "v2", "--detach")
				waitFor(e.t, "v2 to start", 10*time.Second, func() bool { return e.versionsRunning()["v2"] == 1 })
				e.waitPhase(store.PhaseGating)
			},
			served: []string{"v1"}, leftover: "v2", outcome: store.OutcomeFailed},
		{phase: "switching", // a rollback to the standby recorded, the switch back not yet made
			prepare: func(e *env) { e.mustCLI("deploy", "shop", "v2") },
			craft: func(st *store.ServiceState) {
				st.Op = &store.Operation{ID: "op-switching", Kind: store.OpRollback, Version: "v1", From: "v2",
					Phase: store.PhaseSwitching, StartedAt: time.Now()}
			},
			served: []string{"v2"}, outcome: store.OutcomeFailed},
		{phase: "canary", extra: "    strategy: canary\n    canary:\n      steps: [50]\n      step_duration: 1m\n",
			prepare: func(e *env) {
				e.flags("v2", "--ignore-sigterm")
				e.mustCLI("deploy", "shop", "v2", "--detach")
				e.waitPhase(store.PhaseCanary)
			},
			served: []string{"v1", "v2"}, leftover: "v2", outcome: store.OutcomeFailed},
		{phase: "standby", // switched, the new version watched (a promoted canary: a switch deploy's watch is the fleet's)
			extra: "    strategy: canary\n    canary:\n      steps: [50]\n      step_duration: 1m\n",
			prepare: func(e *env) {
				e.mustCLI("deploy", "shop", "v2", "--watch", "1m", "--detach")
				e.waitPhase(store.PhaseCanary)
				e.mustCLI("promote", "shop")
				e.waitPhase(store.PhaseStandby)
			},
			served: []string{"v2"}, outcome: store.OutcomeDeployed},
		{phase: "rolling", extra: "    strategy: rolling\n",
			prepare: func(e *env) {
				e.flags("v2", "--start-delay 60s --ignore-sigterm")
				e.mustCLI("deploy", "shop", "v2", "--detach")
				waitFor(e.t, "v2 to start", 10*time.Second, func() bool { return e.versionsRunning()["v2"] == 1 })
				e.waitPhase(store.PhaseRollingOut)
			},
			served: []string{"v1"}, leftover: "v2", outcome: store.OutcomeRolledBack},
		{phase: "retiring", // rolled back to the standby; the rolled-back version still stopping
			prepare: func(e *env) {
				e.flags("v2", "--ignore-sigterm")
				e.mustCLI("deploy", "shop", "v2")
				e.mustCLI("rollback", "shop")
				if st := e.status(); len(st.Retiring) != 1 {
					e.t.Fatalf("retiring %+v right after the rollback, want v2 stopping", st.Retiring)
				}
			},
			craft: func(st *store.ServiceState) {
				// The rollback's operation record, as the switch back wrote it.
				st.Op = &store.Operation{ID: "op-retiring", Kind: store.OpRollback, Version: "v1", From: "v2",
					Phase: store.PhaseRetiring, StartedAt: time.Now()}
			},
			served: []string{"v1"}, leftover: "v2", outcome: store.OutcomeDeployed},
		{phase: "undoing", tighten: true, // the new version failed its gate and is being stopped
			prepare: func(e *env) {
				e.flags("v2", "--unhealthy --ignore-sigterm")
				e.mustCLI("deploy", "shop", "v2", "--detach")
				e.waitPhase(store.PhaseUndoing)
			},
			served: []string{"v1"}, leftover: "v2", outcome: store.OutcomeFailed},
	} {
		t.Run(tc.phase, func(t *testing.T) {
			e := newEnv(t, tc.extra)
			if tc.tighten {
				e.rewrite("deploy_timeout: 10s", "deploy_timeout: 1s")
			}
			e.start()
			e.mustCLI("deploy", "shop", "v1", "--strategy", "switch")
			tc.prepare(e)
			e.kill9()
			if tc.craft != nil {
				e.editState(tc.craft)
			}
			launched := time.Now()
			ready := e.launch()
			v, took := firstAnswer(t, e.http, launched)
			running := e.versionsRunning()
			t.Logf("first answer %s after the restart, from %s", took.Round(time.Microsecond), v)
			if !slices.Contains(tc.served, v) {
				t.Errorf("first answer from %s, want one of %v (the recorded routing)", v, tc.served)
			}
			if tc.leftover != "" && running[tc.leftover] == 0 {
				t.Errorf("the %s instance ignoring SIGTERM was gone at the first answer: serving waited for its stop", tc.leftover)
			}
			select {
			case <-ready:
			case err := <-e.done:
				t.Fatalf("cutover serve exited: %v", err)
			case <-time.After(30 * time.Second):
				t.Fatal("cutover serve did not finish starting")
			}
			if tc.leftover != "" {
				waitFor(t, tc.leftover+" to be stopped", 20*time.Second, func() bool { return e.versionsRunning()[tc.leftover] == 0 })
			}
			waitFor(t, "the interrupted deploy to be settled", 20*time.Second, func() bool {
				st := e.status()
				return st.Op == nil && len(st.Retiring) == 0
			})
			st := e.status()
			pids := namedPIDs(st)
			for _, p := range e.instances() {
				if !pids[p.pid] {
					t.Errorf("orphan instance: pid %d of %s is not named by the state %+v", p.pid, p.version, st)
				}
			}
			hist := e.history()
			i := slices.IndexFunc(hist, func(h store.HistoryRecord) bool {
				return h.ID == "op-"+tc.phase || tc.craft == nil && h.Version == "v2"
			})
			if i < 0 || hist[i].Outcome != tc.outcome || !strings.Contains(hist[i].Reason, "restart") {
				t.Errorf("history %+v, want the interrupted operation %s after a restart", hist, tc.outcome)
			}
			e.mustCLI("deploy", "shop", "v3", "--strategy", "switch", "--wait", "--timeout", "1m")
			if v := e.version(); v != "v3" {
				t.Errorf("serving %s after the next deploy, want v3", v)
			}
			e.stop()
		})
	}
}
