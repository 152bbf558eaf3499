package docker

import (
	"os"
	"testing"

	"github.com/cutover-dev/cutover/internal/dockertest"
)

func TestMain(m *testing.M) { os.Exit(dockertest.Main(m)) }
