package testutil

import (
	"testing"

	"go.uber.org/goleak"
)

// VerifyTestMain runs the tests of a package and fails the run when
// goroutines outlive them, waiting a little for goroutines that are ending
// (see goleak.VerifyTestMain). Goroutines of the standard library that
// stay by design (an HTTP client's idle keep-alive connections) are
// ignored, as are those opts name. Call it from TestMain:
//
//	func TestMain(m *testing.M) { testutil.VerifyTestMain(m) }
func VerifyTestMain(m *testing.M, opts ...goleak.Option) {
	goleak.VerifyTestMain(m, append([]goleak.Option{
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	}, opts...)...)
}
