// Command fleet measures cutover's fleet deploy on one machine: several
// `cutover serve` processes (each its own state dir, admin socket, proxy
// port and app ports) on one etcd, deploying one version after another
// through a different host each time. Per deploy it records the time from
// the commit to the last host's switch (as the coordinator reports it and
// as the hosts' records in etcd tell), the whole deploy, and the
// mixed-version window probe clients see sending to every host. It can
// add the results of the in-process benchmark with simulated hosts
// (BenchmarkFleetCommit in internal/fleet) to its report. It writes a
// Markdown report and the raw numbers as JSON; bench/fleet/run.sh builds
// and runs everything.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the command-line settings.
type options struct {
	bin, etcd, out, rawOut, work, tmpfsWork, commit, simDir, simCommand, command, records string
	sizes                                                                                 []int
	deploys, probes                                                                       int
	settle, leaseTTL                                                                      time.Duration
	rerender                                                                              bool
}

func parseFlags() (options, error) {
	var o options
	var sizes string
	flag.StringVar(&o.bin, "bin", "", "cutover binary to benchmark (required)")
	flag.StringVar(&o.etcd, "etcd", "etcd", "etcd binary (Debian: etcd-server)")
	flag.StringVar(&o.out, "out", "bench/fleet/RESULTS.md", "Markdown report path")
	flag.StringVar(&o.rawOut, "raw", "bench/fleet/results.json", "raw results path (JSON)")
	flag.StringVar(&o.work, "work", os.TempDir(), "scratch directory for etcd data, configs, state and logs")
	flag.StringVar(&o.tmpfsWork, "tmpfs-work", "", "if set, a directory on tmpfs: every fleet size runs a second time with etcd's data and the hosts' state there (no fsync cost)")
	flag.StringVar(&o.commit, "commit", "unknown", "commit the binary was built from, for the report")
	flag.StringVar(&sizes, "hosts", "5,20", "fleet sizes to run, comma-separated")
	flag.IntVar(&o.deploys, "deploys", 20, "measured deploys per fleet size")
	flag.IntVar(&o.probes, "probes", 2, "probe workers, each sending to every host in turn")
	flag.DurationVar(&o.settle, "settle", 200*time.Millisecond, "pause after every host is ready again before the next deploy")
	flag.DurationVar(&o.leaseTTL, "lease-ttl", 5*time.Second, "the hosts' cluster.lease_ttl")
	flag.StringVar(&o.simDir, "sim", "", "directory with the sim-*.json files BenchmarkFleetCommit wrote, to include")
	flag.StringVar(&o.simCommand, "sim-command", "", "the command that ran BenchmarkFleetCommit, for the report")
	flag.StringVar(&o.command, "command", "", "the command line of the whole run, for the report")
	flag.BoolVar(&o.rerender, "rerender", false, "only render the report again from the raw results at -raw (no run)")
	flag.StringVar(&o.records, "records", "", "if set, write every probe request as CSV to this path plus a .<hosts>-<storage>.csv suffix")
	flag.Parse()
	for _, s := range strings.Split(sizes, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return o, fmt.Errorf("-hosts: %q is not a host count", s)
		}
		o.sizes = append(o.sizes, n)
	}
	switch {
	case o.rerender:
	case o.bin == "":
		return o, errors.New("-bin is required")
	case o.deploys < 1 || o.probes < 1:
		return o, errors.New("-deploys and -probes must be at least 1")
	}
	return o, nil
}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	o, err := parseFlags()
	if err != nil {
		log.Error("bad flags", "err", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var res *results
	if o.rerender {
		b, err := os.ReadFile(o.rawOut)
		if err == nil {
			res = &results{}
			err = json.Unmarshal(b, res)
		}
		if err != nil {
			log.Error("read raw results", "err", err)
			os.Exit(1)
		}
	} else {
		if res, err = run(ctx, log, o); err != nil {
			log.Error("benchmark failed", "err", err)
			os.Exit(1)
		}
		raw, _ := json.MarshalIndent(res, "", " ")
		if err := os.WriteFile(o.rawOut, append(raw, '\n'), 0o644); err != nil {
			log.Error("write raw results", "err", err)
			os.Exit(1)
		}
	}
	if err := os.WriteFile(o.out, []byte(report(res)), 0o644); err != nil {
		log.Error("write report", "err", err)
		os.Exit(1)
	}
	log.Info("report written", "path", o.out, "raw", o.rawOut)
}

func run(ctx context.Context, log *slog.Logger, o options) (*results, error) {
	etcdBin, err := lookPath(o.etcd)
	if err != nil {
		return nil, err
	}
	res := newResults(o)
	res.EtcdVersion = etcdVersion(etcdBin)
	if o.simDir != "" {
		if res.Simulated, err = readSims(o.simDir); err != nil {
			return nil, err
		}
		res.mark("simulated (before this program)")
	}
	works := []struct{ dir, storage string }{{o.work, storageDisk}}
	if o.tmpfsWork != "" {
		works = append(works, struct{ dir, storage string }{o.tmpfsWork, storageTmpfs})
	}
	for _, w := range works {
		for _, n := range o.sizes {
			fr, err := runFleet(ctx, log, o, etcdBin, w.dir, n)
			if err != nil {
				return nil, fmt.Errorf("%d hosts (%s): %w", n, w.storage, err)
			}
			fr.Storage = w.storage
			res.Fleets = append(res.Fleets, fr)
			res.mark(fmt.Sprintf("%d processes (%s)", n, w.storage))
		}
	}
	return res, nil
}

// readSims reads the simulated-host results, smallest fleet first.
func readSims(dir string) ([]*simRun, error) {
	files, err := filepath.Glob(filepath.Join(dir, "sim-*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no sim-*.json in %s", dir)
	}
	var out []*simRun
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var s simRun
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, &s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Agents < out[j].Agents })
	return out, nil
}

// Where a fleet's etcd data and the hosts' state directories are.
const (
	storageDisk  = "disk"
	storageTmpfs = "tmpfs"
)

// maxConsecutiveFailures ends a fleet size's run when deploys keep failing.
const maxConsecutiveFailures = 3

// runFleet starts etcd and n hosts, deploys o.deploys versions one after
// another, each through the next host, with the probe running, and stops
// everything.
func runFleet(ctx context.Context, log *slog.Logger, o options, etcdBin, work string, n int) (*fleetRun, error) {
	dir, err := os.MkdirTemp(work, fmt.Sprintf("fleet-%d-", n))
	if err != nil {
		return nil, err
	}
	fr := &fleetRun{Hosts: n, Dir: dir}
	ec, err := startEtcd(ctx, etcdBin, dir)
	if err != nil {
		return nil, err
	}
	defer ec.stop()
	const prefix = "/bench-fleet/"
	t0 := time.Now()
	hosts, err := startHosts(ctx, o.bin, dir, ec.endpoint, prefix, n, o.leaseTTL)
	defer hosts.stop()
	if err != nil {
		return nil, err
	}
	obs, err := startObserver(ctx, ec.endpoint, prefix)
	if err != nil {
		return nil, err
	}
	defer obs.close()
	if err := hosts.waitReady(ctx, time.Minute); err != nil {
		return nil, err
	}
	fr.StartSeconds = time.Since(t0).Seconds()
	log.Info("fleet up", "hosts", n, "dir", dir, "seconds", fr.StartSeconds)
	pubs, err := followPublishes(hosts.hosts)
	if err != nil {
		return nil, err
	}
	defer pubs.stop()
	// The first deploy gives the service its first committed version.
	if _, err := runDeploy(ctx, hosts.hosts[0], "v0", ""); err != nil {
		return nil, fmt.Errorf("first deploy: %w", err)
	}
	if err := hosts.waitReady(ctx, time.Minute); err != nil {
		return nil, err
	}
	addrs := make([]string, n)
	for i, h := range hosts.hosts {
		addrs[i] = h.proxy
	}
	p := startProber(addrs, o.probes)
	time.Sleep(300 * time.Millisecond) // probe traffic before the first measured deploy
	hostsCPU, etcdCPU, loopStart := hosts.cpu(), processCPU(ec.cmd.Process.Pid), time.Now()
	from, fails := "v0", 0
	for i := 1; i <= o.deploys && fails < maxConsecutiveFailures && ctx.Err() == nil; i++ {
		version := fmt.Sprintf("v%d", i)
		d, err := runDeploy(ctx, hosts.hosts[i%n], version, from)
		if err == nil {
			var rec observed
			rec, err = obs.wait(ctx, d.OpID, n)
			d.setObserved(rec)
		}
		if err == nil {
			var first, last time.Time
			first, last, err = pubs.wait(ctx, d.OpID, n)
			d.FirstPublish, d.LastPublish = first.UnixNano(), last.UnixNano()
		}
		if err == nil {
			err = hosts.waitReady(ctx, time.Minute)
		}
		fr.Deploys = append(fr.Deploys, d)
		if err != nil {
			d.Error = err.Error()
			fr.Errors = append(fr.Errors, fmt.Sprintf("%s via %s: %v", version, d.Coordinator, err))
			log.Warn("deploy failed", "hosts", n, "version", version, "err", err)
			fails++
		} else {
			from, fails = version, 0
		}
		time.Sleep(o.settle) // pacing between deploys, with the probe running
		if i%5 == 0 {
			log.Info("deploys", "hosts", n, "done", i, "loadavg", loadavg())
		}
	}
	if len(fr.Deploys) > 0 {
		per := float64(len(fr.Deploys))
		used := hosts.cpu() - hostsCPU
		fr.CPUPerHostDeployMS = float64(used.Microseconds()) / 1e3 / per / float64(n)
		fr.Cores = used.Seconds() / time.Since(loopStart).Seconds()
		fr.EtcdCPUPerDeployMS = float64((processCPU(ec.cmd.Process.Pid) - etcdCPU).Microseconds()) / 1e3 / per
	}
	recs := p.stop()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if o.records != "" {
		if err := writeRecords(fmt.Sprintf("%s.%d-%s.csv", o.records, n, filepath.Base(work)), recs, hosts.hosts); err != nil {
			return nil, err
		}
	}
	fr.analyse(recs)
	return fr, nil
}
