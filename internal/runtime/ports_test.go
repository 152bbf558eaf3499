package runtime

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover/internal/testutil"
)

// occupy listens on port until the test ends.
func occupy(t *testing.T, port int) {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
}

func TestPickPortFirstFree(t *testing.T) {
	pool := testutil.FreePorts(t, 3)
	got, err := PickPort(pool, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if got != pool[0] {
		t.Fatalf("PickPort = %d, want first port %d", got, pool[0])
	}
}

func TestPickPortSkipsInUse(t *testing.T) {
	pool := testutil.FreePorts(t, 3)
	got, err := PickPort(pool, map[int]bool{pool[0]: true}, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if got != pool[1] {
		t.Fatalf("PickPort = %d, want %d", got, pool[1])
	}
}

func TestPickPortSkipsBoundByOthers(t *testing.T) {
	pool := testutil.FreePorts(t, 3)
	occupy(t, pool[0])
	got, err := PickPort(pool, map[int]bool{pool[1]: true}, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if got != pool[2] {
		t.Fatalf("PickPort = %d, want %d", got, pool[2])
	}
}

func TestPickPortNoneFree(t *testing.T) {
	pool := testutil.FreePorts(t, 2)
	occupy(t, pool[1])
	_, err := PickPort(pool, map[int]bool{pool[0]: true}, "127.0.0.1")
	if !errors.Is(err, ErrNoFreePort) {
		t.Fatalf("err = %v, want ErrNoFreePort", err)
	}
	msg := err.Error()
	for _, want := range []string{
		strconv.Itoa(pool[0]) + " held by a cutover instance",
		strconv.Itoa(pool[1]) + " busy",
		"address already in use",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
}

func TestPickPortBadInput(t *testing.T) {
	tests := []struct {
		name string
		pool []int
		want string
	}{
		{"empty pool", nil, "no ports configured"},
		{"out of range", []int{70000}, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := PickPort(tt.pool, nil, "")
			if !errors.Is(err, ErrNoFreePort) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrNoFreePort mentioning %q", err, tt.want)
			}
		})
	}
}
