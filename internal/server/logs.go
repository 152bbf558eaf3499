package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strings"
	"time"

	"github.com/cutover-dev/cutover/internal/api"
	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/store"
)

// Instance log reading.
const (
	// logPollInterval is how often a followed log file is checked for
	// new output.
	logPollInterval = 200 * time.Millisecond
	// logTailLimit bounds how far back the last lines of a log are looked
	// for.
	logTailLimit = 4 << 20
)

// instanceLogs shows the output of the instances recorded in the store:
// process instances from their log file (<state_dir>/logs/<service>/<id>.log),
// docker instances from the engine; static ones have none.
type instanceLogs struct {
	store *store.Local
	rts   *runtimes
	// services reports whether a service is configured.
	services func() map[string]*config.Service
}

// Logs implements api.LogBackend.
func (l *instanceLogs) Logs(ctx context.Context, req api.LogsRequest, w io.Writer) error {
	if _, ok := l.services()[req.Service]; !ok {
		return fmt.Errorf("%w %q", deploy.ErrUnknownService, req.Service)
	}
	st, err := l.store.Get(ctx, req.Service)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: service %s has never been deployed", api.ErrNoInstance, req.Service)
	}
	if err != nil {
		return err
	}
	inst, err := pickInstance(st, req.Version, req.Instance)
	if err != nil {
		return err
	}
	switch inst.Runtime {
	case config.RuntimeProcess, "":
		var ticks <-chan time.Time
		if req.Follow {
			tick := time.NewTicker(logPollInterval)
			defer tick.Stop()
			ticks = tick.C
		}
		return followFile(ctx, inst.LogPath, req.Lines, ticks, w)
	case config.RuntimeDocker:
		if req.Follow {
			return fmt.Errorf("%w: following a container's log; run: docker logs -f %s", api.ErrNotSupported,
				firstNonEmpty(inst.ContainerID, inst.ID))
		}
		rt, err := l.rts.get(config.RuntimeDocker)
		if err != nil {
			return err
		}
		n := req.Lines
		if n < 0 {
			n = math.MaxInt32
		}
		out, err := rt.LogTail(ctx, inst, n)
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, out)
		return err
	default:
		return fmt.Errorf("%w: %s instances run outside cutover; it does not see their output", api.ErrNotSupported, inst.Runtime)
	}
}

// pickInstance finds the instance of version (default: the active
// release, else the candidate, else the standby) with id (default: the
// release's first instance).
func pickInstance(st store.ServiceState, version, id string) (runtime.Instance, error) {
	var rel *store.Release
	var have []string
	for _, r := range []*store.Release{st.Active, st.Candidate, st.Standby} {
		if r == nil {
			continue
		}
		have = append(have, r.Version)
		if rel == nil && (version == "" || r.Version == version) {
			rel = r
		}
	}
	switch {
	case rel == nil && version == "":
		return runtime.Instance{}, fmt.Errorf("%w: service %s has no running release", api.ErrNoInstance, st.Name)
	case rel == nil:
		return runtime.Instance{}, fmt.Errorf("%w: service %s has no release %s; running: %s", api.ErrNoInstance,
			st.Name, version, strings.Join(have, ", "))
	case len(rel.Instances) == 0:
		return runtime.Instance{}, fmt.Errorf("%w: release %s of %s has no instances", api.ErrNoInstance, rel.Version, st.Name)
	case id == "":
		return rel.Instances[0], nil
	}
	ids := make([]string, 0, len(rel.Instances))
	for _, in := range rel.Instances {
		if in.ID == id {
			return in, nil
		}
		ids = append(ids, in.ID)
	}
	return runtime.Instance{}, fmt.Errorf("%w: release %s of %s has no instance %s; its instances: %s", api.ErrNoInstance,
		rel.Version, st.Name, id, strings.Join(ids, ", "))
}

// followFile writes the last lines of the file at path (all when lines < 0)
// and, when ticks is not nil, what is appended to it, checked at every
// tick, until ctx is done. A file that shrinks (capped by the process
// runtime) is followed from its new end.
func followFile(ctx context.Context, path string, lines int, ticks <-chan time.Time, w io.Writer) error {
	if path == "" {
		return fmt.Errorf("%w: the instance has no log file", api.ErrNotSupported)
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: log file %s is gone", api.ErrNoInstance, path)
	}
	if err != nil {
		return fmt.Errorf("open instance log: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	end := fi.Size()
	start, err := tailStart(f, end, lines)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, io.NewSectionReader(f, start, end-start)); err != nil {
		return err
	}
	if ticks == nil {
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticks:
		}
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		size := fi.Size()
		if size < end {
			end = size // capped: go on from its new end
			continue
		}
		if size > end {
			if _, err := io.Copy(w, io.NewSectionReader(f, end, size-end)); err != nil {
				return err
			}
			end = size
		}
	}
}

// tailStart returns the offset in the first end bytes of ra where its last
// n lines start (0 for n < 0, end for n == 0), looking back at most
// logTailLimit bytes.
func tailStart(ra io.ReaderAt, end int64, n int) (int64, error) {
	switch {
	case n < 0:
		return 0, nil
	case n == 0 || end == 0:
		return end, nil
	}
	from := max(0, end-logTailLimit)
	buf := make([]byte, end-from)
	if _, err := ra.ReadAt(buf, from); err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	body := bytes.TrimSuffix(buf, []byte{'\n'})
	i := len(body)
	for range n {
		j := bytes.LastIndexByte(body[:i], '\n')
		if j < 0 {
			return from, nil
		}
		i = j
	}
	return from + int64(i) + 1, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
