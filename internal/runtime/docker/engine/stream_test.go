package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// frame builds one multiplexed stream frame.
func frame(stream byte, payload string) []byte {
	b := make([]byte, 8+len(payload))
	b[0] = stream
	binary.BigEndian.PutUint32(b[4:], uint32(len(payload)))
	copy(b[8:], payload)
	return b
}

func TestDemultiplex(t *testing.T) {
	var in bytes.Buffer
	in.Write(frame(streamStdout, "out 1\n"))
	in.Write(frame(streamStderr, "err 1\n"))
	in.Write(frame(streamStdout, ""))
	in.Write(frame(streamStdout, "out 2\n"))
	var out, errOut, both bytes.Buffer
	if err := Demultiplex(&out, &errOut, bytes.NewReader(in.Bytes())); err != nil {
		t.Fatal(err)
	}
	if out.String() != "out 1\nout 2\n" || errOut.String() != "err 1\n" {
		t.Errorf("stdout %q stderr %q", out.String(), errOut.String())
	}
	if err := Demultiplex(&both, &both, bytes.NewReader(in.Bytes())); err != nil {
		t.Fatal(err)
	}
	if both.String() != "out 1\nerr 1\nout 2\n" {
		t.Errorf("interleaved = %q, want stream order", both.String())
	}
}

func TestDemultiplexLargeFrame(t *testing.T) {
	payload := strings.Repeat("x", 100_000)
	var out bytes.Buffer
	if err := Demultiplex(&out, &out, bytes.NewReader(frame(streamStdout, payload))); err != nil {
		t.Fatal(err)
	}
	if out.Len() != len(payload) {
		t.Errorf("got %d bytes, want %d", out.Len(), len(payload))
	}
}

func TestDemultiplexMalformed(t *testing.T) {
	tests := map[string][]byte{
		"raw tty output":   []byte("hello world, this is not framed\n"),
		"truncated header": frame(streamStdout, "ok")[:5],
		"unknown stream":   frame(9, "x"),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Demultiplex(&out, &out, bytes.NewReader(in)); !errors.Is(err, ErrBadStream) {
				t.Errorf("error = %v, want ErrBadStream", err)
			}
		})
	}
}

func TestDemultiplexTruncatedPayload(t *testing.T) {
	in := frame(streamStdout, "complete line\n")
	var out bytes.Buffer
	if err := Demultiplex(&out, &out, bytes.NewReader(in[:len(in)-5])); err != nil {
		t.Fatalf("error = %v, want the partial frame written", err)
	}
	if out.String() != "complete " {
		t.Errorf("got %q", out.String())
	}
}

func TestReadMessages(t *testing.T) {
	ok := `{"stream":"Step 1/2 : FROM scratch\n"}
{"aux":{"ID":"sha256:abc"}}
{"stream":"Successfully built abc\n"}
`
	id, err := readMessages("image build", strings.NewReader(ok))
	if err != nil || id != "sha256:abc" {
		t.Fatalf("readMessages = %q, %v", id, err)
	}
	failed := `{"status":"Pulling from library/nope"}
{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}
`
	_, err = readMessages("image pull", strings.NewReader(failed))
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(e.Message, "manifest unknown") {
		t.Fatalf("error = %v, want *Error with the stream's message", err)
	}
	if _, err := readMessages("image pull", strings.NewReader(`{"status":`)); err == nil {
		t.Fatal("truncated stream: want error")
	}
}
