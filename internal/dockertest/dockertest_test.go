package dockertest

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that records Skipf and Fatalf instead of ending
// the test.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Skipf(format string, args ...any)  { r.skipped = fmt.Sprintf(format, args...) }
func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

func TestRequireDockerWithoutEngine(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "missing.sock"))

	t.Setenv("CI", "")
	local := &recorder{TB: t}
	RequireDocker(local)
	if local.skipped == "" || local.failed != "" {
		t.Errorf("outside CI: skipped %q, failed %q; want a skip", local.skipped, local.failed)
	}

	t.Setenv("CI", "true")
	ci := &recorder{TB: t}
	RequireDocker(ci)
	if ci.failed == "" || ci.skipped != "" || !strings.Contains(ci.failed, "required in CI") {
		t.Errorf("in CI: skipped %q, failed %q; want a failure", ci.skipped, ci.failed)
	}
}

func TestBuildSampleImage(t *testing.T) {
	cli := RequireDocker(t)
	ctx := context.Background()
	repo := "cutover-test-" + RunID() + "/dockertest"
	var id string
	t.Run("build", func(t *testing.T) {
		id = BuildSampleImage(t, repo+":v1", repo+":v2")
		for _, tag := range []string{repo + ":v1", repo + ":v2"} {
			info, err := cli.ImageInspect(ctx, tag)
			if err != nil {
				t.Fatalf("inspect %s: %v", tag, err)
			}
			if info.ID != id {
				t.Errorf("%s is %s, want %s", tag, info.ID, id)
			}
			if info.Config.Healthcheck == nil || !strings.Contains(strings.Join(info.Config.Healthcheck.Test, " "), "healthcheck") {
				t.Errorf("%s healthcheck = %+v", tag, info.Config.Healthcheck)
			}
			if info.Config.Labels[LabelKey] != RunID() {
				t.Errorf("%s labels = %v", tag, info.Config.Labels)
			}
		}
	})
	for _, tag := range []string{repo + ":v1", repo + ":v2"} {
		if _, err := cli.ImageInspect(ctx, tag); err == nil {
			t.Errorf("%s still present after the test that made it ended", tag)
		}
	}
}

func TestBuildReportsBuilderError(t *testing.T) {
	cli := RequireDocker(t)
	_, err := build(context.Background(), cli, map[string][]byte{
		"Dockerfile": []byte("FROM scratch\nCOPY missing-file /x\n"),
	}, []string{"cutover-test-" + RunID() + "/broken:v1"})
	if err == nil || !strings.Contains(err.Error(), "missing-file") {
		t.Fatalf("build = %v, want the builder's error naming missing-file", err)
	}
}

func TestTarFiles(t *testing.T) {
	a, err := tarFiles(map[string][]byte{"b": []byte("2"), "a": []byte("1")})
	if err != nil {
		t.Fatal(err)
	}
	b, err := tarFiles(map[string][]byte{"a": []byte("1"), "b": []byte("2")})
	if err != nil {
		t.Fatal(err)
	}
	if string(a) != string(b) {
		t.Error("tarFiles is not deterministic; the build cache would never hit")
	}
}
