package process

import (
	"errors"
	"io/fs"
	"os"
	"testing"
)

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want procStat
	}{
		{"plain", "42 (sleep) S 1 42 42 0 -1 4194304 99 0 0 0 0 0 0 0 20 0 1 0 987654 1000 200",
			procStat{state: 'S', ppid: 1, pgrp: 42, start: 987654}},
		{"spaces and parens in comm", "42 (a) b (c)) Z 7 8 8 0 -1 4194304 99 0 0 0 0 0 0 0 20 0 1 0 123456 1000 200\n",
			procStat{state: 'Z', ppid: 7, pgrp: 8, start: 123456}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStat([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("parseProcStat = %+v, want %+v", got, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "42 sleep S 1", "42 (x) S 1 2", "42 (x) SS 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"} {
		if _, err := parseProcStat([]byte(bad)); !errors.Is(err, errMalformedStat) {
			t.Errorf("parseProcStat(%q) err = %v, want errMalformedStat", bad, err)
		}
	}
}

func TestReadProcStatSelf(t *testing.T) {
	st, err := readProcStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.state == 'Z' || st.start == 0 || st.ppid != os.Getppid() {
		t.Fatalf("own stat = %+v", st)
	}
	if _, err := readProcStat(1 << 30); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing pid: %v, want fs.ErrNotExist", err)
	}
}
