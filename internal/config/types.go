// Package config defines cutover.yaml: its schema, defaults and validation.
//
// Load parses a file strictly (unknown keys are errors) and returns a Config
// with every default applied, or an Errors value whose entries each name the
// file, line, field path and the fix.
package config

import "time"

// Duration is a time.Duration that reads YAML strings such as "30s" or "5m".
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Config is the whole cutover.yaml after defaults are applied.
type Config struct {
	// Path is the file the config was read from ("" when built in code).
	Path string `yaml:"-"`

	// Listen holds the proxy's public listeners.
	Listen Listen `yaml:"listen"`
	// Admin holds where the admin API listens.
	Admin Admin `yaml:"admin"`
	// StateDir is where state, history and instance logs live.
	// Default "/var/lib/cutover", or "$XDG_STATE_HOME/cutover" when not root.
	StateDir string `yaml:"state_dir"`
	// TrustedProxies lists CIDRs whose X-Forwarded-* and X-Request-Id headers are kept.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// AccessLog turns the per-request access log on (default true).
	AccessLog *bool `yaml:"access_log"`
	// Metrics holds the optional Prometheus metrics listener.
	Metrics Metrics `yaml:"metrics"`
	// Cluster says how this host coordinates with the other hosts of its
	// fleet (default: local, a fleet of one).
	Cluster Cluster `yaml:"cluster"`
	// Services maps a service name to its definition; order of the file is kept in ServiceOrder.
	Services map[string]*Service `yaml:"services"`
	// ServiceOrder lists service names in file order.
	ServiceOrder []string `yaml:"-"`

	// src records where each field came from in the file (nil when built in code).
	src *source
}

// Listen holds the proxy's public listeners. At least one of HTTP or HTTPS is set.
type Listen struct {
	// HTTP is the plain listener address (default ":80" as root, ":8000" otherwise). h2c is served on it too.
	HTTP string `yaml:"http"`
	// HTTPS is the TLS listener address; requires TLS.
	HTTPS string `yaml:"https"`
	// TLS names the certificate and key files for HTTPS.
	TLS TLS `yaml:"tls"`
	// ACME obtains and renews the HTTPS certificates from an ACME CA
	// instead of files (nil: off).
	ACME *ACME `yaml:"acme"`
	// ReadHeaderTimeout bounds how long a client may take to send headers (default 10s).
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	// IdleTimeout bounds an idle keep-alive connection (default 120s).
	IdleTimeout Duration `yaml:"idle_timeout"`
	// MaxHeaderBytes bounds request headers (default 64 KiB).
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// BodyReadTimeout bounds the idle time between reads of a request body
	// (default 60s, as nginx's client_body_timeout; 0: none); a slower
	// client gets 408. Services may override it.
	BodyReadTimeout Duration `yaml:"body_read_timeout"`
	// MinBodyRate is the lowest request body rate in bytes per second,
	// averaged over 10 s of waiting for the client (default 500, as Apache's
	// mod_reqtimeout; 0: none); a slower client gets 408. Services may
	// override it.
	MinBodyRate int64 `yaml:"min_body_rate"`
	// MaxConnections bounds the open client connections of each listener
	// (default 10000); beyond it the oldest idle keep-alive connection is
	// closed, and a new one is refused only when none is idle.
	MaxConnections int `yaml:"max_connections"`
}

// TLS names a certificate and key file in PEM form.
type TLS struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Admin holds where the admin API listens.
type Admin struct {
	// Socket is the unix socket path (default "<state_dir>/admin.sock"), created mode 0600.
	Socket string `yaml:"socket"`
	// TCP is an optional TCP address; it requires a token.
	TCP string `yaml:"tcp"`
	// TokenFile is a file holding the bearer token for TCP (alternatively env CUTOVER_TOKEN).
	// The token must be at least MinTokenBytes long and the file mode 0600 or 0400.
	TokenFile string `yaml:"token_file"`
	// SocketGroup is a group whose members may use the socket ("" = its
	// owner only). When set, the socket is chown'd to the group, mode 0660.
	SocketGroup string `yaml:"socket_group"`
	// TLS, when set, serves the TCP listener over HTTPS with this
	// certificate and key (default: plain HTTP).
	TLS TLS `yaml:"tls"`
}

// Metrics holds the optional Prometheus metrics listener. /metrics is
// always served on the admin socket too.
type Metrics struct {
	// Listen is a TCP address, e.g. "127.0.0.1:9100", serving GET /metrics
	// only, without a token ("" = none).
	Listen string `yaml:"listen"`
}

// Runtime kinds.
const (
	RuntimeProcess = "process"
	RuntimeStatic  = "static"
	RuntimeDocker  = "docker"
)

// Strategy kinds.
const (
	StrategySwitch  = "switch"
	StrategyCanary  = "canary"
	StrategyRolling = "rolling"
)

// Service is one app behind the proxy.
type Service struct {
	// Name is the key under services.
	Name string `yaml:"-"`
	// Line is the line of the service's key in the file (0 when unknown).
	Line int `yaml:"-"`

	// Hosts lists host names routed to the service: exact, "*.example.com", or "*" (default: "*").
	Hosts []string `yaml:"hosts"`
	// PathPrefix routes only paths under this prefix (default "/"); longest prefix wins.
	PathPrefix string `yaml:"path_prefix"`
	// StripPrefix removes PathPrefix before forwarding.
	StripPrefix bool `yaml:"strip_prefix"`

	// Runtime is process, static or docker (default process).
	Runtime string `yaml:"runtime"`
	// Process configures the process runtime.
	Process *Process `yaml:"process"`
	// Static configures the static runtime.
	Static *Static `yaml:"static"`
	// Docker configures the docker runtime.
	Docker *Docker `yaml:"docker"`

	// Ports lists the ports instances may use, e.g. [8080, 8081]. Mutually exclusive with PortRange.
	Ports []int `yaml:"ports"`
	// PortRange is "FROM-TO", e.g. "9000-9009".
	PortRange string `yaml:"port_range"`
	// Host is the address instances listen on (default 127.0.0.1).
	Host string `yaml:"host"`
	// Replicas is the number of instances per version (default 1).
	Replicas int `yaml:"replicas"`

	// Health is the health check (default HTTP GET / expecting 200-399).
	Health Health `yaml:"health"`
	// Strategy is switch, canary or rolling (default switch).
	Strategy string `yaml:"strategy"`
	// Canary configures the canary strategy.
	Canary Canary `yaml:"canary"`
	// Rolling configures the rolling strategy.
	Rolling Rolling `yaml:"rolling"`

	// DrainTimeout bounds waiting for in-flight requests of a retired instance (default 30s).
	DrainTimeout Duration `yaml:"drain_timeout"`
	// DeployTimeout bounds start + health gate of a new version (default 60s).
	DeployTimeout Duration `yaml:"deploy_timeout"`
	// Standby is how long the old version stays warm after a switch (default 5m; 0 retires at once).
	Standby *Duration `yaml:"standby"`
	// StopGrace is the time between SIGTERM and SIGKILL (default 10s).
	StopGrace Duration `yaml:"stop_grace"`
	// Hooks are commands run at deploy steps.
	Hooks Hooks `yaml:"hooks"`
	// Migrations runs the service's database migrations inside its
	// deploys (nil: none); see migrations.go.
	Migrations *Migrations `yaml:"migrations"`

	// MaxBodyBytes limits request bodies (default 0: no limit); larger requests get 413.
	// The file may give a unit: 10MB (decimal) or 512KiB (binary); see ParseByteSize.
	MaxBodyBytes int64 `yaml:"max_body_bytes" unit:"bytes"`
	// BodyReadTimeout overrides listen.body_read_timeout for this service.
	BodyReadTimeout *Duration `yaml:"body_read_timeout"`
	// MinBodyRate overrides listen.min_body_rate for this service.
	MinBodyRate *int64 `yaml:"min_body_rate"`
	// BufferRequests reads each request body completely before it is sent
	// to an instance, so slow clients never hold one (for apps with a
	// thread per request). Bodies are held in memory up to max_body_bytes,
	// or 8 MiB when that is 0; larger ones get 413.
	BufferRequests bool `yaml:"buffer_requests"`
	// ResponseHeaderTimeout bounds waiting for the upstream's response headers (default 60s).
	ResponseHeaderTimeout Duration `yaml:"response_header_timeout"`
	// HTTPSRedirect answers plain-HTTP requests with 308 to the same URL
	// on https (needs listen.https).
	HTTPSRedirect bool `yaml:"https_redirect"`
	// HSTS adds Strict-Transport-Security to responses sent over HTTPS.
	HSTS *HSTS `yaml:"hsts"`
	// CanonicalHost answers requests for the service's other host names
	// with 301 to this one (e.g. www.example.com → example.com).
	CanonicalHost string `yaml:"canonical_host"`
	// Redirects answer matching paths with a redirect, in order.
	Redirects []Redirect `yaml:"redirects"`
	// Headers sets and removes request and response headers.
	Headers Headers `yaml:"headers"`
	// Compression compresses responses for clients that accept it (nil: off).
	Compression *Compression `yaml:"compression"`
	// Files serve directories under path prefixes of the service instead
	// of its instances (static assets, a single-page app).
	Files []Files `yaml:"files"`
	// Balance is round_robin or least_inflight (default least_inflight).
	Balance string `yaml:"balance"`
	// Sticky names how users are kept on one version during a split.
	Sticky Sticky `yaml:"sticky"`
	// Force lets testers pick a version with a header or cookie.
	Force Force `yaml:"force"`
}

// Process configures the process runtime. Command, Args, Env values and Dir are
// Go templates with .Version, .Port, .Service and .Instance.
type Process struct {
	Command string            `yaml:"command"`
	Args    []string          `yaml:"args"`
	Dir     string            `yaml:"dir"`
	Env     map[string]string `yaml:"env"`
	// LogMaxBytes caps each instance's log file (default 10 MiB); it takes
	// units like MaxBodyBytes.
	LogMaxBytes int64 `yaml:"log_max_bytes" unit:"bytes"`
}

// Static configures the static runtime: instances are started elsewhere.
type Static struct {
	// Targets maps a version to its host:port addresses.
	Targets map[string][]string `yaml:"targets"`
	// Address is a template ("127.0.0.1:{{.Port}}") used when Targets has no entry for a version.
	Address string `yaml:"address"`
}

// Docker configures the docker runtime.
type Docker struct {
	// Image is a template, e.g. "shop/api:{{.Version}}".
	Image string `yaml:"image"`
	// ContainerPort is the port the app listens on inside the container (bridge mode; default 8080).
	ContainerPort int               `yaml:"container_port"`
	Env           map[string]string `yaml:"env"`
	EnvFiles      []string          `yaml:"env_files"`
	Volumes       []string          `yaml:"volumes"`
	Labels        map[string]string `yaml:"labels"`
	// Network is "bridge" (default) or "host".
	Network string `yaml:"network"`
	// Memory limit, e.g. "512m".
	Memory string `yaml:"memory"`
	// CPUs limit, e.g. 1.5.
	CPUs float64 `yaml:"cpus"`
	// StopSignal (default SIGTERM).
	StopSignal string `yaml:"stop_signal"`
	// Pull is never, missing (default) or always.
	Pull string `yaml:"pull"`
	// KeepImages keeps this many unused images of the service (0: never prune).
	KeepImages int `yaml:"keep_images"`
	// Command overrides the image's CMD; templated.
	Command []string `yaml:"command"`
}

// Health is a health check.
type Health struct {
	// Type is http (default) or tcp.
	Type string `yaml:"type"`
	// Path for HTTP checks (default "/").
	Path string `yaml:"path"`
	// Port overrides the instance port (e.g. a management port).
	Port int `yaml:"port"`
	// Host sets the Host header.
	Host string `yaml:"host"`
	// Status is the accepted range, "200-399" (default) or "200".
	Status string `yaml:"status"`
	// Interval between probes (default 1s while gating, also for live checks).
	Interval Duration `yaml:"interval"`
	// Timeout of one probe (default 2s).
	Timeout Duration `yaml:"timeout"`
	// HealthyThreshold is consecutive successes to become healthy (default 2).
	HealthyThreshold int `yaml:"healthy_threshold"`
	// UnhealthyThreshold is consecutive failures to become unhealthy (default 3).
	UnhealthyThreshold int `yaml:"unhealthy_threshold"`
	// Docker also waits for the image's HEALTHCHECK (docker runtime only).
	Docker bool `yaml:"docker"`
}

// Canary configures the canary strategy.
type Canary struct {
	// Steps are traffic percentages (default [5, 25, 50, 100]).
	Steps []float64 `yaml:"steps"`
	// StepDuration is the minimum time at each step (default 30s).
	StepDuration Duration `yaml:"step_duration"`
	// MaxStepDuration bounds waiting for enough data at a step (default 10m).
	MaxStepDuration Duration `yaml:"max_step_duration"`
	// OnInsufficientData is "pause" (default: an idle canary is never rolled back for lack of data) or "fail" when MaxStepDuration passes without enough data.
	OnInsufficientData string `yaml:"on_insufficient_data"`
	// Confidence of the statistical tests (default 0.99).
	Confidence float64 `yaml:"confidence"`
	// MinRequests per version before deciding (default 100).
	MinRequests int `yaml:"min_requests"`
	// MaxErrorRateIncrease is in percentage points (default 1.0).
	MaxErrorRateIncrease float64 `yaml:"max_error_rate_increase"`
	// MaxLatencyIncrease is the tolerated relative growth of p99 and p50, in percent (default 20).
	MaxLatencyIncrease float64 `yaml:"max_latency_increase"`
	// MinLatencyIncrease is an absolute latency change never judged a regression (default 5ms).
	MinLatencyIncrease Duration `yaml:"min_latency_increase"`
}

// Rolling configures the rolling strategy.
type Rolling struct {
	// MaxSurge is how many extra instances may run during the update (default 1).
	MaxSurge int `yaml:"max_surge"`
	// MaxUnavailable is how many instances may be out of service (default 0).
	MaxUnavailable int `yaml:"max_unavailable"`
}

// Hooks are shell commands (sh -c) run at deploy steps with CUTOVER_SERVICE,
// CUTOVER_VERSION, CUTOVER_PORT, CUTOVER_PREVIOUS_VERSION in the environment.
type Hooks struct {
	// PreStart runs before the new instance starts; failure aborts the deploy.
	PreStart string `yaml:"pre_start"`
	// PostHealthy runs after the health gate passes, before the switch; failure aborts the deploy.
	PostHealthy string `yaml:"post_healthy"`
	// PostSwitch runs after traffic moved; failure is reported only.
	PostSwitch string `yaml:"post_switch"`
	// PostRetire runs after the old instance is retired; failure is reported only.
	PostRetire string `yaml:"post_retire"`
	// Timeout bounds each hook (default 60s).
	Timeout Duration `yaml:"timeout"`
}

// Sticky names how users are kept on one version during a split.
type Sticky struct {
	// Cookie set by the proxy (default "cutover_bucket").
	Cookie string `yaml:"cookie"`
	// Header, if set, keys assignment on this request header (e.g. X-User-Id) before the cookie.
	Header string `yaml:"header"`
}

// Force lets testers pick a version.
type Force struct {
	// Header naming a version (default "X-Cutover-Version").
	Header string `yaml:"header"`
	// Cookie naming a version (default "cutover_version").
	Cookie string `yaml:"cookie"`
}
