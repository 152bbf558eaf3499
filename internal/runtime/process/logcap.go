package process

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/cutover-dev/cutover/internal/runtime"
)

// logEntry is a live instance's log file kept under a size cap.
type logEntry struct {
	key      procKey
	own      *child
	path     string
	maxBytes int64
}

// capChunk is the copy buffer size when shrinking a log.
const capChunk = 64 << 10

// janitor caps the logs of live instances every interval until Close.
func (r *Runtime) janitor(interval time.Duration) {
	defer close(r.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			r.capLogs()
		}
	}
}

// capLogs shrinks each oversized log of a live instance and drops the
// entries of instances that are gone.
func (r *Runtime) capLogs() {
	r.mu.Lock()
	entries := make(map[string]logEntry, len(r.logs))
	for id, e := range r.logs {
		entries[id] = e
	}
	r.mu.Unlock()

	for id, e := range entries {
		if !r.alive(e.key, e.own) {
			r.mu.Lock()
			if cur, ok := r.logs[id]; ok && cur.key == e.key {
				delete(r.logs, id)
			}
			r.mu.Unlock()
			continue
		}
		kept, err := capLog(e.path, e.maxBytes)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed by someone else; the instance writes to the unlinked file
		}
		if err != nil {
			r.log.Warn("capping instance log failed", "instance", id, "log", e.path, "err", err)
		} else if kept >= 0 {
			r.log.Debug("instance log capped", "instance", id, "log", e.path, "kept_bytes", kept)
		}
	}
}

// adoptLog keeps the log of an instance started by an earlier run under the
// default cap.
func (r *Runtime) adoptLog(inst runtime.Instance) {
	if inst.LogPath == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.logs[inst.ID]; !ok {
		r.logs[inst.ID] = logEntry{
			key:      procKey{inst.PID, inst.PIDStart},
			path:     inst.LogPath,
			maxBytes: r.opts.LogMaxBytes,
		}
	}
}

// capLog shrinks the file at path to its last half of maxBytes when it is
// larger than maxBytes, starting at a line boundary, behind a one-line
// note. It works on a file that a process keeps appending to (O_APPEND):
// the tail is copied to the start and the file truncated after it, so only
// output written during the last instants of the copy can be lost. It
// returns the bytes kept, or -1 when the file was within its cap.
func capLog(path string, maxBytes int64) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return -1, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return -1, err
	}
	size := fi.Size()
	if size <= maxBytes {
		return -1, nil
	}
	keep := maxBytes / 2
	src := size - keep

	// Start after the first newline at or after src-1, so that the kept
	// part begins with a whole line.
	buf := make([]byte, capChunk)
	n, err := f.ReadAt(buf, src-1)
	if err != nil && !errors.Is(err, io.EOF) {
		return -1, err
	}
	if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 && int64(i) < keep {
		src += int64(i)
	}
	note := fmt.Sprintf("[cutover: log exceeded %d bytes; earlier output removed at %s]\n",
		maxBytes, time.Now().UTC().Format(time.RFC3339))
	if _, err := f.WriteAt([]byte(note), 0); err != nil {
		return -1, err
	}
	dst := int64(len(note))
	// Copy to EOF, including output appended meanwhile, but at most
	// maxBytes so that a fast writer cannot keep the copy going.
	for copied := int64(0); copied < maxBytes; {
		n, err := f.ReadAt(buf, src)
		if n > 0 {
			if _, werr := f.WriteAt(buf[:n], dst); werr != nil {
				return -1, werr
			}
			src += int64(n)
			dst += int64(n)
			copied += int64(n)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return -1, err
		}
	}
	if err := f.Truncate(dst); err != nil {
		return -1, err
	}
	return dst, nil
}
