// Package sampleapp is a small HTTP app used by the demo and tests: it
// reports its version and can start slowly, fail health, return errors,
// add latency or crash on request.
//
// Endpoints: GET /healthz answers 200 "ok" (503 with --unhealthy); /sse
// streams server-sent events until the client leaves; /slow?ms=1500 sleeps
// then answers; /text?size=n&type=t&chunked=1 answers n bytes of TextBody
// (for compression tests); every other path answers 200 with a JSON body
// holding version, port, path and host (POST adds the body length as
// "bytes"); with --db-query it first runs that query on PostgreSQL and
// answers 500 when it fails, like an app whose schema changed under it.
// Every response carries an X-Version header.
package sampleapp

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// shutdownTimeout bounds finishing in-flight requests after SIGTERM.
const shutdownTimeout = 10 * time.Second

// Main runs the sample app with args (without the program name) and returns
// the exit code: 0 after a graceful SIGTERM or SIGINT, 1 on a crash or
// listen error, 2 on bad flags, 3 with --exit-immediately. It logs one line
// to stdout when it starts listening, e.g. "sample-app v2 listening on
// 127.0.0.1:8081".
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return run(ctx, args, os.Getenv, os.Stdout, os.Stderr)
}

// ignoreSIGTERM makes the process ignore SIGTERM (--ignore-sigterm).
var ignoreSIGTERM = func() { signal.Ignore(syscall.SIGTERM) }

// run is Main with its surroundings passed in: cancelling ctx is the
// graceful stop signal.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	opts, err := parseOptions(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "sample-app: %v\n", err)
		return 2
	}
	if opts.exitImmediately {
		fmt.Fprintln(stderr, "sample-app: exiting with code 3 at once as asked by --exit-immediately")
		return 3
	}
	if opts.ignoreSIGTERM {
		ignoreSIGTERM()
		fmt.Fprintln(stderr, "sample-app: ignoring SIGTERM as asked by --ignore-sigterm")
	}
	if !sleep(ctx, opts.startDelay) {
		return 0
	}

	ln, err := net.Listen("tcp", net.JoinHostPort(opts.addr, strconv.Itoa(opts.port)))
	if err != nil {
		fmt.Fprintf(stderr, "sample-app: %v\n", err)
		return 1
	}
	streams, endStreams := context.WithCancel(context.Background())
	defer endStreams()
	a := &app{opts: opts, port: ln.Addr().(*net.TCPAddr).Port, streams: streams}
	if opts.dbQuery != "" {
		if a.db, err = openDB(getenv, opts.dbEnv); err != nil {
			ln.Close()
			fmt.Fprintf(stderr, "sample-app: %v\n", err)
			return 1
		}
		defer a.db.Close()
	}
	srv := &http.Server{Handler: a.handler(), ReadHeaderTimeout: 10 * time.Second}
	srv.RegisterOnShutdown(endStreams)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "sample-app %s listening on %s\n", opts.version, ln.Addr())

	var crash <-chan time.Time
	if opts.crashAfter > 0 {
		t := time.NewTimer(opts.crashAfter)
		defer t.Stop()
		crash = t.C
	}
	select {
	case <-ctx.Done():
		return shutdown(srv, served, opts.version, stdout, stderr)
	case <-crash:
		fmt.Fprintf(stderr, "sample-app: crashing with code 1 after serving %s as asked by --crash-after\n", opts.crashAfter)
		srv.Close()
		<-served
		return 1
	case err := <-served:
		fmt.Fprintf(stderr, "sample-app: serve: %v\n", err)
		return 1
	}
}

// shutdown stops accepting, waits up to shutdownTimeout for in-flight
// requests and returns the exit code.
func shutdown(srv *http.Server, served <-chan error, version string, stdout, stderr io.Writer) int {
	fmt.Fprintf(stdout, "sample-app %s shutting down\n", version)
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := srv.Shutdown(ctx)
	if err != nil {
		srv.Close()
	}
	<-served
	if err != nil {
		fmt.Fprintf(stderr, "sample-app: shutdown: %v\n", err)
		return 1
	}
	return 0
}
