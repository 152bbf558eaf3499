package proxy

import (
	"testing"

	"github.com/cutover-dev/cutover/internal/testutil"
)

// TestMain fails the run when goroutines outlive the tests.
func TestMain(m *testing.M) { testutil.VerifyTestMain(m) }
