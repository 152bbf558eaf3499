package main

import (
	"bufio"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// results is everything the report shows; it is also written as JSON.
type results struct {
	Date        time.Time   `json:"date"`
	Commit      string      `json:"commit"`
	Command     string      `json:"command,omitempty"`
	Machine     machine     `json:"machine"`
	GoVersion   string      `json:"go_version"`
	EtcdVersion string      `json:"etcd_version"`
	Loadavg     []phaseLoad `json:"loadavg"`
	Settings    struct {
		Deploys  int           `json:"deploys"`
		Probes   int           `json:"probes"`
		Settle   time.Duration `json:"settle_ns"`
		LeaseTTL time.Duration `json:"lease_ttl_ns"`
	} `json:"settings"`
	Fleets     []*fleetRun `json:"processes"`
	Simulated  []*simRun   `json:"simulated,omitempty"`
	SimCommand string      `json:"sim_command,omitempty"`
}

// fleetRun is one fleet of `cutover serve` processes.
type fleetRun struct {
	Hosts int `json:"hosts"`
	// Storage is where etcd's data and the hosts' state were: disk or tmpfs.
	Storage      string  `json:"storage"`
	Dir          string  `json:"dir"`
	StartSeconds float64 `json:"start_seconds"`
	// CPUPerHostDeployMS is the serve processes' CPU time over the
	// measured deploys (with the pauses between them), per deploy and
	// host; EtcdCPUPerDeployMS etcd's, per deploy.
	CPUPerHostDeployMS float64 `json:"cpu_ms_per_host_deploy"`
	EtcdCPUPerDeployMS float64 `json:"etcd_cpu_ms_per_deploy"`
	// Cores is the serve processes' CPU time divided by the wall time of
	// the measured deploys: how many cores the hosts kept busy on average.
	Cores   float64      `json:"cores"`
	Deploys []*deployRun `json:"deploys"`
	Errors  []string     `json:"errors,omitempty"`
	Probe   probeSum     `json:"probe"`
}

// probeSum describes a fleet's probe traffic as a whole.
type probeSum struct {
	Requests int `json:"requests"`
	Failures int `json:"failures"`
	// HostGap is the time between two requests to the same host.
	HostGapP50US float64 `json:"host_gap_p50_us"`
	HostGapP99US float64 `json:"host_gap_p99_us"`
	RTTP50US     float64 `json:"rtt_p50_us"`
	RTTP99US     float64 `json:"rtt_p99_us"`
}

// simRun is one fleet size of BenchmarkFleetCommit (internal/fleet), as
// it writes it.
type simRun struct {
	Agents             int           `json:"agents"`
	Deploys            []simDepl     `json:"deploys"`
	SingleTxnRefused   string        `json:"single_txn_refused,omitempty"`
	CPUPerHostDeployMS float64       `json:"cpu_ms_per_host_deploy"`
	Cores              float64       `json:"cores"`
	LeaseTTL           time.Duration `json:"lease_ttl_ns"`
	Failed             []string      `json:"failed,omitempty"`
}

type simDepl struct {
	ID          string `json:"id"`
	Hosts       int    `json:"hosts"`
	SwitchUS    int64  `json:"switch_us"`
	TxnToLastUS int64  `json:"txn_to_last_us"`
	SpreadUS    int64  `json:"spread_us"`
	PrepareUS   int64  `json:"prepare_us"`
	TotalUS     int64  `json:"total_us"`
	Checks      int    `json:"checks"`
}

// phaseLoad is the load average when a phase ended.
type phaseLoad struct {
	Phase   string `json:"phase"`
	Loadavg string `json:"loadavg"`
}

// machine describes where the numbers were taken.
type machine struct {
	NProc  int    `json:"nproc"`
	CPU    string `json:"cpu"`
	Kernel string `json:"kernel"`
	OS     string `json:"os"`
	MemMB  int    `json:"mem_mb"`
}

func newResults(o options) *results {
	r := &results{Date: time.Now().UTC(), Commit: o.commit, Command: o.command, GoVersion: runtime.Version(), SimCommand: o.simCommand}
	r.Settings.Deploys, r.Settings.Probes, r.Settings.Settle, r.Settings.LeaseTTL = o.deploys, o.probes, o.settle, o.leaseTTL
	r.Machine = readMachine()
	r.mark("start")
	return r
}

// mark records the load average at the end of a phase.
func (r *results) mark(phase string) {
	r.Loadavg = append(r.Loadavg, phaseLoad{phase, loadavg()})
}

func readMachine() machine {
	m := machine{NProc: runtime.NumCPU(), CPU: "unknown", OS: "unknown"}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		n := 0
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			switch k = strings.TrimSpace(k); {
			case ok && k == "processor":
				n++
			case ok && k == "model name" && m.CPU == "unknown":
				m.CPU = strings.TrimSpace(v)
			}
		}
		f.Close()
		if n > 0 {
			m.NProc = n
		}
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				m.OS = strings.Trim(v, `"`)
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.Atoi(f[1]); err == nil {
					m.MemMB = kb / 1024
				}
			}
		}
	}
	return m
}

// loadavg returns the first three fields of /proc/loadavg.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// analyse gives every deploy its probe window (up to the next deploy's
// call, the last one up to the probe's end) and summarises the probe.
func (fr *fleetRun) analyse(recs []record) {
	if len(recs) == 0 {
		return
	}
	end := recs[len(recs)-1].send + 1
	for i, d := range fr.Deploys {
		to := end
		if i+1 < len(fr.Deploys) {
			to = fr.Deploys[i+1].Call
		}
		d.Crossing = findCrossing(recs, d.Call, to, d.From, d.Version)
		if d.FirstPublish != 0 {
			d.Crossing.PauseNS = longestPause(recs, d.FirstPublish, d.LastPublish)
		}
	}
	fr.Probe.Requests = len(recs)
	rtts := make([]float64, 0, len(recs))
	for _, r := range recs {
		if !r.ok {
			fr.Probe.Failures++
		}
		rtts = append(rtts, float64(r.recv-r.send)/1e3)
	}
	g, t := summarise(hostGaps(recs, fr.Hosts)), summarise(rtts)
	fr.Probe.HostGapP50US, fr.Probe.HostGapP99US = g.P50, g.P99
	fr.Probe.RTTP50US, fr.Probe.RTTP99US = t.P50, t.P99
}

// ok returns the deploys that completed.
func (fr *fleetRun) ok() []*deployRun {
	return slices.DeleteFunc(slices.Clone(fr.Deploys), func(d *deployRun) bool { return d.Error != "" })
}

// dist summarises a sample: count and nearest-rank percentiles.
type dist struct {
	N                       int
	Min, P50, P90, P99, Max float64
}

// summarise returns the distribution of xs (xs is not modified).
func summarise(xs []float64) dist {
	if len(xs) == 0 {
		return dist{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	q := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return dist{N: len(s), Min: s[0], P50: q(0.50), P90: q(0.90), P99: q(0.99), Max: s[len(s)-1]}
}
