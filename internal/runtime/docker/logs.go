package docker

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/runtime/docker/engine"
)

// maxLogTail bounds the bytes LogTail keeps, however long the lines are.
const maxLogTail = 1 << 20

// LogTail returns up to n last lines of the container's stdout and stderr,
// interleaved in the order the engine recorded them, at most 1 MiB (the
// newest part is kept). n <= 0 returns "". A removed container yields an
// error matching runtime.ErrNotFound.
func (r *Runtime) LogTail(ctx context.Context, inst runtime.Instance, n int) (string, error) {
	if n <= 0 {
		return "", nil
	}
	ref := containerRef(inst)
	rc, err := r.cli.ContainerLogs(ctx, ref, n)
	if engine.IsGone(err) {
		return "", fmt.Errorf("container %s: %w", ref, runtime.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("logs of container %s: %w", ref, err)
	}
	defer rc.Close()
	var buf tailBuffer
	if err := engine.Demultiplex(&buf, &buf, rc); err != nil {
		return "", fmt.Errorf("logs of container %s: %w", ref, err)
	}
	return lastLines(buf.String(), n), nil
}

// tailBuffer keeps the last maxLogTail bytes written to it.
type tailBuffer struct{ b bytes.Buffer }

// Write appends p, dropping the oldest bytes beyond twice the bound.
func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b.Write(p)
	if t.b.Len() > 2*maxLogTail {
		keep := append([]byte(nil), t.b.Bytes()[t.b.Len()-maxLogTail:]...)
		t.b.Reset()
		t.b.Write(keep)
	}
	return len(p), nil
}

// String returns the last maxLogTail bytes written.
func (t *tailBuffer) String() string {
	s := t.b.String()
	if len(s) > maxLogTail {
		s = s[len(s)-maxLogTail:]
	}
	return s
}

// lastLines returns the last n lines of s, keeping a final newline.
func lastLines(s string, n int) string {
	if n <= 0 {
		return ""
	}
	body := strings.TrimSuffix(s, "\n")
	i := len(body)
	for ; n > 0; n-- {
		j := strings.LastIndexByte(body[:i], '\n')
		if j < 0 {
			return s
		}
		i = j
	}
	return s[i+1:]
}
