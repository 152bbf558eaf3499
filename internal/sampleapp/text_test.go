package sampleapp

import (
	"bytes"
	"testing"
)

func TestText(t *testing.T) {
	r := start(t, "--version", "v3")
	for _, tc := range []struct {
		path, ct string
		size     int
		length   int64
	}{
		{"/text", "text/plain; charset=utf-8", 10000, 10000},
		{"/text?size=50000&type=application/xml", "application/xml", 50000, 50000},
		{"/text?size=50000&chunked=1", "text/plain; charset=utf-8", 50000, -1},
		{"/text?size=0", "text/plain; charset=utf-8", 0, 0},
	} {
		resp, _, body := get(t, r, tc.path)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tc.ct || resp.ContentLength != tc.length {
			t.Errorf("%s: %d %q length %d", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), resp.ContentLength)
		}
		if !bytes.Equal([]byte(body), TextBody("v3", tc.size)) {
			t.Errorf("%s: body of %d bytes differs from TextBody", tc.path, len(body))
		}
	}
	if resp, _, _ := get(t, r, "/text?size=-1"); resp.StatusCode != 400 {
		t.Errorf("size=-1: %d", resp.StatusCode)
	}
}
