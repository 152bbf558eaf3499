package proxy

import (
	"io"
	"log/slog"
	"net"
	"sync/atomic"
)

// framingGuard watches the bytes of an HTTP/1.1 connection before net/http
// parses them and refuses requests whose framing is ambiguous (RFC 9112
// section 6.1, 6.3 and 5.2), which net/http either accepts or answers
// differently from nginx:
//
//   - both Content-Length and Transfer-Encoding (net/http drops the
//     Content-Length and reads the body as chunked, so a front end that
//     frames by Content-Length sees a different request boundary);
//   - more than one Content-Length line, even with equal values;
//   - more than one Transfer-Encoding line;
//   - a Transfer-Encoding whose last coding is not chunked (section 6.3:
//     the length cannot be determined; net/http answers 501);
//   - a header line folded onto the previous one (obs-fold).
//
// A request head is held back until it is complete; a refused head is
// replaced by a request line net/http answers with 400 and "Connection:
// close", so the refusal is written in order after any pipelined response
// still in progress and the connection is closed. The guard follows message
// bodies (Content-Length and chunked) to find the next head, and stops
// watching for HTTP/2 with prior knowledge and once the connection is
// switched to another protocol (stop).
//
// Read is called by one goroutine at a time (net/http's connection reader);
// stop may be called from any goroutine.
type framingGuard struct {
	net.Conn
	log *slog.Logger
	// maxHead bounds a held head; a longer one is passed on for net/http
	// to answer with 431.
	maxHead int

	off  atomic.Bool
	out  []byte // bytes ready for the reader, returned before anything else
	held []byte // an incomplete head (from its first byte)
	done bool   // a head was refused: nothing more is read

	f framing
}

// framingReject replaces a refused head: net/http answers a request line
// without spaces with "400 Bad Request" and closes the connection.
var framingReject = []byte("ambiguous-request-framing\r\n\r\n")

// framing is the state of the HTTP/1.1 framing parser.
type framing struct {
	state     uint8
	headStart int // index of the current head's first byte in the scanned buffer
	// Per head.
	firstLine bool // in the request line
	lineStart bool // at the start of a header line
	inName    bool
	name      [len("transfer-encoding")]byte
	nameLen   int
	nameOver  bool
	field     uint8 // fieldCL or fieldTE while reading that field's value
	clCount   int
	teCount   int
	folded    bool
	tok       [len("chunked") + 1]byte // the Transfer-Encoding coding being read
	tokLen    int
	chunked   bool // the last Transfer-Encoding coding read is chunked
	clBad     bool
	clDigits  bool
	cl        uint64
	lineLen   int
	reqLine   [len("PRI * HTTP/2.0")]byte
	// Per body.
	remain   uint64 // bytes left in a Content-Length body or a chunk
	sizeSeen bool   // a hex digit of the chunk size was read
}

// Parser states.
const (
	stHead uint8 = iota
	stBodyCL
	stChunkSize // the hex digits of a chunk size
	stChunkExt  // whitespace and extensions after the size, until LF
	stChunkData
	stChunkCR   // CRLF after chunk data
	stTrailer   // trailer lines until an empty one
	stTrailerLn // inside a trailer line
	stOff       // not HTTP/1.1 any more
)

const (
	fieldNone uint8 = iota
	fieldCL
	fieldTE
)

func newFramingGuard(c net.Conn, maxHead int, log *slog.Logger) *framingGuard {
	g := &framingGuard{Conn: c, log: log, maxHead: maxHead}
	g.f.startHead(0)
	return g
}

// stop turns the guard into a plain connection: bytes already read are
// still delivered in order.
func (g *framingGuard) stop() { g.off.Store(true) }

// Read returns the connection's bytes up to the end of the last complete,
// accepted request head (and any body bytes after it).
func (g *framingGuard) Read(p []byte) (int, error) {
	for {
		if len(g.out) > 0 {
			n := copy(p, g.out)
			g.out = g.out[n:]
			if len(g.out) == 0 {
				g.out = nil
			}
			return n, nil
		}
		if g.done {
			return 0, io.EOF
		}
		if g.off.Load() {
			if len(g.held) > 0 {
				g.out, g.held = g.held, nil
				continue
			}
			return g.Conn.Read(p)
		}
		// Errors are returned at once and not kept: a timeout may be
		// followed by a new deadline.
		if len(g.held) == 0 {
			n, err := g.Conn.Read(p)
			if n == 0 {
				if err != nil {
					return 0, err
				}
				continue
			}
			if g.f.state == stHead {
				g.f.headStart = 0 // nothing of the head is held
			}
			rel, bad := g.scan(p[:n], 0)
			if g.f.state == stOff {
				g.off.Store(true)
			}
			if bad {
				g.refuse()
				if rel > 0 {
					return rel, nil
				}
				continue
			}
			if rel < n {
				g.held = append(make([]byte, 0, max(n-rel, 1024)), p[rel:n]...)
				g.f.headStart = 0
			}
			if rel > 0 {
				return rel, nil
			}
			continue
		}
		// Holding an incomplete head: read more after it.
		if len(g.held) == cap(g.held) {
			g.held = append(g.held, make([]byte, len(g.held))...)[:len(g.held)]
		}
		from := len(g.held)
		n, err := g.Conn.Read(g.held[from:cap(g.held)])
		if n == 0 {
			if err != nil {
				return 0, err
			}
			continue
		}
		g.held = g.held[:from+n]
		rel, bad := g.scan(g.held, from)
		if g.f.state == stOff {
			g.off.Store(true)
		}
		if bad {
			g.out, g.held = g.held[:rel], nil
			g.refuse()
			continue
		}
		if rel == len(g.held) {
			g.out, g.held = g.held, nil
			continue
		}
		if rel > 0 {
			g.out = g.held[:rel]
			g.held = append([]byte(nil), g.held[rel:]...)
			g.f.headStart = 0
			continue
		}
		if len(g.held) > g.maxHead {
			// Too long for a head: net/http answers it with 431.
			g.off.Store(true)
		}
	}
}

// refuse ends the connection's request stream with framingReject.
func (g *framingGuard) refuse() {
	g.log.Info("request refused", "reason", "ambiguous message framing", "client", g.RemoteAddr().String())
	g.out = append(g.out[:len(g.out):len(g.out)], framingReject...)
	g.held = nil
	g.done = true
}

// scan parses buf[from:] and returns how many bytes of buf can be passed on
// (all of them, or up to the start of an incomplete head) and whether a
// head is refused (the count is then up to the start of that head).
func (g *framingGuard) scan(buf []byte, from int) (int, bool) {
	f := &g.f
	for i := from; i < len(buf); i++ {
		b := buf[i]
		switch f.state {
		case stOff:
			return len(buf), false
		case stHead:
			end, bad := f.headByte(b)
			if bad {
				return f.headStart, true
			}
			if end {
				f.endHead(i + 1)
			}
		case stBodyCL:
			n := uint64(len(buf) - i)
			if n > f.remain {
				n = f.remain
			}
			f.remain -= n
			i += int(n) - 1
			if f.remain == 0 {
				f.startHead(i + 1)
			}
		case stChunkSize:
			if v := hexVal(b); v >= 0 {
				if f.remain > 1<<59 {
					f.state = stOff // net/http refuses the size and closes
					continue
				}
				f.remain = f.remain<<4 | uint64(v)
				f.sizeSeen = true
				continue
			}
			if !f.sizeSeen {
				f.state = stOff // net/http refuses the body and closes
				continue
			}
			f.state = stChunkExt
			i-- // the byte ends the size: look at it again
		case stChunkExt:
			if b == '\n' {
				if f.remain == 0 {
					f.state = stTrailer
				} else {
					f.state = stChunkData
				}
			}
		case stChunkData:
			n := uint64(len(buf) - i)
			if n > f.remain {
				n = f.remain
			}
			f.remain -= n
			i += int(n) - 1
			if f.remain == 0 {
				f.state = stChunkCR
			}
		case stChunkCR:
			if b == '\n' {
				f.startChunk()
			}
		case stTrailer:
			switch b {
			case '\r':
			case '\n':
				f.startHead(i + 1)
			default:
				f.state = stTrailerLn
			}
		case stTrailerLn:
			if b == '\n' {
				f.state = stTrailer
			}
		}
	}
	if f.state == stHead {
		return min(f.headStart, len(buf)), false
	}
	return len(buf), false
}

func (f *framing) startChunk() {
	f.state = stChunkSize
	f.remain, f.sizeSeen = 0, false
}

// startHead resets the per-head state; at is the head's first byte.
func (f *framing) startHead(at int) {
	*f = framing{state: stHead, headStart: at, firstLine: true, lineStart: true}
}

// headByte parses one byte of a head and reports the end of the head or a
// refusal.
func (f *framing) headByte(b byte) (end, bad bool) {
	if f.firstLine {
		switch b {
		case '\n':
			if f.lineLen == 0 {
				return false, false // an empty line before the request line
			}
			f.firstLine, f.lineStart, f.inName = false, true, false
		case '\r':
		default:
			if f.lineLen < len(f.reqLine) {
				f.reqLine[f.lineLen] = b
			}
			f.lineLen++
		}
		return false, false
	}
	if f.lineStart {
		f.lineStart = false
		switch b {
		case '\r':
			f.lineStart = true // CR of the empty line, or a stray CR
			return false, false
		case '\n':
			return true, f.refused()
		case ' ', '\t':
			f.folded = true
			return false, false
		}
		f.inName, f.nameLen, f.nameOver, f.field = true, 0, false, fieldNone
	}
	switch {
	case b == '\n':
		f.lineStart = true
		f.inName = false
		if f.field == fieldCL && !f.clDigits {
			f.clBad = true
		}
		if f.field == fieldTE {
			f.endCoding()
		}
		f.field = fieldNone
	case f.inName:
		if b == ':' {
			f.inName = false
			switch {
			case f.nameOver:
			case asciiEqualFold(f.name[:f.nameLen], "content-length"):
				f.field = fieldCL
				f.clCount++
			case asciiEqualFold(f.name[:f.nameLen], "transfer-encoding"):
				f.field = fieldTE
				f.teCount++
			}
			return false, false
		}
		if f.nameLen < len(f.name) {
			f.name[f.nameLen] = b
			f.nameLen++
		} else {
			f.nameOver = true
		}
	case f.field == fieldTE:
		switch b {
		case ',':
			f.endCoding()
		case ' ', '\t', '\r':
		default:
			if f.tokLen < len(f.tok) {
				f.tok[f.tokLen] = b
			}
			f.tokLen++
		}
	case f.field == fieldCL:
		switch {
		case b >= '0' && b <= '9':
			if f.cl > 1<<59 {
				f.clBad = true
			}
			f.cl = f.cl*10 + uint64(b-'0')
			f.clDigits = true
		case b == ' ' || b == '\t' || b == '\r':
		default:
			f.clBad = true
		}
	}
	return false, false
}

// endCoding ends a Transfer-Encoding list element; empty ones do not count.
func (f *framing) endCoding() {
	if f.tokLen == 0 {
		return
	}
	f.chunked = f.tokLen == len("chunked") && asciiEqualFold(f.tok[:f.tokLen], "chunked")
	f.tokLen = 0
}

// endHead decides on a complete, accepted head how its body is framed; next
// is the index after its last byte.
func (f *framing) endHead(next int) {
	if string(f.reqLine[:min(f.lineLen, len(f.reqLine))]) == "PRI * HTTP/2.0" {
		f.state = stOff // HTTP/2 with prior knowledge
		return
	}
	switch {
	case f.teCount == 1:
		f.startChunk() // net/http accepts only "chunked" and closes otherwise
	case f.clCount == 1 && !f.clBad && f.cl > 0:
		cl := f.cl
		f.startHead(next)
		f.state, f.remain = stBodyCL, cl
	case f.clBad:
		f.state = stOff // net/http answers 400 and closes
	default:
		f.startHead(next)
	}
}

// refused reports whether the complete head just parsed is ambiguous.
func (f *framing) refused() bool {
	return f.folded || f.clCount > 1 || f.teCount > 1 || (f.clCount > 0 && f.teCount > 0) ||
		(f.teCount == 1 && !f.chunked)
}

func hexVal(b byte) int {
	switch {
	case b >= '0' && b <= '9':
		return int(b - '0')
	case b >= 'a' && b <= 'f':
		return int(b-'a') + 10
	case b >= 'A' && b <= 'F':
		return int(b-'A') + 10
	}
	return -1
}

// asciiEqualFold reports whether b equals the lowercase ASCII s, ignoring case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
