package handover

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

func TestSameAddr(t *testing.T) {
	tcp := func(s string) net.Addr {
		a, err := net.ResolveTCPAddr("tcp", s)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, tc := range []struct {
		got     net.Addr
		network string
		want    string
		same    bool
	}{
		{tcp("127.0.0.1:8080"), "tcp", "127.0.0.1:8080", true},
		{tcp("127.0.0.1:8080"), "tcp", "127.0.0.1:8081", false},
		{tcp("127.0.0.1:8080"), "tcp", "10.0.0.1:8080", false},
		{tcp("[::]:8080"), "tcp", ":8080", true},
		{tcp("0.0.0.0:8080"), "tcp", "0.0.0.0:8080", true},
		{tcp("127.0.0.1:8080"), "tcp", ":8080", false},
		{&net.UnixAddr{Name: "/run/cutover/admin.sock", Net: "unix"}, "unix", "/run/cutover/admin.sock", true},
		{&net.UnixAddr{Name: "/run/cutover/admin.sock", Net: "unix"}, "unix", "/run/other.sock", false},
		{tcp("127.0.0.1:8080"), "unix", "127.0.0.1:8080", false},
	} {
		if got := sameAddr(tc.got, tc.network, tc.want); got != tc.same {
			t.Errorf("sameAddr(%v, %s, %s) = %v, want %v", tc.got, tc.network, tc.want, got, tc.same)
		}
	}
}

// helperEnv makes the test binary run systemdHelper instead of the tests.
const helperEnv = "HANDOVER_TEST_SYSTEMD_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(systemdHelper())
	}
	os.Exit(m.Run())
}

// systemdHelper is a process systemd started with two sockets on fds 3
// and 4, the first named "http", the second unnamed: it takes the first by
// name, the second by address, and reports them.
func systemdHelper() int {
	os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	s, err := New(Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println("new:", err)
		return 1
	}
	bound := func() (net.Listener, error) { return nil, fmt.Errorf("bound instead of taken from systemd") }
	ln1, err := s.Listen("http", "tcp", os.Getenv("WANT_HTTP"), bound)
	if err != nil {
		fmt.Println("http:", err)
		return 1
	}
	ln2, err := s.Listen("metrics", "tcp", os.Getenv("WANT_OTHER"), bound)
	if err != nil {
		fmt.Println("metrics:", err)
		return 1
	}
	if os.Getenv("LISTEN_FDS") != "" {
		fmt.Println("LISTEN_FDS left in the environment")
		return 1
	}
	fmt.Println(ln1.Addr(), ln2.Addr())
	return 0
}

// TestSystemdSockets: sockets passed by systemd are taken by name
// (LISTEN_FDNAMES) or, unnamed, by address, instead of being bound.
func TestSystemdSockets(t *testing.T) {
	var files []*os.File
	var addrs []string
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		f, err := ln.(*net.TCPListener).File()
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files = append(files, f)
		addrs = append(addrs, ln.Addr().String())
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.ExtraFiles = files
	cmd.Env = append(os.Environ(), helperEnv+"=1", "LISTEN_FDS=2", "LISTEN_FDNAMES=http:",
		"WANT_HTTP="+addrs[0], "WANT_OTHER="+addrs[1])
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	if want := addrs[0] + " " + addrs[1] + "\n"; string(out) != want {
		t.Errorf("helper took %q, want %q", out, want)
	}
}

// TestSecondSocketsBindsAndCannotUpgrade: a second Sockets in one process
// (the first holds the process's only upgrader) binds its sockets and
// refuses upgrades.
func TestSecondSocketsBindsAndCannotUpgrade(t *testing.T) {
	quiet := Options{Logger: slog.New(slog.DiscardHandler)}
	first, err := New(quiet)
	if err != nil {
		t.Fatal(err)
	}
	second, err := New(quiet)
	if err != nil {
		t.Fatalf("second New: %v", err)
	}
	for _, s := range []*Sockets{first, second} {
		if s.Inherited() {
			t.Error("Inherited without a predecessor")
		}
	}
	ln, err := second.Listen("http", "tcp", "127.0.0.1:0", func() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") })
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := second.Upgrade("", nil); !errors.Is(err, ErrNotSupported) {
		t.Errorf("Upgrade on the second = %v, want ErrNotSupported", err)
	}
}
