// Command deploy measures cutover's deploy path on one host, end to end:
// how long after the health gate passes every new request reaches the new
// version, how fast a rollback to the warm standby takes effect, and how
// much memory `cutover serve` uses idle and under load. It writes a
// Markdown report and the raw numbers as JSON. bench/deploy/run.sh builds
// and runs it.
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
	"syscall"
	"time"
)

// options are the command-line settings.
type options struct {
	bin, wrk, out, rawOut, work, commit string
	deploys, rollbacks, probes, conns   int
	load, settle                        time.Duration
}

func parseFlags() (options, error) {
	var o options
	flag.StringVar(&o.bin, "bin", "", "cutover binary to benchmark (required)")
	flag.StringVar(&o.wrk, "wrk", "wrk", "wrk binary for the memory-under-load run")
	flag.StringVar(&o.out, "out", "bench/DEPLOY.md", "Markdown report path")
	flag.StringVar(&o.rawOut, "raw", "bench/deploy/results.json", "raw results path (JSON)")
	flag.StringVar(&o.work, "work", os.TempDir(), "scratch directory for config, state and logs")
	flag.StringVar(&o.commit, "commit", "unknown", "commit the binary was built from, for the report")
	flag.IntVar(&o.deploys, "deploys", 100, "deploys measured for the switch latency")
	flag.IntVar(&o.rollbacks, "rollbacks", 100, "rollbacks to the warm standby measured (each after its own deploy)")
	flag.IntVar(&o.probes, "probes", 2, "closed-loop probe clients, each on one keep-alive connection")
	flag.IntVar(&o.conns, "conns", 64, "wrk keep-alive connections for the memory-under-load run")
	flag.DurationVar(&o.load, "load", 20*time.Second, "length of the memory-under-load run (whole seconds)")
	flag.DurationVar(&o.settle, "settle", 100*time.Millisecond, "probing time after an operation ends before the next starts")
	flag.Parse()
	switch {
	case o.bin == "":
		return o, errors.New("-bin is required")
	case o.deploys < 1 || o.rollbacks < 0 || o.probes < 1 || o.conns < 1:
		return o, errors.New("-deploys and -probes and -conns must be at least 1, -rollbacks at least 0")
	case o.load < time.Second:
		return o, errors.New("-load must be at least 1s")
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
	res, err := run(ctx, log, o)
	if err != nil {
		log.Error("benchmark failed", "err", err)
		os.Exit(1)
	}
	raw, _ := json.MarshalIndent(res, "", " ")
	if err := os.WriteFile(o.rawOut, raw, 0o644); err != nil {
		log.Error("write raw results", "err", err)
		os.Exit(1)
	}
	if err := os.WriteFile(o.out, []byte(report(res)), 0o644); err != nil {
		log.Error("write report", "err", err)
		os.Exit(1)
	}
	log.Info("report written", "path", o.out, "raw", o.rawOut)
}

// maxConsecutiveFailures ends a phase when operations keep failing.
const maxConsecutiveFailures = 5

// run starts cutover serve and runs the three measurements in order:
// memory idle and under load (before the deploy runs, so that VmHWM is the
// load's peak), then deploys, then deploy+rollback pairs with the probe
// running throughout.
func run(ctx context.Context, log *slog.Logger, o options) (*results, error) {
	res := newResults(o)
	srv, err := startServer(ctx, o.bin, o.work)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := srv.stop(); err != nil {
			log.Warn("cutover serve exit", "err", err)
		}
	}()
	res.ServeLog = srv.dir + "/serve.log"
	log.Info("cutover serve ready", "pid", srv.pid(), "proxy", srv.proxy, "dir", srv.dir)

	if _, err := runDeploy(ctx, srv.api, "v1"); err != nil {
		return nil, err
	}
	time.Sleep(2 * time.Second) // let startup garbage be collected before the idle reading
	if res.IdleMem, err = readMem(srv.pid()); err != nil {
		return nil, err
	}
	res.mark("idle")
	log.Info("idle memory", "rss_kb", res.IdleMem.RSS, "hwm_kb", res.IdleMem.HWM)

	if res.Load, err = loadUnderWrk(o.wrk, "http://"+srv.proxy+"/", o.conns, o.load, srv.pid()); err != nil {
		return nil, err
	}
	res.mark("load")
	log.Info("memory under load", "max_rss_kb", res.Load.MaxRSS, "hwm_kb", res.Load.HWM, "req_per_sec", res.Load.ReqPerSec)
	time.Sleep(time.Second)

	p := startProber("http://"+srv.proxy+"/probe", o.probes)
	probeStart := time.Now()
	time.Sleep(300 * time.Millisecond)
	var ops []*opRun
	fails := 0
	note := func(r opRun, err error) bool {
		if err != nil {
			res.Errors = append(res.Errors, err.Error())
			log.Warn("operation failed", "kind", r.Kind, "version", r.Version, "err", err)
			fails++
		} else {
			fails = 0
		}
		time.Sleep(o.settle)
		return err == nil
	}
	for i := 1; i <= o.deploys && fails < maxConsecutiveFailures && ctx.Err() == nil; i++ {
		r, err := runDeploy(ctx, srv.api, fmt.Sprintf("d%03d", i))
		if note(r, err) {
			res.Deploys = append(res.Deploys, &r)
		}
		ops = append(ops, &r)
		if i%20 == 0 {
			log.Info("deploys", "done", i, "loadavg", loadavg())
		}
	}
	res.mark("deploys")
	fails = 0
	st, err := srv.api.Status(ctx, service)
	if err != nil || st.Active == nil {
		return nil, fmt.Errorf("status before the rollback runs: %v (active %v)", err, st.Active)
	}
	standby := st.Active.Version
	for i := 1; i <= o.rollbacks && fails < maxConsecutiveFailures && ctx.Err() == nil; i++ {
		d, err := runDeploy(ctx, srv.api, fmt.Sprintf("r%03d", i))
		ok := note(d, err)
		ops = append(ops, &d)
		if !ok {
			continue
		}
		res.RollbackDeploys = append(res.RollbackDeploys, &d)
		r, err := runRollback(ctx, srv.api, standby)
		if note(r, err) {
			res.Rollbacks = append(res.Rollbacks, &r)
		}
		ops = append(ops, &r)
		if i%20 == 0 {
			log.Info("rollbacks", "done", i, "loadavg", loadavg())
		}
	}
	res.mark("rollbacks")
	probeEnd := time.Now()
	recs := p.stop()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if res.EndMem, err = readMem(srv.pid()); err != nil {
		return nil, err
	}
	res.analyse(ops, recs, probeEnd.Sub(probeStart))
	if res.AtomicWriteMS, err = atomicWriteTimes(srv.dir, 100, 10*time.Millisecond); err != nil {
		return nil, fmt.Errorf("time atomic writes: %w", err)
	}
	res.mark("end")
	return res, nil
}
