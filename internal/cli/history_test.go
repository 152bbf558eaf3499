package cli

import (
	"encoding/json"
	"testing"

	"github.com/cutover-dev/cutover/internal/api/apitest"
	"github.com/cutover-dev/cutover/internal/store"
)

func TestHistoryGolden(t *testing.T) {
	h := newHarness(t, fixtureServices()...)
	h.fake.SetHistory("web", fixtureHistory())
	r := h.run(t, "history", "web")
	if r.code != ExitOK || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	golden(t, "history", r.stdout)
}

func TestHistoryLimitAndJSON(t *testing.T) {
	h := newHarness(t, fixtureServices()...)
	h.fake.SetHistory("web", fixtureHistory())
	r := h.run(t, "history", "web", "--limit", "2", "-o", "json")
	var recs []store.HistoryRecord
	if err := json.Unmarshal([]byte(r.stdout), &recs); err != nil || len(recs) != 2 || recs[0].ID != "op-40" {
		t.Fatalf("got %d records (%v): %s", len(recs), err, r.stdout)
	}
	calls := h.fake.Calls()
	if last := calls[len(calls)-1]; last != (apitest.Call{Method: "History", Service: "web", Arg: 2}) {
		t.Errorf("last call %+v", last)
	}
	if r := h.run(t, "history", "api"); r.stdout != "No deploys yet.\n" {
		t.Errorf("empty history: %q", r.stdout)
	}
	if r := h.run(t, "history", "web", "--limit", "-1"); r.code != ExitUsage {
		t.Errorf("--limit -1: exit %d", r.code)
	}
}
