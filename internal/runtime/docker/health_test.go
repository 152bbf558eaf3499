package docker

import (
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/dockertest"
)

func TestDockerHealthUnhealthy(t *testing.T) {
	e := newTestEnv(t)
	inst := e.start(e.service(config.Docker{Network: "host", Command: []string{"--unhealthy"}}), "v1")
	e.waitHealth(inst, HealthUnhealthy)
	e.stop(inst)
}

func TestDockerHealthNone(t *testing.T) {
	e := newTestEnv(t)
	repo := e.repo + "-nocheck"
	dockertest.BuildImage(t, map[string][]byte{
		"Dockerfile": []byte("FROM " + e.repo + ":v1\nHEALTHCHECK NONE\n"),
	}, repo+":v1")
	inst := e.start(e.service(config.Docker{Image: repo + ":{{.Version}}", Network: "host"}), "v1")
	if got, err := e.rt.DockerHealth(e.ctx, inst); err != nil || got != HealthNone {
		t.Errorf("DockerHealth = %q, %v; want none", got, err)
	}
	e.stop(inst)
}

func TestStopKillsAfterGrace(t *testing.T) {
	e := newTestEnv(t)
	// Go programs ignore SIGWINCH, so only the kill after the grace ends it.
	inst := e.start(e.service(config.Docker{Network: "host", StopSignal: "SIGWINCH"}), "v1")
	waitHTTP(t, inst.Addr, "/healthz")
	const grace = time.Second
	start := time.Now()
	e.stopWithin(inst, grace) // fails the test unless the container is gone afterwards
	if waited := time.Since(start); waited < grace {
		t.Errorf("Stop returned after %v, before the %v grace period", waited, grace)
	}
}
