package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cutover-dev/cutover/internal/metrics"
)

// Defaults of RecorderOptions.
const (
	// DefaultKeep is how much per-second traffic a Recorder keeps.
	DefaultKeep = 15 * time.Minute
	// DefaultWindow is the window of the rates and percentiles sent with
	// each live sample.
	DefaultWindow = 10 * time.Second
	// DefaultHistory is how many seconds a traffic stream replays first.
	DefaultHistory = 300
	// streamWriteTimeout bounds one write to a traffic stream.
	streamWriteTimeout = 30 * time.Second
	// subscriberBuffer is how many samples a slow stream may fall behind
	// before it is dropped.
	subscriberBuffer = 16
)

// Point is one version's traffic in one second.
type Point struct {
	Service  string  `json:"service"`
	Version  string  `json:"version"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"` // 5xx, including connection errors
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
	InFlight int64   `json:"in_flight,omitempty"`
}

// Window is one version's traffic over the last Seconds seconds.
type Window struct {
	Service   string  `json:"service"`
	Version   string  `json:"version"`
	Seconds   float64 `json:"seconds"`
	Requests  int64   `json:"requests"`
	RPS       float64 `json:"rps"`
	ErrorRate float64 `json:"error_rate"`
	P50       float64 `json:"p50_ms"`
	P99       float64 `json:"p99_ms"`
	InFlight  int64   `json:"in_flight"`
}

// Sample is one second of traffic of every version that served in it (a
// version without a request nor one in flight is left out). Window, sent
// with live samples and with the last one replayed, covers the last
// RecorderOptions.Window (empty: no traffic); the other replayed samples
// have none (null).
type Sample struct {
	// Time is the start of the second.
	Time   time.Time `json:"time"`
	Points []Point   `json:"points"`
	Window []Window  `json:"window"`
}

// RecorderOptions configures NewRecorder.
type RecorderOptions struct {
	// Registry is read once a second. Required.
	Registry *metrics.Registry
	// Services returns the services to sample, in display order. Required.
	Services func() []string
	// Keep is how much history is kept (default DefaultKeep).
	Keep time.Duration
	// Window is the window of Sample.Window (default DefaultWindow).
	Window time.Duration
}

// Recorder samples the metrics registry once a second, keeps the samples
// of the last Keep and streams them (ServeHTTP). It keeps versions that the
// registry has forgotten (retired), so a chart still shows the version a
// switch moved traffic away from. Start begins sampling; Close stops it.
// Its methods are safe for concurrent use.
type Recorder struct {
	opts RecorderOptions
	keep int

	mu      sync.Mutex
	samples []Sample // oldest first
	window  []Window // of the newest sample
	subs    map[chan Sample]struct{}
	cancel  context.CancelFunc
	done    chan struct{}
}

// NewRecorder returns a Recorder that is not sampling yet.
func NewRecorder(opts RecorderOptions) *Recorder {
	if opts.Keep <= 0 {
		opts.Keep = DefaultKeep
	}
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	return &Recorder{opts: opts, keep: int(opts.Keep / time.Second), subs: map[chan Sample]struct{}{}}
}

// Start samples in the background until ctx is done or Close is called.
// It may be called once.
func (r *Recorder) Start(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	r.mu.Lock()
	r.cancel, r.done = cancel, make(chan struct{})
	r.mu.Unlock()
	go r.run(ctx)
}

// Close stops sampling and ends every stream. It is idempotent.
func (r *Recorder) Close() {
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
}

// run samples each second once it is over.
func (r *Recorder) run(ctx context.Context) {
	defer func() {
		r.mu.Lock()
		for ch := range r.subs {
			close(ch)
		}
		clear(r.subs)
		close(r.done)
		r.mu.Unlock()
	}()
	reg := r.opts.Registry
	next := reg.SecondStart(time.Now())
	for {
		// Wake a little after the second ends, when its slot is complete.
		wait := time.Until(next.Add(time.Second + 20*time.Millisecond))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		now := time.Now()
		if behind := now.Sub(next); behind > r.opts.Keep {
			next = reg.SecondStart(now.Add(-r.opts.Keep))
		}
		for !next.Add(time.Second).After(now) {
			r.record(r.sample(next, !next.Add(2*time.Second).After(now)))
			next = next.Add(time.Second)
		}
	}
}

// sample reads the second starting at sec; with past set it is not the
// newest (the recorder is catching up) and gets no window.
func (r *Recorder) sample(sec time.Time, past bool) Sample {
	reg := r.opts.Registry
	s := Sample{Time: sec, Points: []Point{}}
	if !past {
		s.Window = []Window{}
	}
	for _, svc := range r.opts.Services() {
		for _, v := range reg.Versions(svc) {
			st := reg.Second(svc, v, sec)
			if st.Requests > 0 || st.InFlight > 0 {
				s.Points = append(s.Points, Point{Service: svc, Version: v, Requests: st.Requests, Errors: st.Status5xx,
					P50: ms(st.Latency.Quantile(0.5)), P99: ms(st.Latency.Quantile(0.99)), InFlight: st.InFlight})
			}
			if past {
				continue
			}
			w := reg.SnapshotSince(svc, v, sec.Add(time.Second-r.opts.Window))
			if w.Requests == 0 && w.InFlight == 0 {
				continue
			}
			secs := r.opts.Window.Seconds()
			s.Window = append(s.Window, Window{Service: svc, Version: v, Seconds: secs, Requests: w.Requests,
				RPS: float64(w.Requests) / secs, ErrorRate: w.ErrorRate(), P50: ms(w.Latency.Quantile(0.5)),
				P99: ms(w.Latency.Quantile(0.99)), InFlight: w.InFlight})
		}
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// record keeps s and sends it to every stream; a stream that fell
// subscriberBuffer samples behind is ended.
func (r *Recorder) record(s Sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.Window != nil {
		r.window = s.Window
	}
	stored := s
	stored.Window = nil
	r.samples = append(r.samples, stored)
	if len(r.samples) > r.keep {
		r.samples = append(r.samples[:0:0], r.samples[len(r.samples)-r.keep:]...)
	}
	for ch := range r.subs {
		select {
		case ch <- s:
		default:
			delete(r.subs, ch)
			close(ch)
		}
	}
}

// Samples returns the samples of the last n seconds, oldest first (n ≤ 0:
// all that are kept); the newest carries the current window.
func (r *Recorder) Samples(n int) []Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.samplesLocked(n)
}

func (r *Recorder) samplesLocked(n int) []Sample {
	from := 0
	if n > 0 && n < len(r.samples) {
		from = len(r.samples) - n
	}
	out := append([]Sample(nil), r.samples[from:]...)
	if len(out) > 0 {
		out[len(out)-1].Window = r.window
	}
	return out
}

// subscribe returns the samples of the last n seconds and a channel of the
// ones to come; cancel must be called once the caller stops reading.
func (r *Recorder) subscribe(n int) ([]Sample, <-chan Sample, func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := make(chan Sample, subscriberBuffer)
	past := r.samplesLocked(n)
	if r.done == nil {
		close(ch)
		return past, ch, func() {}
	}
	select {
	case <-r.done:
		close(ch)
		return past, ch, func() {}
	default:
	}
	r.subs[ch] = struct{}{}
	return past, ch, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if _, ok := r.subs[ch]; ok {
			delete(r.subs, ch)
			close(ch)
		}
	}
}

// ServeHTTP streams samples as NDJSON (GET /v1/traffic): first those of the
// last ?history= seconds (default DefaultHistory; 0: none), then one line a
// second until the client leaves or the recorder stops.
func (r *Recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	n := DefaultHistory
	if v := req.URL.Query().Get("history"); v != "" {
		h, err := strconv.Atoi(v)
		if err != nil || h < 0 {
			writeJSONError(w, http.StatusBadRequest, "invalid",
				"history must be a whole number of seconds ≥ 0, not "+strconv.Quote(v))
			return
		}
		n = h
	}
	past, ch, cancel := r.subscribe(max(n, 1))
	defer cancel()
	if n == 0 {
		past = nil
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	for _, s := range past {
		if enc.Encode(s) != nil {
			return
		}
	}
	if rc.Flush() != nil {
		return
	}
	for {
		select {
		case <-req.Context().Done():
			return
		case s, ok := <-ch:
			if !ok {
				return
			}
			_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
			if enc.Encode(s) != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

// writeJSONError writes an error in the admin API's shape.
func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}
