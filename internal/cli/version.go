package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version is the release version, set at build time with
// -ldflags "-X github.com/cutover-dev/cutover/internal/cli.version=v1.2.3".
var version = ""

// buildTime is when the binary was built, set at build time with
// -ldflags "-X github.com/cutover-dev/cutover/internal/cli.buildTime=2026-03-14T09:26:53Z"
// ("" when not set; Go itself records only the commit time).
var buildTime = ""

// readBuildInfo and platform describe the running binary; tests replace them.
var (
	readBuildInfo = debug.ReadBuildInfo
	platform      = runtime.GOOS + "/" + runtime.GOARCH
)

// versionInfo describes this build, as cutover version -o json prints it.
type versionInfo struct {
	// Version is the release version, the module version, or "dev".
	Version string `json:"version"`
	// Revision is the VCS commit the binary was built from ("" when unknown).
	Revision string `json:"revision,omitempty"`
	// CommitTime is the commit's time (vcs.time), in RFC 3339.
	CommitTime string `json:"commit_time,omitempty"`
	// Modified is true when the work tree had uncommitted changes.
	Modified bool `json:"modified,omitempty"`
	// BuildTime is when the binary was built, if the build recorded it.
	BuildTime string `json:"build_time,omitempty"`
	// Go is the Go version it was built with.
	Go string `json:"go"`
	// Platform is GOOS/GOARCH.
	Platform string `json:"platform"`
	// Tags are the build tags, e.g. "embedetcd" for the build that links
	// the embedded etcd server.
	Tags string `json:"tags,omitempty"`
}

// buildInfo reads what the Go toolchain recorded in the binary.
func buildInfo() versionInfo {
	v := versionInfo{Version: version, BuildTime: buildTime, Go: runtime.Version(), Platform: platform}
	if info, ok := readBuildInfo(); ok {
		if v.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v.Version = info.Main.Version
		}
		if info.GoVersion != "" {
			v.Go = info.GoVersion
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.time":
				v.CommitTime = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			case "-tags":
				v.Tags = s.Value
			}
		}
	}
	if v.Version == "" {
		v.Version = "dev"
	}
	return v
}

// versionString describes this build in one line: the version, the
// revision (12 digits, "+dirty" when modified) and its commit time, the
// build time when recorded, the Go version and platform.
func versionString() string {
	v := buildInfo()
	var extra []string
	if v.Revision != "" {
		rev := v.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if v.Modified {
			rev += "+dirty"
		}
		extra = append(extra, "revision "+rev)
	}
	if v.CommitTime != "" {
		extra = append(extra, "committed "+v.CommitTime)
	}
	if v.BuildTime != "" {
		extra = append(extra, "built "+v.BuildTime)
	}
	if v.Tags != "" {
		extra = append(extra, "tags "+v.Tags)
	}
	s := "cutover " + v.Version
	if len(extra) > 0 {
		s += " (" + strings.Join(extra, ", ") + ")"
	}
	return fmt.Sprintf("%s %s %s", s, v.Go, v.Platform)
}

func (a *app) versionCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of cutover",
		Long: `Version prints cutover's version, the VCS revision and commit time it was built from (as the Go
toolchain records them), the build time when the build set it, the Go version and platform.
'cutover --version' prints the same line.`,
		Example: "  cutover version\n  cutover version -o json",
		Args:    noArgs,
		RunE: runE(func(*cobra.Command, []string) error {
			if a.output == outputJSON {
				return printJSON(a.stdout, buildInfo())
			}
			_, err := fmt.Fprintln(a.stdout, versionString())
			return err
		}),
	}
	a.addOutputFlag(cmd)
	return cmd
}
