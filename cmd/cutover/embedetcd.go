//go:build embedetcd

package main

// The embedetcd build links the etcd server so that the hosts of a fleet
// can form the etcd cluster themselves (cluster.backend: embedded).

import (
	"github.com/cutover-dev/cutover/internal/coord/embedded"
	"github.com/cutover-dev/cutover/internal/server"
)

func init() { server.UseEmbeddedEtcd(embedded.StartFromConfig) }
