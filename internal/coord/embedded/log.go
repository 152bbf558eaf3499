package embedded

import (
	"log/slog"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/cutover-dev/cutover/internal/zapslog"
)

// quiet are etcd messages that say nothing to a cutover user.
var quiet = []string{
	// cutover serves clients on loopback only.
	"Running http and grpc server on single port. This is not recommended for production.",
	// cutover uses no etcd authentication (peers may use TLS).
	"simple token is not cryptographically signed",
}

// etcdLogger sends the etcd server's zap logs at warning and above to
// log, as "etcd: <message>" with the fields as attributes and
// component=etcd.
func etcdLogger(log *slog.Logger) *zap.Logger {
	return zapslog.Logger(log, zapslog.Options{Component: "etcd", Prefix: "etcd: ", Level: zapcore.WarnLevel, Quiet: quiet})
}
