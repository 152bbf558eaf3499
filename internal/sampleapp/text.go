package sampleapp

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
)

// maxTextSize bounds /text's size parameter.
const maxTextSize = 64 << 20

// TextBody returns the body /text?size=n answers for version: numbered
// lines naming the version, cut to n bytes. Tests compare what they
// received with it.
func TextBody(version string, n int) []byte {
	var b bytes.Buffer
	b.Grow(n + 64)
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "sample-app %s line %d: the quick brown fox jumps over the lazy dog\n", version, i)
	}
	return b.Bytes()[:n]
}

// text answers ?size bytes of TextBody (default 10000) as ?type (default
// text/plain; charset=utf-8), framed by Content-Length, or written in 4 KiB
// pieces each flushed with ?chunked=1.
func (a *app) text(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	size := 10000
	if s := q.Get("size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > maxTextSize {
			http.Error(w, fmt.Sprintf("size must be a number of bytes from 0 to %d", maxTextSize), http.StatusBadRequest)
			return
		}
		size = n
	}
	ct := q.Get("type")
	if ct == "" {
		ct = "text/plain; charset=utf-8"
	}
	body := TextBody(a.opts.version, size)
	w.Header().Set("Content-Type", ct)
	chunked := q.Get("chunked") == "1"
	if !chunked {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	}
	if r.Method == http.MethodHead {
		return
	}
	for len(body) > 0 {
		n := min(len(body), 4096)
		if _, err := w.Write(body[:n]); err != nil {
			return
		}
		body = body[n:]
		if chunked {
			http.NewResponseController(w).Flush()
		}
	}
}
