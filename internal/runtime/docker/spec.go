package docker

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/runtime"
	"github.com/cutover-dev/cutover/internal/runtime/docker/engine"
)

// Network modes.
const (
	networkHost   = "host"
	networkBridge = "bridge"
)

// defaultContainerPort is the app's port inside a bridge-networked container.
const defaultContainerPort = 8080

// Pull policies.
const (
	pullNever   = "never"
	pullMissing = "missing"
	pullAlways  = "always"
)

// templateData is what Image, Command and Env values may refer to.
type templateData struct {
	// Service is the service name.
	Service string
	// Version is the version being started.
	Version string
	// Instance is the instance id.
	Instance string
	// Port is the port the app listens on: the host port with host
	// networking, the container port otherwise.
	Port int
	// HostPort is the port the proxy reaches the instance on.
	HostPort int
}

// plan is everything needed to create one container.
type plan struct {
	name   string
	image  string
	pull   string
	addr   string
	config engine.ContainerConfig
}

// makePlan turns a start spec into a container config. It reads env files
// but does not talk to the engine.
func (r *Runtime) makePlan(spec runtime.StartSpec) (plan, error) {
	if spec.Service == nil || spec.Service.Docker == nil {
		return plan{}, fmt.Errorf("%w: service has no docker section", ErrInvalidSpec)
	}
	svc, d := spec.Service, spec.Service.Docker
	switch {
	case d.Image == "":
		return plan{}, fmt.Errorf("%w: docker.image is empty; set it, e.g. \"shop/api:{{.Version}}\"", ErrInvalidSpec)
	case spec.Version == "":
		return plan{}, fmt.Errorf("%w: version is empty", ErrInvalidSpec)
	case spec.InstanceID == "":
		return plan{}, fmt.Errorf("%w: instance id is empty", ErrInvalidSpec)
	case spec.Port <= 0 || spec.Port > 65535:
		return plan{}, fmt.Errorf("%w: port %d out of range 1-65535", ErrInvalidSpec, spec.Port)
	}

	network := d.Network
	if network == "" {
		network = networkBridge
	}
	data := templateData{Service: svc.Name, Version: spec.Version, Instance: spec.InstanceID, Port: spec.Port, HostPort: spec.Port}
	containerPort := d.ContainerPort
	if containerPort == 0 {
		containerPort = defaultContainerPort
	}
	if network != networkHost {
		data.Port = containerPort
	}

	image, err := render("docker.image", d.Image, data)
	if err != nil {
		return plan{}, err
	}
	pull := d.Pull
	if pull == "" {
		pull = pullMissing
	}
	if pull != pullNever && pull != pullMissing && pull != pullAlways {
		return plan{}, fmt.Errorf("%w: docker.pull %q: want never, missing or always", ErrInvalidSpec, d.Pull)
	}
	cmd := make([]string, 0, len(d.Command))
	for i, a := range d.Command {
		s, err := render(fmt.Sprintf("docker.command[%d]", i), a, data)
		if err != nil {
			return plan{}, err
		}
		cmd = append(cmd, s)
	}
	env, err := buildEnv(d, data)
	if err != nil {
		return plan{}, err
	}
	memory, err := parseMemory(d.Memory)
	if err != nil {
		return plan{}, err
	}
	cpus, err := nanoCPUs(d.CPUs)
	if err != nil {
		return plan{}, err
	}
	if err := checkVolumes(d.Volumes); err != nil {
		return plan{}, err
	}

	bindIP, addr := addresses(svc.Host, spec.Port)
	labels := map[string]string{}
	for k, v := range d.Labels {
		if strings.HasPrefix(k, reservedLabelPrefix) {
			return plan{}, fmt.Errorf("%w: docker.labels %q: the %q prefix is reserved for cutover", ErrInvalidSpec, k, reservedLabelPrefix)
		}
		labels[k] = v
	}
	labels[LabelService] = svc.Name
	labels[LabelVersion] = spec.Version
	labels[LabelInstance] = spec.InstanceID
	labels[LabelOwner] = r.owner
	labels[LabelPort] = strconv.Itoa(spec.Port)
	labels[LabelAddr] = addr

	cfg := engine.ContainerConfig{
		Image:      image,
		Env:        env,
		Labels:     labels,
		StopSignal: d.StopSignal,
		HostConfig: engine.HostConfig{
			Binds:         d.Volumes,
			NetworkMode:   network,
			Memory:        memory,
			NanoCPUs:      cpus,
			RestartPolicy: engine.RestartPolicy{Name: "no"},
		},
	}
	if len(cmd) > 0 {
		cfg.Cmd = cmd
	}
	if network != networkHost {
		p := strconv.Itoa(containerPort) + "/tcp"
		cfg.ExposedPorts = map[string]struct{}{p: {}}
		cfg.HostConfig.PortBindings = map[string][]engine.PortBinding{
			p: {{HostIP: bindIP, HostPort: strconv.Itoa(spec.Port)}},
		}
	}
	return plan{
		name:   containerName(svc.Name, spec.Version, spec.InstanceID),
		image:  image,
		pull:   pull,
		addr:   addr,
		config: cfg,
	}, nil
}

// addresses returns the host address a bridge container's port is published
// on (the service's host, default 127.0.0.1) and the address the proxy
// dials (loopback when the service's host is a wildcard).
func addresses(host string, port int) (bindIP, addr string) {
	bindIP = host
	if bindIP == "" {
		bindIP = "127.0.0.1"
	}
	dial := bindIP
	if ip := net.ParseIP(bindIP); ip != nil && ip.IsUnspecified() {
		dial = "127.0.0.1"
	}
	return bindIP, net.JoinHostPort(dial, strconv.Itoa(port))
}

// buildEnv merges env files (in order), the env map (templated values) and
// cutover's own variables, which win, into sorted KEY=VALUE entries.
func buildEnv(d *config.Docker, data templateData) ([]string, error) {
	vars := map[string]string{}
	for _, f := range d.EnvFiles {
		if err := readEnvFile(f, vars); err != nil {
			return nil, err
		}
	}
	for k, v := range d.Env {
		s, err := render("docker.env."+k, v, data)
		if err != nil {
			return nil, err
		}
		vars[k] = s
	}
	vars["PORT"] = strconv.Itoa(data.Port)
	vars["CUTOVER_SERVICE"] = data.Service
	vars["CUTOVER_VERSION"] = data.Version
	vars["CUTOVER_INSTANCE"] = data.Instance
	env := make([]string, 0, len(vars))
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		env = append(env, k+"="+vars[k])
	}
	return env, nil
}

// checkVolumes accepts "src:dst" and "src:dst:mode" with an absolute dst.
func checkVolumes(vols []string) error {
	for i, v := range vols {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || !strings.HasPrefix(parts[1], "/") || (len(parts) == 3 && parts[2] == "") {
			return fmt.Errorf("%w: docker.volumes[%d] %q: want \"/host/path:/container/path\" or \"name:/path:ro\"", ErrInvalidSpec, i, v)
		}
	}
	return nil
}

// render executes a template string; strings without "{{" are returned as is.
func render(field, text string, data templateData) (string, error) {
	if !strings.Contains(text, "{{") {
		return text, nil
	}
	t, err := template.New(field).Option("missingkey=error").Parse(text)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %w", ErrInvalidSpec, field, err)
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("%w: %s: %w (fields: .Service .Version .Instance .Port .HostPort)", ErrInvalidSpec, field, err)
	}
	return b.String(), nil
}
