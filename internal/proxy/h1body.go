package proxy

import (
	"bytes"
	"errors"
	"io"
	"sync"
)

// h1BufSize is the size of a client connection's read and write buffers.
const h1BufSize = 4 << 10

// h1BufPool holds h1BufSize buffers. A connection idle for a while gives
// its read buffer back, so that idle keep-alive connections hold little
// memory.
var h1BufPool = sync.Pool{New: func() any {
	b := make([]byte, h1BufSize)
	return &b
}}

// maxChunkLine bounds a chunk-size line or a trailer line, as net/http does.
const maxChunkLine = 4 << 10

var (
	errChunkedBody = errors.New("malformed chunked request body")
	errLineTooLong = errors.New("request body line too long")
)

// h1Reader is a connection's read buffer: bytes buf[r:w] are read from
// src and not consumed yet.
type h1Reader struct {
	src  io.Reader
	buf  []byte
	r, w int
}

// buffered returns the unconsumed bytes.
func (b *h1Reader) buffered() []byte { return b.buf[b.r:b.w] }

// fill reads more bytes from src after the buffered ones, moving them to
// the front first when the buffer is full.
func (b *h1Reader) fill() error {
	if b.r > 0 && (b.w == len(b.buf) || b.r == b.w) {
		n := copy(b.buf, b.buf[b.r:b.w])
		b.r, b.w = 0, n
	}
	if b.w == len(b.buf) {
		return errLineTooLong
	}
	n, err := b.src.Read(b.buf[b.w:])
	b.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// line returns the next line (without its LF) and consumes it, reading
// more as needed; lines longer than max are errLineTooLong. The slice is
// valid until the next read.
func (b *h1Reader) line(max int) ([]byte, error) {
	for {
		if i := bytes.IndexByte(b.buf[b.r:b.w], '\n'); i >= 0 {
			l := b.buf[b.r : b.r+i]
			b.r += i + 1
			return l, nil
		}
		if b.w-b.r >= max {
			return nil, errLineTooLong
		}
		if err := b.fill(); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// read copies buffered bytes into p, or reads from src: straight into p
// when p is at least as large as the buffer.
func (b *h1Reader) read(p []byte) (int, error) {
	if b.r == b.w {
		if len(p) >= len(b.buf) {
			return b.src.Read(p)
		}
		b.r, b.w = 0, 0
		if err := b.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, b.buf[b.r:b.w])
	b.r += n
	return n, nil
}

// h1Body is the body of a request read from an h1Reader: Content-Length
// or chunked. Read is called by one goroutine at a time.
type h1Body struct {
	rd      *h1Reader
	remain  int64 // bytes left in the body or the current chunk
	chunked bool
	// inChunk is set while reading chunk data; crlf when the CRLF after a
	// chunk is due.
	inChunk, crlf bool
	eof           bool
	err           error
	// onFirst, if set, is called before the first read (100 Continue);
	// onEOF after the body's end was read.
	onFirst func()
	onEOF   func()
}

// reset prepares b for a body of length n (-1: chunked).
func (b *h1Body) reset(rd *h1Reader, n int64) {
	*b = h1Body{rd: rd, remain: n, chunked: n < 0, eof: n == 0}
}

// Read reads the body. At its end it returns io.EOF; a body cut short is
// io.ErrUnexpectedEOF; a malformed chunked body is errChunkedBody.
func (b *h1Body) Read(p []byte) (int, error) {
	if b.eof {
		return 0, io.EOF
	}
	if b.err != nil {
		return 0, b.err
	}
	if f := b.onFirst; f != nil {
		b.onFirst = nil
		f()
	}
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var err error
	if b.chunked {
		n, err = b.readChunked(p)
	} else {
		if int64(len(p)) > b.remain {
			p = p[:b.remain]
		}
		n, err = b.rd.read(p)
		b.remain -= int64(n)
		if b.remain == 0 {
			b.end()
			err = io.EOF
		} else if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
	}
	if err != nil && err != io.EOF && !isTimeout(err) {
		// A timeout may be followed by a new deadline; anything else ends
		// the body.
		b.err = err
	}
	return n, err
}

func (b *h1Body) end() {
	b.eof = true
	if f := b.onEOF; f != nil {
		b.onEOF = nil
		f()
	}
}

// Close does nothing: the server reads or discards what is left.
func (b *h1Body) Close() error { return nil }

func (b *h1Body) readChunked(p []byte) (int, error) {
	for {
		if b.inChunk {
			if int64(len(p)) > b.remain {
				p = p[:b.remain]
			}
			n, err := b.rd.read(p)
			b.remain -= int64(n)
			if b.remain == 0 {
				b.inChunk, b.crlf = false, true
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		if b.crlf {
			for b.rd.w-b.rd.r < 2 {
				if err := b.rd.fill(); err != nil {
					if err == io.EOF {
						err = io.ErrUnexpectedEOF
					}
					return 0, err
				}
			}
			if b.rd.buf[b.rd.r] != '\r' || b.rd.buf[b.rd.r+1] != '\n' {
				return 0, errChunkedBody
			}
			b.rd.r += 2
			b.crlf = false
		}
		line, err := b.rd.line(maxChunkLine)
		if err != nil {
			return 0, err
		}
		if len(line) == 0 || line[len(line)-1] != '\r' {
			return 0, errChunkedBody // a bare LF, as net/http refuses
		}
		if bytes.IndexByte(line[:len(line)-1], '\r') >= 0 {
			return 0, errChunkedBody // a CR inside the line, as net/http refuses
		}
		size, ok := parseChunkSize(line[:len(line)-1])
		if !ok {
			return 0, errChunkedBody
		}
		if size == 0 {
			if err := b.readTrailer(); err != nil {
				return 0, err
			}
			b.end()
			return 0, io.EOF
		}
		b.remain, b.inChunk = size, true
	}
}

// parseChunkSize parses a chunk-size line as net/http does: trailing
// whitespace is ignored, an extension after ";" is ignored, the size is 1
// to 16 hex digits.
func parseChunkSize(line []byte) (int64, bool) {
	for len(line) > 0 && isOWS(line[len(line)-1]) {
		line = line[:len(line)-1]
	}
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	if len(line) == 0 || len(line) > 16 {
		return 0, false
	}
	var n uint64
	for _, c := range line {
		v := hexVal(c)
		if v < 0 {
			return 0, false
		}
		n = n<<4 | uint64(v)
	}
	if n > 1<<63-1 {
		return 0, false
	}
	return int64(n), true
}

// readTrailer reads and discards the trailer section after the last
// chunk; its lines must be valid header lines.
func (b *h1Body) readTrailer() error {
	// net/http ends the body at once on a CRLF and otherwise wants the
	// trailer to end in CRLF CRLF: a bare LF at its end is refused, as
	// there.
	prevCR := true
	for {
		line, err := b.rd.line(maxChunkLine)
		if err != nil {
			return err
		}
		cr := false
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line, cr = line[:n-1], true
		}
		if len(line) == 0 {
			if !cr || !prevCR {
				return errChunkedBody
			}
			return nil
		}
		prevCR = cr
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !allTokenBytes(line[:colon]) {
			return errChunkedBody
		}
		for _, c := range trimOWS(line[colon+1:]) {
			if !validHeaderValueByte(c) {
				return errChunkedBody
			}
		}
	}
}
