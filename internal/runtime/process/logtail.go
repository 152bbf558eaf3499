package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/cutover-dev/cutover/internal/runtime"
)

// maxTailBytes bounds how much of a log LogTail reads.
const maxTailBytes = 1 << 20

// tailChunk is how much LogTail reads per step backwards.
const tailChunk = 32 << 10

// LogTail returns up to n last lines of the instance's log, reading at most
// the last MiB of the file. It returns "" when the instance has no log, and
// an error wrapping runtime.ErrNotFound when the log file is gone.
func (r *Runtime) LogTail(ctx context.Context, inst runtime.Instance, n int) (string, error) {
	if inst.LogPath == "" || n <= 0 {
		return "", nil
	}
	f, err := os.Open(inst.LogPath)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("log of instance %s: %w", inst.ID, runtime.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("log of instance %s: %w", inst.ID, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	return tailLines(f, fi.Size(), n, maxTailBytes, tailChunk)
}

// tailLines returns the last n lines of the size bytes of ra, reading
// backwards chunk bytes at a time and at most limit bytes. When the limit
// cuts a line, the partial line is dropped.
func tailLines(ra io.ReaderAt, size int64, n int, limit, chunk int64) (string, error) {
	var buf []byte
	off := size
	for off > 0 && int64(len(buf)) < limit {
		step := min(chunk, off, limit-int64(len(buf)))
		off -= step
		b := make([]byte, step, step+int64(len(buf)))
		if _, err := ra.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		buf = append(b, buf...)
		if bytes.Count(buf, []byte{'\n'}) > n {
			break
		}
	}
	body := bytes.TrimSuffix(buf, []byte{'\n'})
	end := len(body)
	for range n {
		i := bytes.LastIndexByte(body[:end], '\n')
		if i < 0 {
			if off > 0 && !lineStartsAt(ra, off) {
				// Cut by the limit: drop the partial first line.
				if j := bytes.IndexByte(buf, '\n'); j >= 0 {
					return string(buf[j+1:]), nil
				}
			}
			return string(buf), nil
		}
		end = i
	}
	return string(buf[end+1:]), nil
}

// lineStartsAt reports whether a line of ra starts at off > 0.
func lineStartsAt(ra io.ReaderAt, off int64) bool {
	var b [1]byte
	_, err := ra.ReadAt(b[:], off-1)
	return err == nil && b[0] == '\n'
}
