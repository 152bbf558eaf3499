// Command sampleimage is the entry point of the sample app's container
// image: it runs the sample app, or with the single argument "healthcheck"
// probes the app's /healthz on $PORT (default 8080) for the image's
// HEALTHCHECK, exiting 0 when it answers 2xx.
package main

import (
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/cutover-dev/cutover/internal/sampleapp"
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == "healthcheck" {
		os.Exit(healthcheck())
	}
	os.Exit(sampleapp.Main(os.Args[1:]))
}

// healthcheck probes http://127.0.0.1:$PORT/healthz once.
func healthcheck() int {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://127.0.0.1:" + port + "/healthz")
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		fmt.Fprintln(os.Stderr, "healthcheck: status", resp.StatusCode)
		return 1
	}
	return 0
}
