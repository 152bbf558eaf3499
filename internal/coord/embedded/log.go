package embedded

import (
	"context"
	"log/slog"
	"slices"

	"go.uber.org/zap/zapcore"
)

// slogCore sends the etcd server's zap logs to cutover's slog logger, as
// "etcd: <message>" with the fields as attributes and component=etcd.
type slogCore struct {
	log    *slog.Logger
	level  zapcore.Level
	fields []zapcore.Field
}

// quiet are etcd messages that say nothing to a cutover user.
var quiet = []string{
	// cutover serves clients on loopback only.
	"Running http and grpc server on single port. This is not recommended for production.",
	// cutover uses no etcd authentication (peers may use TLS).
	"simple token is not cryptographically signed",
}

func (c *slogCore) logger() *slog.Logger {
	if c.log == nil {
		return slog.Default()
	}
	return c.log
}

// Enabled implements zapcore.LevelEnabler.
func (c *slogCore) Enabled(l zapcore.Level) bool { return l >= c.level }

// With implements zapcore.Core.
func (c *slogCore) With(fs []zapcore.Field) zapcore.Core {
	out := *c
	out.fields = append(slices.Clip(c.fields), fs...)
	return &out
}

// Check implements zapcore.Core.
func (c *slogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) && !slices.Contains(quiet, e.Message) {
		return ce.AddCore(e, c)
	}
	return ce
}

// Write implements zapcore.Core.
func (c *slogCore) Write(e zapcore.Entry, fs []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range c.fields {
		f.AddTo(enc)
	}
	for _, f := range fs {
		f.AddTo(enc)
	}
	keys := make([]string, 0, len(enc.Fields))
	for k := range enc.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	attrs := make([]any, 0, 2+2*len(keys))
	attrs = append(attrs, "component", "etcd")
	for _, k := range keys {
		attrs = append(attrs, k, enc.Fields[k])
	}
	level := slog.LevelInfo
	switch {
	case e.Level >= zapcore.ErrorLevel:
		level = slog.LevelError
	case e.Level == zapcore.WarnLevel:
		level = slog.LevelWarn
	case e.Level < zapcore.InfoLevel:
		level = slog.LevelDebug
	}
	c.logger().Log(context.Background(), level, "etcd: "+e.Message, attrs...)
	return nil
}

// Sync implements zapcore.Core.
func (c *slogCore) Sync() error { return nil }
