package engine

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// ContainerConfig is the body of a container create call: the subset of the
// engine's container config that cutover sets.
type ContainerConfig struct {
	Image        string              `json:"Image"`
	Cmd          []string            `json:"Cmd,omitempty"`
	Env          []string            `json:"Env,omitempty"`
	Labels       map[string]string   `json:"Labels,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	StopSignal   string              `json:"StopSignal,omitempty"`
	HostConfig   HostConfig          `json:"HostConfig"`
}

// HostConfig is the host-dependent part of a container config.
type HostConfig struct {
	Binds         []string                 `json:"Binds,omitempty"`
	NetworkMode   string                   `json:"NetworkMode,omitempty"`
	PortBindings  map[string][]PortBinding `json:"PortBindings,omitempty"`
	Memory        int64                    `json:"Memory,omitempty"`
	NanoCPUs      int64                    `json:"NanoCpus,omitempty"`
	RestartPolicy RestartPolicy            `json:"RestartPolicy"`
}

// PortBinding publishes a container port on a host address.
type PortBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string `json:"HostPort"`
}

// RestartPolicy tells the engine whether to restart a container; cutover
// always uses "no" because the controller decides.
type RestartPolicy struct {
	Name string `json:"Name"`
}

// ContainerCreate creates a container named name (may be empty) and returns
// its id and the engine's warnings.
func (c *Client) ContainerCreate(ctx context.Context, name string, cfg ContainerConfig) (string, []string, error) {
	q := url.Values{}
	if name != "" {
		q.Set("name", name)
	}
	resp, err := c.call(ctx, "container create", http.MethodPost, "/containers/create", q, cfg)
	if err != nil {
		return "", nil, err
	}
	var out struct {
		ID       string   `json:"Id"`
		Warnings []string `json:"Warnings"`
	}
	if err := decode("container create", resp, &out); err != nil {
		return "", nil, err
	}
	return out.ID, out.Warnings, nil
}

// ContainerStart starts a created container. Starting a running container
// is not an error.
func (c *Client) ContainerStart(ctx context.Context, id string) error {
	resp, err := c.call(ctx, "container start", http.MethodPost, "/containers/"+url.PathEscape(id)+"/start", nil, nil)
	if err != nil {
		return err
	}
	drain(resp)
	return nil
}

// ContainerStop sends the container's stop signal, waits up to grace
// (rounded up to whole seconds, the engine's unit) and then kills it. It
// returns when the container has stopped. Stopping a stopped container is
// not an error.
func (c *Client) ContainerStop(ctx context.Context, id string, grace time.Duration) error {
	secs := int(math.Ceil(grace.Seconds()))
	if secs < 0 {
		secs = 0
	}
	q := url.Values{"t": {strconv.Itoa(secs)}}
	resp, err := c.call(ctx, "container stop", http.MethodPost, "/containers/"+url.PathEscape(id)+"/stop", q, nil)
	if err != nil {
		return err
	}
	drain(resp) // 204 stopped, 304 already stopped
	return nil
}

// RemoveOptions tunes ContainerRemove.
type RemoveOptions struct {
	// Force kills a running container first.
	Force bool
	// Volumes also removes the container's anonymous volumes.
	Volumes bool
}

// ContainerRemove deletes a container.
func (c *Client) ContainerRemove(ctx context.Context, id string, opts RemoveOptions) error {
	q := url.Values{"force": {strconv.FormatBool(opts.Force)}, "v": {strconv.FormatBool(opts.Volumes)}}
	resp, err := c.call(ctx, "container remove", http.MethodDelete, "/containers/"+url.PathEscape(id), q, nil)
	if err != nil {
		return err
	}
	drain(resp)
	return nil
}

// ContainerState is the runtime state part of a container inspect.
type ContainerState struct {
	// Status is created, running, paused, restarting, removing, exited or dead.
	Status     string  `json:"Status"`
	Running    bool    `json:"Running"`
	Paused     bool    `json:"Paused"`
	Restarting bool    `json:"Restarting"`
	OOMKilled  bool    `json:"OOMKilled"`
	Dead       bool    `json:"Dead"`
	Pid        int     `json:"Pid"`
	ExitCode   int     `json:"ExitCode"`
	Error      string  `json:"Error"`
	StartedAt  string  `json:"StartedAt"`
	FinishedAt string  `json:"FinishedAt"`
	Health     *Health `json:"Health"`
}

// Health is the result of the image's HEALTHCHECK.
type Health struct {
	// Status is starting, healthy or unhealthy.
	Status        string `json:"Status"`
	FailingStreak int    `json:"FailingStreak"`
}

// ContainerInfo is the subset of a container inspect cutover reads.
type ContainerInfo struct {
	ID      string         `json:"Id"`
	Name    string         `json:"Name"`
	Image   string         `json:"Image"` // image id
	Created string         `json:"Created"`
	State   ContainerState `json:"State"`
	Config  struct {
		Image      string            `json:"Image"` // reference the container was created from
		Cmd        []string          `json:"Cmd"`
		Env        []string          `json:"Env"`
		Labels     map[string]string `json:"Labels"`
		StopSignal string            `json:"StopSignal"`
	} `json:"Config"`
	HostConfig struct {
		NetworkMode  string                   `json:"NetworkMode"`
		Memory       int64                    `json:"Memory"`
		NanoCPUs     int64                    `json:"NanoCpus"`
		Binds        []string                 `json:"Binds"`
		PortBindings map[string][]PortBinding `json:"PortBindings"`
	} `json:"HostConfig"`
}

// ContainerInspect returns a container's configuration and state; the error
// matches ErrNotFound when the container does not exist.
func (c *Client) ContainerInspect(ctx context.Context, id string) (ContainerInfo, error) {
	var info ContainerInfo
	resp, err := c.call(ctx, "container inspect", http.MethodGet, "/containers/"+url.PathEscape(id)+"/json", nil, nil)
	if err != nil {
		return info, err
	}
	err = decode("container inspect", resp, &info)
	return info, err
}

// ContainerSummary is one entry of a container list.
type ContainerSummary struct {
	ID      string            `json:"Id"`
	Names   []string          `json:"Names"`
	Image   string            `json:"Image"`
	ImageID string            `json:"ImageID"`
	Created int64             `json:"Created"` // unix seconds
	State   string            `json:"State"`
	Status  string            `json:"Status"`
	Labels  map[string]string `json:"Labels"`
}

// ListOptions filters ContainerList.
type ListOptions struct {
	// All includes stopped containers.
	All bool
	// Labels keeps containers carrying every "key" or "key=value" given.
	Labels []string
}

// ContainerList lists containers.
func (c *Client) ContainerList(ctx context.Context, opts ListOptions) ([]ContainerSummary, error) {
	q := url.Values{"all": {strconv.FormatBool(opts.All)}}
	if len(opts.Labels) > 0 {
		f, err := filterQuery(map[string][]string{"label": opts.Labels})
		if err != nil {
			return nil, fmt.Errorf("docker container list: %w", err)
		}
		q.Set("filters", f)
	}
	resp, err := c.call(ctx, "container list", http.MethodGet, "/containers/json", q, nil)
	if err != nil {
		return nil, err
	}
	var out []ContainerSummary
	err = decode("container list", resp, &out)
	return out, err
}

// ContainerLogs returns the last tail lines of a container's stdout and
// stderr (all lines when tail < 0) as the engine's multiplexed stream; read
// it with Demultiplex. The caller closes the reader. Containers created with
// a TTY (cutover never does) answer a raw stream instead.
func (c *Client) ContainerLogs(ctx context.Context, id string, tail int) (io.ReadCloser, error) {
	t := "all"
	if tail >= 0 {
		t = strconv.Itoa(tail)
	}
	q := url.Values{"stdout": {"1"}, "stderr": {"1"}, "tail": {t}}
	resp, err := c.call(ctx, "container logs", http.MethodGet, "/containers/"+url.PathEscape(id)+"/logs", q, nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}
