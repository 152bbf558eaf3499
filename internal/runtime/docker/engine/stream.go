package engine

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// message is one line of a pull or build progress stream.
type message struct {
	Stream      string `json:"stream"`
	Status      string `json:"status"`
	Error       string `json:"error"`
	ErrorDetail struct {
		Message string `json:"message"`
	} `json:"errorDetail"`
	Aux struct {
		ID string `json:"ID"`
	} `json:"aux"`
}

// readMessages consumes a JSON progress stream. The engine reports failures
// inside a 200 response, so an "error" entry becomes an *Error. It returns
// the image id announced in the stream, if any.
func readMessages(op string, r io.Reader) (string, error) {
	dec := json.NewDecoder(r)
	var id string
	var last string // the builder's last output line, for context
	for {
		var m message
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return id, nil
			}
			return id, fmt.Errorf("docker %s: read progress: %w", op, err)
		}
		if m.Error != "" || m.ErrorDetail.Message != "" {
			msg := m.ErrorDetail.Message
			if msg == "" {
				msg = m.Error
			}
			if last != "" {
				msg += " (after: " + last + ")"
			}
			return id, &Error{Op: op, StatusCode: http.StatusOK, Message: msg}
		}
		if m.Aux.ID != "" {
			id = m.Aux.ID
		}
		if s := strings.TrimSpace(m.Stream); s != "" {
			last = s
		}
	}
}

// Stream identifiers in a multiplexed stream header.
const (
	streamStdin  = 0
	streamStdout = 1
	streamStderr = 2
	streamSystem = 3
)

// ErrBadStream reports a multiplexed stream that does not follow the
// engine's framing.
var ErrBadStream = errors.New("malformed docker log stream")

// Demultiplex splits the engine's multiplexed stdout/stderr stream (8-byte
// frame headers: stream id, three zero bytes, big-endian payload length)
// into stdout and stderr, in stream order. Either writer may be the same.
// A stream without valid headers (a TTY container's raw output) yields
// ErrBadStream; a frame cut short by the end of input is written as far as
// it goes.
func Demultiplex(stdout, stderr io.Writer, r io.Reader) error {
	br := bufio.NewReaderSize(r, 32<<10)
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("%w: truncated frame header", ErrBadStream)
			}
			return err
		}
		var dst io.Writer
		switch hdr[0] {
		case streamStdin, streamStdout:
			dst = stdout
		case streamStderr, streamSystem:
			dst = stderr
		default:
			return fmt.Errorf("%w: unknown stream id %d", ErrBadStream, hdr[0])
		}
		if hdr[1] != 0 || hdr[2] != 0 || hdr[3] != 0 {
			return fmt.Errorf("%w: bad frame header", ErrBadStream)
		}
		n := int64(binary.BigEndian.Uint32(hdr[4:]))
		if _, err := io.CopyN(dst, br, n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
