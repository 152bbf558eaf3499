package proxy

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestWebSocketProxiedAndClosedNormally(t *testing.T) {
	be := streamBackend(t)
	p := newTestProxy(t, Options{})
	if err := p.Apply([]ServiceSpec{oneSet("web", "v1", TargetSpec{ID: "b", Addr: addrOf(be)})}); err != nil {
		t.Fatal(err)
	}
	_, base := startServer(t, p, ServerOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, strings.Replace(base, "http", "ws", 1)+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 30_000) // below the backend read limit, above one copy buffer read
	for _, msg := range []string{"a", big, "b"} {
		if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, got, err := ws.Read(ctx); err != nil || string(got) != msg {
			t.Fatalf("echo of %d bytes: %d bytes, %v", len(msg), len(got), err)
		}
	}
	if err := ws.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("close handshake through the proxy: %v", err)
	}
	// The upgraded request ends and leaves the target.
	deadline := time.Now().Add(5 * time.Second)
	for p.InFlight("b") != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("InFlight(b) = %d after close", p.InFlight("b"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func frame(masked bool, payload int) []byte {
	b := []byte{0x82}
	mask := byte(0)
	if masked {
		mask = 0x80
	}
	switch {
	case payload < 126:
		b = append(b, mask|byte(payload))
	case payload <= 0xffff:
		b = append(b, mask|126)
		b = binary.BigEndian.AppendUint16(b, uint16(payload))
	default:
		b = append(b, mask|127)
		b = binary.BigEndian.AppendUint64(b, uint64(payload))
	}
	if masked {
		b = append(b, 1, 2, 3, 4)
	}
	return append(b, make([]byte, payload)...)
}

func TestFrameTracker(t *testing.T) {
	var stream []byte
	var ends []int
	for _, f := range [][]byte{frame(false, 0), frame(false, 5), frame(true, 300), frame(false, 70000), frame(true, 125)} {
		stream = append(stream, f...)
		ends = append(ends, len(stream))
	}
	isEnd := map[int]bool{0: true}
	for _, e := range ends {
		isEnd[e] = true
	}
	// Feed in every chunk size from 1 to 7 bytes and check the boundary
	// flag after each chunk.
	for chunk := 1; chunk <= 7; chunk++ {
		var ft frameTracker
		for off := 0; off < len(stream); off += chunk {
			end := min(off+chunk, len(stream))
			ft.feed(stream[off:end])
			if got := ft.atBoundary(); got != isEnd[end] {
				t.Fatalf("chunk %d, offset %d: atBoundary %v, want %v", chunk, end, got, isEnd[end])
			}
		}
	}
}
