package cli

import (
	"strings"
	"time"

	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/store"
)

// instance returns an instance status; process instances (pid > 0) get
// a log path under /var/lib/cutover/logs.
func instance(id, addr string, pid int, healthy bool, inflight int64) deploy.InstanceStatus {
	in := deploy.InstanceStatus{ID: id, Addr: addr, PID: pid, Healthy: healthy, InFlight: inflight}
	if pid > 0 {
		in.LogPath = "/var/lib/cutover/logs/" + strings.SplitN(id, "-", 2)[0] + "/" + id + ".log"
	}
	return in
}

// fixtureServices covers every status cell: standby with time left, a
// canary with a comparison, a service never deployed and an unreadable one.
func fixtureServices() []deploy.ServiceStatus {
	since := testNow.Add(-time.Hour)
	return []deploy.ServiceStatus{
		{
			Name: "web", Strategy: "switch", Runtime: "process",
			Active: &deploy.ReleaseStatus{Version: "v2", Since: since, Instances: []deploy.InstanceStatus{
				instance("web-v2-a1", "127.0.0.1:8081", 4242, true, 3),
				instance("web-v2-b2", "127.0.0.1:8083", 4243, true, 0),
			}},
			Standby: &deploy.ReleaseStatus{Version: "v1", Since: since, Instances: []deploy.InstanceStatus{
				instance("web-v1-c3", "127.0.0.1:8080", 4100, true, 0),
			}},
			StandbyUntil: testNow.Add(4*time.Minute + 12*time.Second),
		},
		{
			Name: "api", Strategy: "canary", Runtime: "docker",
			Active: &deploy.ReleaseStatus{Version: "v7", Since: since, Instances: []deploy.InstanceStatus{
				instance("api-v7-1", "127.0.0.1:9000", 0, true, 12),
				instance("api-v7-2", "127.0.0.1:9001", 0, false, 0),
			}},
			Candidate: &deploy.ReleaseStatus{Version: "v8", Since: testNow, Instances: []deploy.InstanceStatus{
				instance("api-v8-1", "127.0.0.1:9002", 0, true, 4),
			}},
			Weight: 25,
			Op: &store.Operation{ID: "op-41", Kind: "deploy", Version: "v8", From: "v7", Phase: store.PhaseCanary,
				Step: 2, Weight: 25, StartedAt: testNow.Add(-90 * time.Second)},
			Canary: &deploy.Comparison{Verdict: "wait", Reason: "canary has 40 of 100 requests",
				Summary: map[string]map[string]float64{
					"v8": {"requests": 40, "error_rate": 0.025, "p50_ms": 14.2, "p99_ms": 95},
					"v7": {"requests": 1210, "error_rate": 0.001, "p50_ms": 12, "p99_ms": 80.46},
				}},
		},
		{Name: "legacy", Strategy: "switch", Runtime: "static"},
		{Name: "broken", Strategy: "switch", Runtime: "process", Error: "state file is corrupt: unexpected end of JSON input"},
	}
}

func fixtureHistory() []store.HistoryRecord {
	at := func(min int) time.Time { return testNow.Add(time.Duration(-min) * time.Minute) }
	return []store.HistoryRecord{
		{ID: "op-40", Service: "web", Kind: "deploy", Version: "v2", From: "v1", Strategy: "switch",
			Start: at(60), End: at(60).Add(4200 * time.Millisecond), Outcome: store.OutcomeDeployed,
			Steps: map[string]time.Duration{"drain": 2970 * time.Millisecond, "gate": 1208 * time.Millisecond,
				"switch": 214 * time.Microsecond, "start": 3 * time.Millisecond}},
		{ID: "op-31", Service: "web", Kind: "rollback", Version: "v1", From: "v1.1", Strategy: "switch",
			Start: at(600), End: at(600).Add(300 * time.Millisecond), Outcome: store.OutcomeDeployed},
		{ID: "op-30", Service: "web", Kind: "deploy", Version: "v1.1", From: "v1", Strategy: "switch",
			Start: at(700), End: at(700).Add(95 * time.Second), Outcome: store.OutcomeRolledBack,
			Reason: "error rate 12% after switch (threshold 1%)",
			Steps:  map[string]time.Duration{"canary": 95 * time.Second, "custom": time.Second}},
		{ID: "op-12", Service: "web", Kind: "deploy", Version: "v1.1", Strategy: "switch",
			Start: at(900), End: at(900).Add(61 * time.Second), Outcome: store.OutcomeFailed,
			Reason: "v1.1 did not become healthy within 60s"},
	}
}

// ev builds a scripted event at elapsed milliseconds.
func ev(ms int, typ deploy.EventType, step, msg string) deploy.Event {
	d := time.Duration(ms) * time.Millisecond
	return deploy.Event{Time: testNow.Add(d), Type: typ, Step: step, Message: msg, Elapsed: d}
}

func deployedScript() []deploy.Event {
	done := ev(4210, deploy.EventDone, "", "web v2 is live; v1 stays warm for 5m")
	done.Outcome = store.OutcomeDeployed
	return []deploy.Event{
		ev(2, deploy.EventStep, "start", "starting v2 on 127.0.0.1:8081"),
		ev(1210, deploy.EventStep, "gate", "v2 healthy after 3 probes"),
		ev(1230, deploy.EventStep, "switch", "traffic switched from v1 to v2"),
		ev(4200, deploy.EventStep, "drain", "v1 drained (12 requests finished)"),
		ev(4205, deploy.EventWarn, "", "post_switch hook exited with code 1"),
		ev(4207, deploy.EventStep, "standby", "v1 kept warm until 09:32:00"),
		done,
	}
}

func failedScript() []deploy.Event {
	gate := ev(60010, deploy.EventStep, "gate", "v2 did not become healthy within 60s")
	gate.Error = "GET http://127.0.0.1:8081/health: connection refused"
	gate.Output = "Starting app v2\nError: cannot connect to database db:5432\nexit status 1\n"
	done := ev(60450, deploy.EventDone, "done", "deploy of v2 failed, traffic stays on v1: v2 did not become healthy within 60s")
	done.Outcome = store.OutcomeFailed
	done.Error = "v2 did not become healthy within 60s"
	return []deploy.Event{
		ev(2, deploy.EventStep, "start", "starting v2 on 127.0.0.1:8081"),
		gate,
		ev(60440, deploy.EventStep, "undo", "stopped v2 (web-v2-a1)"),
		done,
	}
}

func outcomeScript(outcome store.Outcome) []deploy.Event {
	done := ev(100, deploy.EventDone, "", "")
	done.Outcome = outcome
	return []deploy.Event{ev(1, deploy.EventStep, "start", "starting v2"), done}
}
