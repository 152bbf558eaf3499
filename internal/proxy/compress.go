package proxy

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Content codings a Compression may list.
const (
	EncodingBrotli = "br"
	EncodingZstd   = "zstd"
	EncodingGzip   = "gzip"
)

// DefaultCompressMinSize is the smallest body compressed unless a
// Compression says otherwise: below it the coding's framing and the CPU
// cost more than they save.
const DefaultCompressMinSize = 1024

// MaxCompressMinSize bounds Compression.MinSize: a body of unknown length
// is held in memory up to MinSize before the choice is made.
const MaxCompressMinSize = 1 << 20

// DefaultCompressEncodings is the order of preference when the client
// accepts several codings with the same weight: zstd compresses several
// times faster than brotli at quality 4 for a similar size (see
// BenchmarkCompress), then brotli for clients without zstd, then gzip.
var DefaultCompressEncodings = []string{EncodingZstd, EncodingBrotli, EncodingGzip}

// DefaultCompressTypes are the media types compressed unless a
// Compression lists its own: text, JSON, JavaScript, XML, SVG, WebAssembly
// and the uncompressed font formats. Images, video, archives and fonts
// such as WOFF2 are compressed already.
var DefaultCompressTypes = []string{
	"text/*",
	"application/json", "application/*+json", "application/x-ndjson",
	"application/javascript", "application/x-javascript", "application/ecmascript",
	"application/xml", "application/*+xml",
	"application/wasm", "application/yaml", "application/graphql",
	"image/svg+xml", "image/x-icon", "image/bmp",
	"font/ttf", "font/otf", "application/vnd.ms-fontobject",
}

// flushHold is how long a flush of a body of unknown length that is still
// shorter than MinSize is held: a body that ends within it is sent whole
// (compressed only when it reached MinSize), one that pauses longer is a
// stream and is compressed from there on, each flush going through the
// compressor.
const flushHold = 10 * time.Millisecond

// Compression compresses a service's responses with the best coding the
// client accepts (Accept-Encoding, its q-values, "identity;q=0" and "*"),
// and marks them Vary: Accept-Encoding. A response is left as it is when
// it is a 1xx (including 101 Switching Protocols), 204, 206 or 304, when
// the request was HEAD, carried Range or asked for an upgrade, when the
// response already has a Content-Encoding or a Content-Range, says
// Cache-Control: no-transform, has no Content-Type or one not listed, or is
// shorter than MinSize, and when MaxActiveEncoders responses are being
// compressed already. A compressed response loses its Content-Length and
// Accept-Ranges, and a strong ETag becomes weak. Flushes reach the client
// through the compressor, so streams (text/event-stream included) keep
// flowing. Encoders are pooled; gzip runs at level 5, brotli at quality 4
// and zstd at its fastest level, with windows of 256 KiB. A
// Compression must not be changed once it is in a ServiceSpec passed to the
// proxy.
type Compression struct {
	// Encodings lists the codings offered, in order of preference for
	// equal client weights: "zstd", "br" and "gzip" (default all three, in
	// that order).
	Encodings []string
	// MinSize is the smallest body compressed, in bytes (default 1024; 0
	// takes the default, use 1 to compress everything). A body without
	// Content-Length is held up to MinSize before the choice is made.
	MinSize int64
	// ContentTypes lists the media types compressed: "type/subtype",
	// "type/*" or "type/*+suffix" (default DefaultCompressTypes).
	// Parameters such as charset are ignored; matching ignores case.
	ContentTypes []string

	codecs []*codec
	types  []typePattern
	// hold is how long a flush below MinSize is held (default flushHold).
	hold time.Duration
}

// typePattern is one ContentTypes entry: main type, and subtype, "*" or a
// "+suffix" to match.
type typePattern struct {
	main, sub, suffix string
}

func parseTypePattern(s string) (typePattern, bool) {
	main, sub, ok := strings.Cut(strings.ToLower(strings.TrimSpace(s)), "/")
	if !ok || main == "" || sub == "" || strings.ContainsAny(main, "*;, ") || strings.ContainsAny(sub, ";, /") {
		return typePattern{}, false
	}
	if suffix, ok := strings.CutPrefix(sub, "*+"); ok {
		if suffix == "" || strings.Contains(suffix, "*") {
			return typePattern{}, false
		}
		return typePattern{main: main, suffix: "+" + suffix}, true
	}
	if sub != "*" && strings.Contains(sub, "*") {
		return typePattern{}, false
	}
	return typePattern{main: main, sub: sub}, true
}

func (t *typePattern) match(main, sub string) bool {
	if !strings.EqualFold(t.main, main) {
		return false
	}
	switch {
	case t.suffix != "":
		return len(sub) > len(t.suffix) && strings.EqualFold(sub[len(sub)-len(t.suffix):], t.suffix)
	case t.sub == "*":
		return true
	}
	return strings.EqualFold(t.sub, sub)
}

// withDefaults returns a copy of c with defaults applied and its codings
// and types compiled.
func (c Compression) withDefaults() Compression {
	if len(c.Encodings) == 0 {
		c.Encodings = DefaultCompressEncodings
	}
	if c.MinSize == 0 {
		c.MinSize = DefaultCompressMinSize
	}
	if len(c.ContentTypes) == 0 {
		c.ContentTypes = DefaultCompressTypes
	}
	c.codecs = c.codecs[:0:0]
	for _, e := range c.Encodings {
		if cd := codecByName(e); cd != nil {
			c.codecs = append(c.codecs, cd)
		}
	}
	if c.hold == 0 {
		c.hold = flushHold
	}
	c.types = c.types[:0:0]
	for _, t := range c.ContentTypes {
		if tp, ok := parseTypePattern(t); ok {
			c.types = append(c.types, tp)
		}
	}
	return c
}

// validate checks c after withDefaults; a nil c is valid.
func (c *Compression) validate() error {
	if c == nil {
		return nil
	}
	seen := map[string]bool{}
	for _, e := range c.Encodings {
		if codecByName(e) == nil {
			return fmt.Errorf("unknown encoding %q (use zstd, br or gzip)", e)
		}
		if seen[strings.ToLower(e)] {
			return fmt.Errorf("encoding %q listed twice", e)
		}
		seen[strings.ToLower(e)] = true
	}
	if c.MinSize < 0 || c.MinSize > MaxCompressMinSize {
		return fmt.Errorf("min size %d must be between 0 and %d", c.MinSize, MaxCompressMinSize)
	}
	for _, t := range c.ContentTypes {
		if _, ok := parseTypePattern(t); !ok {
			return fmt.Errorf("content type %q must be type/subtype, type/* or type/*+suffix", t)
		}
	}
	return nil
}

// compressible reports whether the media type of a Content-Type value is
// listed.
func (c *Compression) compressible(ct string) bool {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	main, sub, ok := strings.Cut(strings.TrimSpace(ct), "/")
	if !ok {
		return false
	}
	for i := range c.types {
		if c.types[i].match(main, sub) {
			return true
		}
	}
	return false
}

// negotiate returns the codec to answer with for the Accept-Encoding
// values given, or nil for identity. The highest weight wins; ties go to
// the first in c.codecs. "*" weighs the codings not named; a weight of 0
// refuses a coding.
func (c *Compression) negotiate(values []string) *codec {
	var q [3]int // weight in thousandths by codec id; -1: not named
	q[0], q[1], q[2] = -1, -1, -1
	star := -1
	for _, v := range values {
		for v != "" {
			var elem string
			elem, v, _ = strings.Cut(v, ",")
			name, params, _ := strings.Cut(elem, ";")
			name = strings.TrimSpace(name)
			w := qvalue(params)
			id := -1
			switch {
			case strings.EqualFold(name, EncodingGzip), strings.EqualFold(name, "x-gzip"):
				id = codecGzip
			case strings.EqualFold(name, EncodingBrotli):
				id = codecBrotli
			case strings.EqualFold(name, EncodingZstd):
				id = codecZstd
			case name == "*":
				star = max(star, w)
				continue
			default:
				continue
			}
			q[id] = max(q[id], w)
		}
	}
	var best *codec
	bestQ := 0
	for _, cd := range c.codecs {
		w := q[cd.id]
		if w < 0 {
			w = star
		}
		if w > bestQ {
			best, bestQ = cd, w
		}
	}
	return best
}

// qvalue returns the weight (0–1000) in an element's parameters: 1000 when
// there is no q, 0 when it cannot be read.
func qvalue(params string) int {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || f < 0 || f != f {
			return 0
		}
		return int(min(f, 1)*1000 + 0.5)
	}
	return 1000
}

// encoder is what the three codings' writers have in common.
type encoder interface {
	io.Writer
	Flush() error
	Close() error
	Reset(io.Writer)
}

// Codec ids, indexes of negotiate's weights.
const (
	codecBrotli = iota
	codecZstd
	codecGzip
)

// codec is one content coding with its pool of encoders.
type codec struct {
	id   int
	name string
	pool sync.Pool
}

// get returns a pooled encoder writing to w.
func (cd *codec) get(w io.Writer) encoder {
	e := cd.pool.Get().(encoder)
	e.Reset(w)
	return e
}

// put returns e to the pool; it keeps no reference to the writer it wrote to.
func (cd *codec) put(e encoder) {
	e.Reset(io.Discard)
	cd.pool.Put(e)
}

// Compression levels, chosen for speed (see BenchmarkCompress).
const (
	gzipLevel     = 5
	brotliQuality = 4
	// brotliWindow and zstdWindow bound each encoder's memory (about
	// 2.5 MiB for brotli, 1.2 MiB for zstd and 1.1 MiB for gzip, measured);
	// larger windows gained nothing on API-sized bodies.
	brotliWindow = 18 // 256 KiB
	zstdWindow   = 256 << 10
)

// MaxActiveEncoders bounds the responses being compressed at once across
// the proxy, and so the encoders' memory (at most about 160 MiB). A
// response that would exceed it is sent uncompressed.
const MaxActiveEncoders = 64

// activeEncoders counts the encoders in use.
var activeEncoders atomic.Int64

var (
	gzipCodec = &codec{id: codecGzip, name: EncodingGzip, pool: sync.Pool{New: func() any {
		w, _ := gzip.NewWriterLevel(io.Discard, gzipLevel)
		return w
	}}}
	brotliCodec = &codec{id: codecBrotli, name: EncodingBrotli, pool: sync.Pool{New: func() any {
		return brotli.NewWriterOptions(io.Discard, brotli.WriterOptions{Quality: brotliQuality, LGWin: brotliWindow})
	}}}
	zstdCodec = &codec{id: codecZstd, name: EncodingZstd, pool: sync.Pool{New: func() any {
		w, err := zstd.NewWriter(io.Discard, zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(zstdWindow), zstd.WithLowerEncoderMem(true))
		if err != nil {
			panic(err) // the options are constant
		}
		return w
	}}}
)

func codecByName(name string) *codec {
	switch strings.ToLower(name) {
	case EncodingBrotli:
		return brotliCodec
	case EncodingZstd:
		return zstdCodec
	case EncodingGzip:
		return gzipCodec
	}
	return nil
}

// compressWriter states.
const (
	cwNew       uint8 = iota // nothing written yet
	cwBuffering              // header held, body held up to MinSize
	cwCompress               // header sent, body goes through enc
	cwPlain                  // header sent, body passes through
	cwClosed
)

// compressWriter is the http.ResponseWriter of a request whose response
// may be compressed. Its methods may be called from the handler and from
// its own flush timer; mu serialises them, and through them every use of
// the wrapped writer. While a flush is held the timer may write the head,
// so a handler that changes the header map after writing body bytes (to
// set trailers) must ask Header for it again rather than keep the map it
// had.
type compressWriter struct {
	w     http.ResponseWriter
	c     *Compression
	codec *codec // nil: the client takes identity only (Vary is still set)

	mu        sync.Mutex
	state     uint8
	eventStr  bool
	status    int
	buf       []byte
	enc       encoder
	timer     *time.Timer
	timerLost bool // the timer fired: this writer may not be pooled
}

// errResponseEnded fails a write after the handler ended the response.
var errResponseEnded = errors.New("write after the response ended")

var compressWriterPool = sync.Pool{New: func() any { return new(compressWriter) }}

// wrap returns the writer compressing the response to r, or nil when r's
// response is never compressed (HEAD, Range, upgrade or CONNECT requests).
func (c *Compression) wrap(w http.ResponseWriter, r *http.Request) *compressWriter {
	if r.Method == http.MethodHead || r.Method == http.MethodConnect ||
		len(r.Header["Range"]) > 0 || len(r.Header["Upgrade"]) > 0 {
		return nil
	}
	cw := compressWriterPool.Get().(*compressWriter)
	cw.w, cw.c, cw.codec = w, c, c.negotiate(r.Header["Accept-Encoding"])
	return cw
}

// Header returns the wrapped writer's header map. A handler changes it
// after the body only for trailers; a held flush due by then runs here, so
// that the timer never touches the map beside the handler.
func (cw *compressWriter) Header() http.Header {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	if cw.state == cwBuffering && cw.timer != nil && !cw.stopTimer() {
		if cw.compress() == nil {
			_ = cw.flushLocked()
		}
	}
	return cw.w.Header()
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (cw *compressWriter) Unwrap() http.ResponseWriter { return cw.w }

// SetReadDeadline sets the wrapped writer's read deadline.
func (cw *compressWriter) SetReadDeadline(t time.Time) error {
	if d, ok := cw.w.(readDeadliner); ok {
		return d.SetReadDeadline(t)
	}
	return http.NewResponseController(cw.w).SetReadDeadline(t)
}

// SetWriteDeadline sets the wrapped writer's write deadline.
func (cw *compressWriter) SetWriteDeadline(t time.Time) error {
	return http.NewResponseController(cw.w).SetWriteDeadline(t)
}

// WriteHeader decides whether the response is compressed; 1xx responses
// pass through untouched.
func (cw *compressWriter) WriteHeader(code int) {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	if code < 200 && cw.state == cwNew {
		cw.w.WriteHeader(code)
		return
	}
	cw.writeHeader(code)
}

func (cw *compressWriter) writeHeader(code int) {
	if cw.state != cwNew {
		return
	}
	cw.status = code
	h := cw.w.Header()
	size := contentLength(h)
	if !cw.eligible(h, code) || (size >= 0 && size < cw.c.MinSize) {
		cw.plain()
		return
	}
	addVary(h)
	switch {
	case cw.codec == nil:
		cw.plain()
	case size >= 0 || cw.c.MinSize <= 1:
		_ = cw.compress()
	default:
		cw.state = cwBuffering
		cw.eventStr = isEventStream(h)
	}
}

// eligible reports whether a response with header h and status code may be
// compressed, its size aside.
func (cw *compressWriter) eligible(h http.Header, code int) bool {
	switch code {
	case http.StatusNoContent, http.StatusPartialContent, http.StatusNotModified:
		return false
	}
	if len(h["Content-Encoding"]) > 0 || len(h["Content-Range"]) > 0 {
		return false
	}
	for _, v := range h["Cache-Control"] {
		if containsToken(v, "no-transform") {
			return false
		}
	}
	ct := h["Content-Type"]
	return len(ct) > 0 && cw.c.compressible(ct[0])
}

func (cw *compressWriter) plain() {
	cw.state = cwPlain
	cw.w.WriteHeader(cw.status)
}

// compress sends the header of a compressed response and the body held so
// far through a pooled encoder; with MaxActiveEncoders in use it sends them
// uncompressed.
func (cw *compressWriter) compress() error {
	if activeEncoders.Add(1) > MaxActiveEncoders {
		activeEncoders.Add(-1)
		cw.plain()
		if len(cw.buf) > 0 {
			_, err := cw.w.Write(cw.buf)
			cw.buf = cw.buf[:0]
			return err
		}
		return nil
	}
	h := cw.w.Header()
	delete(h, "Content-Length")
	delete(h, "Accept-Ranges")
	h["Content-Encoding"] = []string{cw.codec.name}
	if et := h["Etag"]; len(et) > 0 && !strings.HasPrefix(et[0], "W/") {
		h["Etag"] = []string{"W/" + et[0]}
	}
	cw.w.WriteHeader(cw.status)
	cw.enc = cw.codec.get(cw.w)
	cw.state = cwCompress
	if len(cw.buf) > 0 {
		_, err := cw.enc.Write(cw.buf)
		cw.buf = cw.buf[:0]
		return err
	}
	return nil
}

// Write sends p, or holds it while the choice waits for MinSize bytes.
func (cw *compressWriter) Write(p []byte) (int, error) {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	if cw.state == cwNew {
		cw.writeHeader(http.StatusOK)
	}
	switch cw.state {
	case cwPlain:
		return cw.w.Write(p)
	case cwCompress:
		return cw.enc.Write(p)
	case cwBuffering:
		if int64(len(cw.buf)+len(p)) < cw.c.MinSize {
			cw.buf = append(cw.buf, p...)
			return len(p), nil
		}
		held := cw.stopTimer()
		if err := cw.compress(); err != nil {
			return 0, err
		}
		var n int
		var err error
		if cw.state == cwCompress {
			n, err = cw.enc.Write(p)
		} else {
			n, err = cw.w.Write(p)
		}
		if err == nil && held {
			err = cw.flushLocked()
		}
		return n, err
	}
	return 0, errResponseEnded
}

// ReadFrom copies src to the response, keeping the wrapped writer's
// sendfile path for a body sent as it is.
func (cw *compressWriter) ReadFrom(src io.Reader) (int64, error) {
	cw.mu.Lock()
	if cw.state == cwNew {
		cw.writeHeader(http.StatusOK)
	}
	if rf, ok := cw.w.(io.ReaderFrom); ok && cw.state == cwPlain {
		// No timer runs in this state: the lock is not needed.
		cw.mu.Unlock()
		return rf.ReadFrom(src)
	}
	cw.mu.Unlock()
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	return io.CopyBuffer(struct{ io.Writer }{cw}, src, *bp)
}

// Flush sends what was written so far; see FlushError.
func (cw *compressWriter) Flush() { _ = cw.FlushError() }

// FlushError sends what was written so far through the compressor to the
// client. While a body of unknown length is shorter than MinSize, an event
// stream is compressed from its first flush, and any other body's flush is
// held for at most flushHold, to see whether the body ends first.
func (cw *compressWriter) FlushError() error {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	if cw.state == cwNew {
		cw.writeHeader(http.StatusOK)
	}
	if cw.state == cwBuffering {
		if !cw.eventStr {
			if cw.timer == nil && !cw.timerLost {
				// Later flushes do not extend the hold.
				cw.timer = time.AfterFunc(cw.c.hold, cw.flushHeld)
			}
			return nil
		}
		if err := cw.compress(); err != nil {
			return err
		}
	}
	return cw.flushLocked()
}

func (cw *compressWriter) flushLocked() error {
	switch cw.state {
	case cwCompress:
		if err := cw.enc.Flush(); err != nil {
			return err
		}
	case cwPlain:
	default:
		return nil
	}
	return flushWriter(cw.w)
}

// flushWriter flushes w as http.ResponseController does, without
// allocating one.
func flushWriter(w http.ResponseWriter) error {
	switch f := w.(type) {
	case interface{ FlushError() error }:
		return f.FlushError()
	case http.Flusher:
		f.Flush()
		return nil
	}
	return http.NewResponseController(w).Flush()
}

// flushHeld runs when a held flush was not followed by the body's end: the
// body is a stream, compressed from here on.
func (cw *compressWriter) flushHeld() {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	cw.timerLost = true
	if cw.state != cwBuffering {
		return
	}
	if cw.compress() == nil {
		_ = cw.flushLocked()
	}
}

// stopTimer stops a held flush and reports whether one was pending.
func (cw *compressWriter) stopTimer() bool {
	if cw.timer == nil {
		return false
	}
	stopped := cw.timer.Stop()
	cw.timer = nil
	if !stopped {
		cw.timerLost = true
	}
	return stopped
}

// finish ends the response; it is deferred by the handler. When the
// handler panics the compressed stream is left unfinished, so the client
// cannot take a truncated body as whole.
func (cw *compressWriter) finish() {
	if v := recover(); v != nil {
		cw.end(false)
		panic(v)
	}
	cw.end(true)
}

func (cw *compressWriter) end(clean bool) {
	cw.mu.Lock()
	cw.stopTimer()
	switch cw.state {
	case cwBuffering:
		// The body ended shorter than MinSize: it goes as it is, and the
		// server frames it with the length it now knows.
		if clean {
			cw.w.WriteHeader(cw.status)
			_, _ = cw.w.Write(cw.buf)
		}
	case cwCompress:
		if clean {
			_ = cw.enc.Close()
		}
		cw.codec.put(cw.enc)
		activeEncoders.Add(-1)
	}
	cw.state = cwClosed
	lost := cw.timerLost
	cw.mu.Unlock()
	if lost {
		return // the timer's goroutine may still hold cw
	}
	buf := cw.buf[:0]
	if cap(buf) > 64<<10 {
		buf = nil
	}
	*cw = compressWriter{buf: buf}
	compressWriterPool.Put(cw)
}

// contentLength returns the Content-Length of h, or -1.
func contentLength(h http.Header) int64 {
	v := h["Content-Length"]
	if len(v) != 1 {
		return -1
	}
	n, err := strconv.ParseInt(v[0], 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

func isEventStream(h http.Header) bool {
	ct := h["Content-Type"]
	if len(ct) == 0 {
		return false
	}
	mt, _, _ := strings.Cut(ct[0], ";")
	return strings.EqualFold(strings.TrimSpace(mt), "text/event-stream")
}

// addVary adds Accept-Encoding to h's Vary unless it is there (or Vary is
// "*").
func addVary(h http.Header) {
	for _, v := range h["Vary"] {
		if containsToken(v, "accept-encoding") || containsToken(v, "*") {
			return
		}
	}
	h["Vary"] = append(h["Vary"], "Accept-Encoding")
}

// containsToken reports whether the comma-separated list v has token
// (ignoring case and any "=value").
func containsToken(v, token string) bool {
	for v != "" {
		var e string
		e, v, _ = strings.Cut(v, ",")
		e, _, _ = strings.Cut(e, "=")
		if strings.EqualFold(strings.TrimSpace(e), token) {
			return true
		}
	}
	return false
}
