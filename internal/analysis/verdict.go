package analysis

import "fmt"

// Verdict is the outcome of a judgement. The zero value is Wait.
type Verdict int

const (
	// Wait means the data cannot yet tell: keep the canary at its step.
	Wait Verdict = iota
	// Pass means the canary is within tolerance of the baseline at the
	// configured confidence: it may take more traffic.
	Pass
	// Fail means the canary is worse than the baseline beyond tolerance at
	// the configured confidence: roll it back.
	Fail
)

var verdictNames = [...]string{Wait: "wait", Pass: "pass", Fail: "fail"}

// String returns "wait", "pass" or "fail".
func (v Verdict) String() string {
	if v >= 0 && int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return fmt.Sprintf("verdict(%d)", int(v))
}

// MarshalText encodes v as its String form.
func (v Verdict) MarshalText() ([]byte, error) {
	if v < 0 || int(v) >= len(verdictNames) {
		return nil, fmt.Errorf("analysis: unknown verdict %d", int(v))
	}
	return []byte(v.String()), nil
}

// UnmarshalText decodes "wait", "pass" or "fail".
func (v *Verdict) UnmarshalText(b []byte) error {
	for i, name := range verdictNames {
		if string(b) == name {
			*v = Verdict(i)
			return nil
		}
	}
	return fmt.Errorf("analysis: unknown verdict %q, want wait, pass or fail", b)
}
