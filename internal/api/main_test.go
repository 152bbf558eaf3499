package api_test

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMain fails the run if goroutines of the server outlive the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaks := waitNoLeaks(5 * time.Second); leaks != "" {
			fmt.Fprintf(os.Stderr, "goroutines left running after the tests:\n%s\n", leaks)
			code = 1
		}
	}
	os.Exit(code)
}

// leakMarkers identify goroutines that a closed Server must not leave behind.
var leakMarkers = []string{"cutover/internal/api.", "net/http.(*conn).serve", "net/http.(*Server).Serve"}

// waitNoLeaks polls the goroutine dump until no goroutine matches
// leakMarkers (no event exists for a goroutine ending) and returns the
// offending stacks when the deadline passes.
func waitNoLeaks(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		leaks := leakedStacks()
		if leaks == "" || time.Now().After(deadline) {
			return leaks
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func leakedStacks() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "TestMain") || strings.Contains(g, "waitNoLeaks") {
			continue
		}
		for _, m := range leakMarkers {
			if strings.Contains(g, m) {
				out = append(out, g)
				break
			}
		}
	}
	return strings.Join(out, "\n\n")
}
