package proxy

import "encoding/binary"

// frameTracker follows WebSocket frame boundaries in one direction of an
// upgraded connection without buffering, so that the proxy knows when it
// may inject a frame of its own.
type frameTracker struct {
	hdr       [14]byte
	hlen      int    // header bytes seen of the current frame
	need      int    // header length once known (0: not yet)
	remaining uint64 // payload bytes still to pass
}

// feed advances the tracker over b, which was passed through.
func (f *frameTracker) feed(b []byte) {
	for len(b) > 0 {
		if f.remaining > 0 {
			k := uint64(len(b))
			if k > f.remaining {
				k = f.remaining
			}
			f.remaining -= k
			b = b[k:]
			continue
		}
		f.hdr[f.hlen] = b[0]
		f.hlen++
		b = b[1:]
		if f.hlen == 2 {
			f.need = 2
			switch f.hdr[1] & 0x7f {
			case 126:
				f.need += 2
			case 127:
				f.need += 8
			}
			if f.hdr[1]&0x80 != 0 {
				f.need += 4
			}
		}
		if f.hlen >= 2 && f.hlen == f.need {
			f.remaining = f.payloadLen()
			f.hlen, f.need = 0, 0
		}
	}
}

func (f *frameTracker) payloadLen() uint64 {
	switch n := f.hdr[1] & 0x7f; n {
	case 126:
		return uint64(binary.BigEndian.Uint16(f.hdr[2:4]))
	case 127:
		return binary.BigEndian.Uint64(f.hdr[2:10])
	default:
		return uint64(n)
	}
}

// atBoundary reports whether the stream is between two frames.
func (f *frameTracker) atBoundary() bool {
	return f.hlen == 0 && f.remaining == 0
}

// closeGoingAway is an unmasked (server to client) close frame with status
// 1001 "going away".
var closeGoingAway = func() []byte {
	reason := "server going away"
	b := []byte{0x88, byte(2 + len(reason)), 0x03, 0xe9}
	return append(b, reason...)
}()
