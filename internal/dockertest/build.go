package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/runtime/docker/engine"
)

// SampleBinary is the path of the sample app inside images built by
// BuildSampleImage; it is the image's entry point.
const SampleBinary = "/sampleapp"

// sampleDockerfile runs the sample app and declares a HEALTHCHECK that
// probes its /healthz on $PORT every second.
const sampleDockerfile = `FROM scratch
COPY sampleapp /sampleapp
ENV PORT=8080
HEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD ["/sampleapp", "healthcheck"]
ENTRYPOINT ["/sampleapp"]
`

var (
	sampleOnce sync.Once
	sampleBin  []byte
	sampleErr  error
)

// sampleBinary compiles internal/dockertest/sampleimage statically, once per
// test binary, and returns its bytes. It runs the go command found on PATH,
// which go test puts first.
func sampleBinary() ([]byte, error) {
	sampleOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		dir, err := os.MkdirTemp("", "cutover-sampleimage-")
		if err != nil {
			sampleErr = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "sampleapp")
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./sampleimage")
		cmd.Dir = filepath.Dir(file)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		if msg, err := cmd.CombinedOutput(); err != nil {
			sampleErr = &buildError{err: err, output: string(msg)}
			return
		}
		sampleBin, sampleErr = os.ReadFile(out)
	})
	return sampleBin, sampleErr
}

// buildError is a failed go build with its output.
type buildError struct {
	err    error
	output string
}

// Error returns the build failure followed by the go command's output.
func (e *buildError) Error() string {
	return "go build sampleimage: " + e.err.Error() + "\n" + e.output
}

// BuildSampleImage makes a FROM scratch image holding a static build of the
// sample app (entry point SampleBinary, so a container's command is the
// app's flags) available under the given tags, e.g.
// "cutover-test-<RunID>/sample:v1". The image has a HEALTHCHECK probing
// /healthz on $PORT. The tags are removed when the test ends. It returns the
// image id.
//
// Under Main the image is built once per test binary and each call only
// tags it; Main removes it at exit. Otherwise every call builds it afresh.
func BuildSampleImage(t testing.TB, tags ...string) string {
	t.Helper()
	if !underMain.Load() {
		return buildSample(t, tags...)
	}
	cli := RequireDocker(t)
	id, err := sharedSampleImage(t, cli)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, tag := range tags {
		if err := cli.ImageTag(ctx, id, tag); err != nil {
			t.Fatalf("tag sample image as %s: %v", tag, err)
		}
	}
	removeTagsAtCleanup(t, cli, tags)
	return id
}

// buildSample builds the sample image with tags.
func buildSample(t testing.TB, tags ...string) string {
	t.Helper()
	bin, err := sampleBinary()
	if err != nil {
		t.Fatal(err)
	}
	return BuildImage(t, map[string][]byte{
		"Dockerfile": []byte(sampleDockerfile),
		"sampleapp":  bin,
	}, tags...)
}

var (
	sharedMu sync.Mutex
	sharedID string
)

// sharedSampleImage returns the id of the sample image built once for this
// test binary (tagged SharedSampleImage()), building it when absent.
func sharedSampleImage(t testing.TB, cli *engine.Client) (string, error) {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if sharedID != "" {
		if _, err := cli.ImageInspect(ctx, sharedID); err == nil {
			return sharedID, nil
		}
	}
	bin, err := sampleBinary()
	if err != nil {
		return "", err
	}
	id, err := build(ctx, cli, map[string][]byte{
		"Dockerfile": []byte(sampleDockerfile),
		"sampleapp":  bin,
	}, []string{SharedSampleImage()})
	if err != nil {
		return "", err
	}
	sharedID = id
	return id, nil
}

// SharedSampleImage is the tag of the sample image Main keeps for the
// whole test binary.
func SharedSampleImage() string { return "cutover-test-" + RunID() + "/sample:shared" }

// BuildImage builds an image from files (which must hold a Dockerfile; every
// file is executable) with the given tags and the label LabelKey=RunID().
// The tags are removed when the test ends. It returns the image id.
func BuildImage(t testing.TB, files map[string][]byte, tags ...string) string {
	t.Helper()
	cli := RequireDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id, err := build(ctx, cli, files, tags)
	if err != nil {
		t.Fatal(err)
	}
	removeTagsAtCleanup(t, cli, tags)
	return id
}

// build builds files with tags and the run label.
func build(ctx context.Context, cli *engine.Client, files map[string][]byte, tags []string) (string, error) {
	buildCtx, err := tarFiles(files)
	if err != nil {
		return "", err
	}
	id, err := cli.ImageBuild(ctx, bytes.NewReader(buildCtx), engine.BuildOptions{
		Tags:   tags,
		Labels: map[string]string{LabelKey: RunID()},
	})
	if err != nil {
		return "", fmt.Errorf("build image %v: %w", tags, err)
	}
	return id, nil
}

// removeTagsAtCleanup removes tags when the test ends; an image left
// without tags is deleted.
func removeTagsAtCleanup(t testing.TB, cli *engine.Client, tags []string) {
	t.Cleanup(func() {
		ctx, cancel := cleanupContext()
		defer cancel()
		for _, tag := range tags {
			if err := cli.ImageRemove(ctx, tag, true); err != nil && !engine.IsGone(err) {
				t.Errorf("remove image %s: %v", tag, err)
			}
		}
	})
}

// tarFiles makes a build context tar from files, in name order.
func tarFiles(files map[string][]byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		data := files[name]
		hdr := &tar.Header{Name: name, Mode: 0o755, Size: int64(len(data)), ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
