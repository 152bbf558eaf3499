package docker

import (
	"testing"

	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/runtime/docker/engine"
)

func TestStateOf(t *testing.T) {
	tests := []struct {
		name string
		in   engine.ContainerState
		want runtime.State
	}{
		{"running", engine.ContainerState{Status: "running", Running: true},
			runtime.State{Running: true, ExitCode: -1, Detail: "running"}},
		{"exited", engine.ContainerState{Status: "exited", ExitCode: 3},
			runtime.State{ExitCode: 3, Detail: "exited with code 3"}},
		{"killed", engine.ContainerState{Status: "exited", ExitCode: 137},
			runtime.State{ExitCode: 137, Detail: "exited with code 137 (SIGKILL)"}},
		{"oom", engine.ContainerState{Status: "exited", ExitCode: 137, OOMKilled: true},
			runtime.State{ExitCode: 137, OOMKilled: true, Detail: "killed: out of memory"}},
		{"created", engine.ContainerState{Status: "created"},
			runtime.State{ExitCode: -1, Detail: "created, not started"}},
		{"start failed", engine.ContainerState{Status: "created", ExitCode: 127, Error: "exec: \"/app\": not found"},
			runtime.State{ExitCode: -1, Detail: "created, not started: exec: \"/app\": not found"}},
		{"paused", engine.ContainerState{Status: "paused", Running: true, Paused: true},
			runtime.State{Running: true, ExitCode: -1, Detail: "paused"}},
		{"dead", engine.ContainerState{Status: "dead", Dead: true, ExitCode: 1},
			runtime.State{ExitCode: 1, Detail: "dead (exit code 1)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stateOf(tt.in); got != tt.want {
				t.Errorf("stateOf = %+v, want %+v", got, tt.want)
			}
		})
	}
}
