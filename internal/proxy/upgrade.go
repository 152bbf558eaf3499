package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// closeHandshakeWait bounds how long the proxy waits for a client to answer
// an injected close frame before closing the connection.
const closeHandshakeWait = 2 * time.Second

// serveUpgrade completes a protocol switch (101) and relays bytes both ways
// until one side closes. The proxy stays in the middle so that a drain can
// end a WebSocket with a close frame toward the client.
func (p *Proxy) serveUpgrade(w http.ResponseWriter, r *http.Request, cl *call, ex *exchange) {
	// The connection now belongs to this exchange alone.
	cl.stop()
	c := cl.c
	defer c.close()
	reqUp, respUp := upgradeType(r.Header), cl.resp.upgrade
	if reqUp == "" || !strings.EqualFold(reqUp, respUp) {
		ex.status = http.StatusBadGateway
		writeError(w, r, ex.status, pageUpgrade)
		return
	}
	// What the client sends from now on is not HTTP/1.1.
	stopFraming(r.Context())
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		ex.status = http.StatusBadGateway
		writeError(w, r, ex.status, pageUpgrade)
		return
	}
	defer conn.Close()
	ex.status = http.StatusSwitchingProtocols

	h := make(http.Header, len(c.fields)+2)
	c.copyHead(h, &cl.resp)
	h["Connection"] = []string{"Upgrade"}
	h["Upgrade"] = []string{respUp}
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	_ = h.Write(brw)
	_, _ = brw.WriteString("\r\n")
	if err := brw.Flush(); err != nil {
		return
	}

	clientDone := make(chan struct{})
	go func() {
		defer close(clientDone)
		copyClientToUpstream(c.nc, brw.Reader)
		// The client stopped sending: nothing more can be relayed upstream.
		c.close()
	}()

	ex.bytes = p.copyUpstreamToClient(conn, c.br, ex, strings.EqualFold(respUp, "websocket"))
	// The upstream side is over: the target no longer has this request.
	c.close()
	ex.releaseTarget()
	// Signal the end to the client and give it a moment to finish its side
	// (for example to answer a close frame) before the connection closes.
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = conn.SetReadDeadline(time.Now().Add(closeHandshakeWait))
	<-clientDone
}

// copyClientToUpstream relays client bytes (including those the server had
// already buffered) to the upstream until either side fails.
func copyClientToUpstream(up io.Writer, client *bufio.Reader) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	_, _ = io.CopyBuffer(up, struct{ io.Reader }{client}, *bp)
}

// copyUpstreamToClient relays upstream bytes to the client. When the
// upstream connection is cut by a drain it sends a WebSocket close frame
// (1001) if the stream is between frames. It returns the bytes relayed.
func (p *Proxy) copyUpstreamToClient(client net.Conn, up io.Reader, ex *exchange, websocket bool) (n int64) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var ft frameTracker
	for {
		nr, err := up.Read(buf)
		if nr > 0 {
			if websocket {
				ft.feed(buf[:nr])
			}
			nw, werr := client.Write(buf[:nr])
			n += int64(nw)
			if werr != nil {
				return n
			}
		}
		if err == nil {
			continue
		}
		if !ex.target.cutting.Load() {
			return n
		}
		if websocket && ft.atBoundary() {
			_ = client.SetWriteDeadline(time.Now().Add(closeHandshakeWait))
			_, _ = client.Write(closeGoingAway)
		}
		p.log.Info("upgraded connection ended by drain", "service", ex.svc.name, "version", ex.set.version,
			"target", ex.target.id, "request_id", ex.requestID(), "websocket", websocket, "clean", websocket && ft.atBoundary())
		return n
	}
}
