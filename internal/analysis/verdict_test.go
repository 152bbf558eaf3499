package analysis

import "testing"

func TestVerdictText(t *testing.T) {
	for v, name := range map[Verdict]string{Wait: "wait", Pass: "pass", Fail: "fail"} {
		if v.String() != name {
			t.Errorf("%d.String() = %q, want %q", int(v), v.String(), name)
		}
		b, err := v.MarshalText()
		if err != nil || string(b) != name {
			t.Errorf("%d.MarshalText() = %q, %v", int(v), b, err)
		}
		var back Verdict = -1
		if err := back.UnmarshalText(b); err != nil || back != v {
			t.Errorf("UnmarshalText(%q) = %v, %v", b, back, err)
		}
	}
	if Verdict(7).String() != "verdict(7)" {
		t.Errorf("Verdict(7).String() = %q", Verdict(7).String())
	}
	if _, err := Verdict(7).MarshalText(); err == nil {
		t.Error("Verdict(7).MarshalText() succeeded, want error")
	}
	var v Verdict
	if err := v.UnmarshalText([]byte("maybe")); err == nil {
		t.Error(`UnmarshalText("maybe") succeeded, want error`)
	}
}
