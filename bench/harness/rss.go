package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// treePIDs returns pid and all its descendants, read from
// /proc/PID/task/*/children.
func treePIDs(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(out[i]) + "/task/*/children")
		for _, t := range tasks {
			b, err := os.ReadFile(t)
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(f); err == nil {
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// memKB returns the sums of VmRSS and VmHWM (kB) over pids; processes that
// are gone are skipped.
func memKB(pids []int) (rss, hwm int64) {
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "VmRSS:"):
				rss += statusKB(line)
			case strings.HasPrefix(line, "VmHWM:"):
				hwm += statusKB(line)
			}
		}
	}
	return rss, hwm
}

func statusKB(line string) int64 {
	f := strings.Fields(line)
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.ParseInt(f[1], 10, 64)
	return n
}

// rssSampler records the peak summed VmRSS of a process tree while it runs.
// Start it with sampleRSS; stop returns the peak RSS and the tree's VmHWM at
// that moment, both in kB.
type rssSampler struct {
	pid  int
	quit chan struct{}
	wg   sync.WaitGroup
	peak int64
}

func sampleRSS(pid int, every time.Duration) *rssSampler {
	s := &rssSampler{pid: pid, quit: make(chan struct{})}
	s.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if rss, _ := memKB(treePIDs(s.pid)); rss > s.peak {
				s.peak = rss
			}
			select {
			case <-s.quit:
				return
			case <-t.C:
			}
		}
	})
	return s
}

func (s *rssSampler) stop() (peakKB, hwmKB int64) {
	close(s.quit)
	s.wg.Wait()
	rss, hwm := memKB(treePIDs(s.pid))
	return max(s.peak, rss), hwm
}
