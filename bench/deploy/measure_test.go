package main

import "testing"

func TestFindCrossing(t *testing.T) {
	recs := []record{
		{send: 10, version: "a", ok: true},
		{send: 20, version: "a", ok: true},
		{send: 30, version: "b", ok: true},
		{send: 40, version: "a", ok: true}, // sent after a "b": the switch is not done yet
		{send: 50, version: "b", ok: true},
		{send: 60, version: "b", ok: true},
		{send: 70, version: "", ok: false}, // outside the window below
	}
	tests := []struct {
		name            string
		from, to        int64
		want            string
		lastOld, allNew int64
		requests, fails int
	}{
		{"interleaved", 0, 65, "b", 40, 50, 6, 0},
		{"window starts after the switch", 45, 65, "b", 0, 50, 2, 0},
		{"never settles", 0, 45, "b", 0, 0, 4, 0},
		{"failure at the end never settles", 0, 100, "b", 0, 0, 7, 1},
		{"empty window", 100, 200, "b", 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := findCrossing(recs, tt.from, tt.to, tt.want)
			if c.lastOld != tt.lastOld || c.allNew != tt.allNew || c.requests != tt.requests || c.failures != tt.fails {
				t.Errorf("findCrossing = %+v, want lastOld=%d allNew=%d requests=%d failures=%d",
					c, tt.lastOld, tt.allNew, tt.requests, tt.fails)
			}
		})
	}
}

func TestFindCrossingFailureCountsAsOld(t *testing.T) {
	recs := []record{
		{send: 10, version: "b", ok: true},
		{send: 20, version: "b", ok: false}, // a 5xx from the new version
		{send: 30, version: "b", ok: true},
	}
	c := findCrossing(recs, 0, 100, "b")
	if c.lastOld != 20 || c.allNew != 30 || c.failures != 1 {
		t.Errorf("findCrossing = %+v, want lastOld=20 allNew=30 failures=1", c)
	}
}
