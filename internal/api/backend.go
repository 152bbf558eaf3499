package api

import (
	"context"

	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/deploy"
	"github.com/cutover-dev/cutover/internal/store"
)

// Backend is what the admin API serves: the deploy controller. Implementations
// must be safe for concurrent use; the server calls them from one goroutine
// per request.
type Backend interface {
	// Deploy starts deploying req.Version and returns the operation id at once;
	// progress is followed with Subscribe.
	Deploy(ctx context.Context, req deploy.DeployRequest) (opID string, err error)
	// Rollback starts a rollback and returns the operation id at once.
	Rollback(ctx context.Context, req deploy.RollbackRequest) (opID string, err error)
	// Promote finishes the service's canary or standby window now.
	Promote(ctx context.Context, service string) error
	// Abort stops the service's operation in progress, leaving traffic where it was.
	Abort(ctx context.Context, service string) error
	// Pause holds the service's canary at its current weight.
	Pause(ctx context.Context, service string) error
	// Resume continues a paused canary.
	Resume(ctx context.Context, service string) error
	// SetWeight sets the canary's traffic percentage (0 to 100).
	SetWeight(ctx context.Context, service string, percent float64) error
	// Status returns one service's status.
	Status(ctx context.Context, service string) (deploy.ServiceStatus, error)
	// StatusAll returns every service's status in config order.
	StatusAll(ctx context.Context) ([]deploy.ServiceStatus, error)
	// History returns up to limit newest finished operations of a service,
	// newest first (limit ≤ 0: all).
	History(ctx context.Context, service string, limit int) ([]store.HistoryRecord, error)
	// Subscribe replays the events of operation opID so far, then follows
	// it; the channel is closed after EventDone or when cancel is called.
	// opID "" follows every operation of the service (service "": of all
	// services) until cancel is called. cancel must be called once the
	// caller stops reading.
	Subscribe(service, opID string) (events <-chan deploy.Event, cancel func(), err error)
	// Reload re-reads the config file and applies it, returning what
	// changed (with the keys that need a restart). An invalid file yields
	// config.Errors and changes nothing; so does a file that drops a live
	// service unless opts.AllowRemove (deploy.ErrLiveRemoval).
	Reload(ctx context.Context, opts deploy.ReloadOptions) (config.Changes, error)
	// Config returns the config the server runs with.
	Config(ctx context.Context) (*config.Config, error)
}
