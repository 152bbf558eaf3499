// Command loadcheck sends load through a proxy and counts every request that
// did not succeed, printing the totals as one JSON object on stdout.
//
// Every request is a POST with a body and no GetBody, so Go's transport can
// never retry it silently: a connection closed under a request is a failure,
// as it would be for a real client. Half of the workers (by default) reuse
// keep-alive connections, the other half open a new connection per request.
// A request succeeds only with a 2xx status and a body naming a backend.
//
//	loadcheck -url http://127.0.0.1:8081/ -duration 10s -c 64
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	var o Options
	flag.StringVar(&o.URL, "url", "http://127.0.0.1:8081/", "target URL")
	flag.DurationVar(&o.Duration, "duration", 10*time.Second, "how long to send load")
	flag.IntVar(&o.Workers, "c", 64, "concurrent workers")
	flag.Float64Var(&o.FreshShare, "fresh", 0.5, "share of workers that open a new connection per request")
	flag.DurationVar(&o.Timeout, "timeout", 10*time.Second, "per-request timeout")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	res, err := Run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadcheck:", err)
		os.Exit(2)
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "loadcheck:", err)
		os.Exit(1)
	}
}
