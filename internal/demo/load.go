package demo

import (
	"context"
	"time"

	"github.com/cutover-dev/cutover/internal/loadgen"
)

// load wraps loadgen for the demo.
type load struct{ *loadgen.Load }

func newLoad(url string) *load {
	return &load{loadgen.New(loadgen.Options{URL: url, Workers: 16, SlowEvery: 50, SlowPath: "/slow?ms=800", Pause: 2 * time.Millisecond})}
}

func (l *load) totals() (int64, int64, map[string]int64, []string) { return l.Totals() }

// startTicker prints the load's rate once a second until ctx is done; the
// returned channel closes when it stopped.
func startTicker(ctx context.Context, l *load, p *printer) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		var last int64
		lastAt := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				total, failed, _, _ := l.totals()
				p.load(float64(total-last)/now.Sub(lastAt).Seconds(), total, failed)
				last, lastAt = total, now
			}
		}
	}()
	return done
}
