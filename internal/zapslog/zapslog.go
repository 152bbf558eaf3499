// Package zapslog sends the logs of libraries that log with zap (the etcd
// server, the ACME client) to cutover's slog logger, in cutover's format:
// the message with an optional prefix, the fields as sorted attributes,
// and a component attribute naming the library.
package zapslog

import (
	"context"
	"log/slog"
	"slices"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Options configures a Core.
type Options struct {
	// Component is the value of the component attribute ("" for none).
	Component string
	// Prefix starts every message (e.g. "etcd: ").
	Prefix string
	// Level is the lowest level passed on (default Info).
	Level zapcore.Level
	// Quiet lists messages dropped whatever their level.
	Quiet []string
}

// Core is a zapcore.Core writing to a slog logger.
type Core struct {
	log    *slog.Logger
	opts   Options
	fields []zapcore.Field
}

// New returns a Core writing to log (slog.Default() when nil).
func New(log *slog.Logger, opts Options) *Core { return &Core{log: log, opts: opts} }

// Logger returns a zap logger writing to log.
func Logger(log *slog.Logger, opts Options) *zap.Logger { return zap.New(New(log, opts)) }

func (c *Core) logger() *slog.Logger {
	if c.log == nil {
		return slog.Default()
	}
	return c.log
}

// Enabled implements zapcore.LevelEnabler.
func (c *Core) Enabled(l zapcore.Level) bool { return l >= c.opts.Level }

// With implements zapcore.Core.
func (c *Core) With(fs []zapcore.Field) zapcore.Core {
	out := *c
	out.fields = append(slices.Clip(c.fields), fs...)
	return &out
}

// Check implements zapcore.Core.
func (c *Core) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) && !slices.Contains(c.opts.Quiet, e.Message) {
		return ce.AddCore(e, c)
	}
	return ce
}

// Write implements zapcore.Core.
func (c *Core) Write(e zapcore.Entry, fs []zapcore.Field) error {
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
	if c.opts.Component != "" {
		attrs = append(attrs, "component", c.opts.Component)
	}
	for _, k := range keys {
		attrs = append(attrs, k, enc.Fields[k])
	}
	c.logger().Log(context.Background(), Level(e.Level), c.opts.Prefix+e.Message, attrs...)
	return nil
}

// Sync implements zapcore.Core.
func (c *Core) Sync() error { return nil }

// Level maps a zap level to slog's.
func Level(l zapcore.Level) slog.Level {
	switch {
	case l >= zapcore.ErrorLevel:
		return slog.LevelError
	case l == zapcore.WarnLevel:
		return slog.LevelWarn
	case l < zapcore.InfoLevel:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}
