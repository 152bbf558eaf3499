package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cutover-dev/cutover/internal/api"
	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/coord"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/fleet"
	"github.com/cutover-dev/cutover/internal/handover"
	"github.com/cutover-dev/cutover/internal/store"
)

// takeOverWait bounds how long a successor waits for its predecessor to
// release the state directory and the coordination store (it releases
// them before starting the successor, so the wait is for safety only).
const takeOverWait = 10 * time.Second

// listenFunc opens a listening socket called name, taking it over from a
// predecessor or systemd when there is one, else with bind.
type listenFunc func(name, network, addr string, bind func() (net.Listener, error)) (net.Listener, error)

// bindOnly is the listenFunc of a process that takes over no socket.
func bindOnly(_, _, _ string, bind func() (net.Listener, error)) (net.Listener, error) { return bind() }

// controlPlane is what one cutover process holds alone: the state
// directory's lock, the coordination store and the host's fleet
// membership. An upgrade releases it for the successor, and takes it back
// when the successor fails.
type controlPlane struct {
	cfg     *config.Config
	log     *slog.Logger
	st      *store.Local
	ctl     *deploy.Controller
	gate    *readyGate
	members *atomic.Pointer[fleet.Agent]
	wait    time.Duration // how long to wait for a predecessor's locks

	cstMu sync.Mutex  // guards writes of cst, and reads by others than the main loop
	cst   coord.Store // nil when released
}

// store returns the coordination store (nil while released).
func (cp *controlPlane) store() coord.Store {
	cp.cstMu.Lock()
	defer cp.cstMu.Unlock()
	return cp.cst
}

func (cp *controlPlane) setStore(st coord.Store) {
	cp.cstMu.Lock()
	cp.cst = st
	cp.cstMu.Unlock()
}

// lock takes the state directory's lock, waiting up to cp.wait for a
// predecessor to release it; without a predecessor another holder is an
// error at once.
func (cp *controlPlane) lock(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, cp.wait)
	defer cancel()
	if cp.wait <= 0 {
		cancel() // try once
	}
	return cp.st.Lock(wctx)
}

// join opens the coordination store and starts this host's fleet member.
func (cp *controlPlane) join(ctx context.Context) error {
	deadline := time.Now().Add(cp.wait)
	for {
		cst, err := openCoord(ctx, cp.cfg, cp.log)
		if err == nil {
			cp.setStore(cst)
			break
		}
		if !errors.Is(err, store.ErrLocked) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(10 * time.Millisecond):
		}
	}
	member, err := startFleet(ctx, cp.cfg, cp.cst, cp.ctl, cp.log)
	if err != nil {
		_ = cp.cst.Close()
		cp.setStore(nil)
		return err
	}
	cp.members.Store(member)
	cp.gate.setMember(member)
	return nil
}

// release hands the control plane to a successor: the controller is
// suspended (refused with deploy.ErrBusy while an operation runs), the
// ready path answers what it answers now, and the fleet membership, the
// coordination store and the state lock are let go.
func (cp *controlPlane) release() error {
	if err := cp.ctl.Suspend(); err != nil {
		return err
	}
	cp.gate.freeze()
	if m := cp.members.Load(); m != nil {
		_ = m.Close()
	}
	if cp.cst != nil {
		_ = cp.cst.Close()
		cp.setStore(nil)
	}
	return cp.st.Unlock()
}

// retake takes the control plane back after a failed upgrade.
func (cp *controlPlane) retake(ctx context.Context) error {
	if err := cp.lock(ctx); err != nil {
		return fmt.Errorf("take the state directory back: %w", err)
	}
	// The ready path answers as frozen until the new member is set: no
	// probe meets the member that was closed.
	err := cp.join(ctx)
	cp.gate.unfreeze()
	if err != nil {
		return fmt.Errorf("join the fleet again: %w", err)
	}
	return cp.ctl.Unsuspend(ctx)
}

// close lets go of the fleet membership and the coordination store.
func (cp *controlPlane) close() {
	if m := cp.members.Load(); m != nil {
		_ = m.Close()
	}
	if cp.cst != nil {
		_ = cp.cst.Close()
	}
}

// upgradeReq asks the main loop to upgrade.
type upgradeReq struct {
	binary string
	start  time.Time
	done   chan upgradeResp
}

type upgradeResp struct {
	res api.UpgradeResult
	err error
}

// upgrader replaces the process with a successor that takes over its
// sockets.
type upgrader struct {
	sockets *handover.Sockets // nil: the process cannot hand over
	cp      *controlPlane
	log     *slog.Logger
	// current returns every listening socket by name.
	current func() map[string]handover.Socket
}

// run releases the control plane, starts the successor with the sockets
// and waits until it serves. When it fails, the control plane is taken
// back and this process goes on serving.
func (u *upgrader) run(ctx context.Context, binary string, start time.Time) (api.UpgradeResult, error) {
	if u.sockets == nil {
		return api.UpgradeResult{}, fmt.Errorf("%w: %w", api.ErrUpgradeFailed, handover.ErrNotSupported)
	}
	if binary == "" {
		binary = os.Args[0]
	}
	// The previous process must have exited: it drains for up to
	// shutdownTimeout after it handed over.
	wctx, cancel := context.WithTimeout(ctx, shutdownTimeout+5*time.Second)
	defer cancel()
	if err := u.sockets.WaitForPredecessor(wctx); err != nil {
		return api.UpgradeResult{}, fmt.Errorf("%w: the process this one took over from is still draining: %v", api.ErrUpgradeFailed, err)
	}
	u.log.Info("upgrade: handing over to a new process", "binary", binary)
	if err := u.cp.release(); err != nil {
		return api.UpgradeResult{}, err
	}
	pid, err := u.sockets.Upgrade(binary, u.current())
	if err != nil {
		u.log.Error("upgrade failed; this process goes on serving", "err", err)
		if rerr := u.cp.retake(ctx); rerr != nil {
			u.log.Error("take the control plane back after the failed upgrade", "err", rerr)
			err = fmt.Errorf("%v; taking the control plane back failed too: %v", err, rerr)
		}
		return api.UpgradeResult{}, fmt.Errorf("%w: %s", api.ErrUpgradeFailed, strings.TrimPrefix(err.Error(), handover.ErrUpgradeFailed.Error()+": "))
	}
	res := api.UpgradeResult{PID: pid, Previous: os.Getpid(), Binary: binary, Took: time.Since(start)}
	u.log.Info("upgrade: the new process serves; draining this one", "pid", pid, "took", res.Took.Round(time.Millisecond))
	return res, nil
}

// withAddrs pairs sockets with their configured addresses.
func withAddrs(socks map[string]net.Listener, addrs map[string]string) map[string]handover.Socket {
	out := map[string]handover.Socket{}
	for name, ln := range socks {
		out[name] = handover.Socket{Listener: ln, Addr: addrs[name]}
	}
	return out
}

// Upgrade implements api.UpgradeBackend: the main loop runs it.
func (b *backend) Upgrade(ctx context.Context, binary string) (api.UpgradeResult, error) {
	req := upgradeReq{binary: binary, start: time.Now(), done: make(chan upgradeResp, 1)}
	select {
	case b.upgrades <- req:
	case <-ctx.Done():
		return api.UpgradeResult{}, ctx.Err()
	}
	resp := <-req.done
	return resp.res, resp.err
}
