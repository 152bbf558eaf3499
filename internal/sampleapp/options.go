package sampleapp

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"
)

// options are the sample app's settings, read from flags with environment fallbacks.
type options struct {
	version         string
	port            int
	addr            string
	startDelay      time.Duration
	unhealthy       bool
	errorRate       float64
	randomErrors    bool
	latency         time.Duration
	crashAfter      time.Duration
	exitImmediately bool
	ignoreSIGTERM   bool
	dbQuery         string
	dbQueryFile     string
	dbEnv           string
}

// parseOptions reads args. --version falls back to $CUTOVER_VERSION then "v1";
// --port falls back to $PORT then 8080. Port 0 picks any free port.
func parseOptions(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	defVersion := getenv("CUTOVER_VERSION")
	if defVersion == "" {
		defVersion = "v1"
	}
	defPort := 8080
	if p := getenv("PORT"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			return options{}, fmt.Errorf("environment PORT=%q is not a port number", p)
		}
		defPort = n
	}

	var o options
	fs := flag.NewFlagSet("sample-app", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.version, "version", defVersion, "version reported in responses (env CUTOVER_VERSION)")
	fs.IntVar(&o.port, "port", defPort, "port to listen on, 0 for any (env PORT)")
	fs.StringVar(&o.addr, "addr", "127.0.0.1", "host address to listen on")
	fs.DurationVar(&o.startDelay, "start-delay", 0, "sleep this long before listening, like a slow boot")
	fs.BoolVar(&o.unhealthy, "unhealthy", false, "answer /healthz with 503 forever")
	fs.Float64Var(&o.errorRate, "error-rate", 0, "fraction (0-1) of responses that are 500")
	fs.BoolVar(&o.randomErrors, "random-errors", false, "fail each request independently with probability --error-rate, like real traffic (default: evenly spread, exactly that fraction)")
	fs.DurationVar(&o.latency, "latency", 0, "latency added to each response")
	fs.DurationVar(&o.crashAfter, "crash-after", 0, "exit with code 1 after serving this long")
	fs.BoolVar(&o.exitImmediately, "exit-immediately", false, "exit with code 3 at once, like a broken build")
	fs.BoolVar(&o.ignoreSIGTERM, "ignore-sigterm", false, "ignore SIGTERM, like an app that only a SIGKILL stops")
	fs.StringVar(&o.dbQuery, "db-query", "", "run this SQL on PostgreSQL for every request of the catch-all endpoint; an error answers 500")
	fs.StringVar(&o.dbQueryFile, "db-query-file", "", "read --db-query from this file")
	fs.StringVar(&o.dbEnv, "db-dsn-env", "DATABASE_URL", "environment variable holding the PostgreSQL DSN for --db-query")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if o.dbQueryFile != "" {
		b, err := os.ReadFile(o.dbQueryFile)
		if err != nil {
			return options{}, fmt.Errorf("--db-query-file: %v", err)
		}
		o.dbQuery = string(b)
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return o, o.validate()
}

// validate checks value ranges.
func (o options) validate() error {
	var errs []error
	if o.port < 0 || o.port > 65535 {
		errs = append(errs, fmt.Errorf("--port %d out of range 0-65535", o.port))
	}
	if o.errorRate < 0 || o.errorRate > 1 {
		errs = append(errs, fmt.Errorf("--error-rate %g out of range 0-1", o.errorRate))
	}
	for name, d := range map[string]time.Duration{
		"--start-delay": o.startDelay, "--latency": o.latency, "--crash-after": o.crashAfter,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s %s must not be negative", name, d))
		}
	}
	return errors.Join(errs...)
}
