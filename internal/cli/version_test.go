package cli

import (
	"runtime/debug"
	"testing"
)

// fakeBuild makes the version commands describe a fixed build.
func fakeBuild(t *testing.T) {
	t.Helper()
	oldRead, oldPlatform, oldTime := readBuildInfo, platform, buildTime
	t.Cleanup(func() { readBuildInfo, platform, buildTime = oldRead, oldPlatform, oldTime })
	platform, buildTime = "linux/amd64", "2026-03-14T10:00:00Z"
	readBuildInfo = func() (*debug.BuildInfo, bool) {
		return &debug.BuildInfo{
			GoVersion: "go1.26.0",
			Main:      debug.Module{Path: "github.com/cutover-dev/cutover", Version: "(devel)"},
			Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
				{Key: "vcs.time", Value: "2026-03-13T18:04:05Z"},
				{Key: "vcs.modified", Value: "true"},
			},
		}, true
	}
}

func TestVersionGolden(t *testing.T) {
	fakeBuild(t)
	var h *harness
	for name, args := range map[string][]string{
		"version_text": {"version"},
		"version_json": {"version", "-o", "json"},
		"version_flag": {"--version"},
	} {
		t.Run(name, func(t *testing.T) {
			r := h.run(t, args...)
			if r.code != ExitOK || r.stderr != "" {
				t.Fatalf("got %+v", r)
			}
			golden(t, name, r.stdout)
		})
	}
}

func TestVersionWithoutBuildInfo(t *testing.T) {
	fakeBuild(t)
	readBuildInfo = func() (*debug.BuildInfo, bool) { return nil, false }
	buildTime = ""
	if got, want := versionString(), "cutover dev "+buildInfo().Go+" linux/amd64"; got != want {
		t.Errorf("versionString = %q, want %q", got, want)
	}
}
