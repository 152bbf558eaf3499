// Command cutover is a reverse proxy and deploy controller for zero-downtime deploys.
package main

import (
	"os"

	"github.com/cutover-dev/cutover/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
