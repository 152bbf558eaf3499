// Package etcd is the coordination store on an etcd cluster the user
// runs, through the official client (go.etcd.io/etcd/client/v3). It works
// against etcd servers 3.4 to 3.7.
package etcd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cutover-dev/cutover/internal/coord"
)

// Options configures Open.
type Options struct {
	// Endpoints are the etcd client URLs (required).
	Endpoints []string
	// CAFile, CertFile and KeyFile set up TLS: the CA that signed the
	// servers' certificates, and an optional client certificate.
	CAFile, CertFile, KeyFile string
	// Username and Password authenticate, when set.
	Username, Password string
	// DialTimeout bounds connecting (default 5s).
	DialTimeout time.Duration
	// RequestTimeout bounds a call whose context has no deadline (default 5s).
	RequestTimeout time.Duration
	// Logger receives connection problems (default slog.Default()).
	Logger *slog.Logger
}

// Store is a coord.Store on etcd. It is safe for concurrent use.
type Store struct {
	c       *clientv3.Client
	timeout time.Duration
	log     *slog.Logger
}

var _ coord.Store = (*Store)(nil)

// Open connects to etcd and checks that it answers.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if len(opts.Endpoints) == 0 {
		return nil, errors.New("etcd: no endpoints")
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 5 * time.Second
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	cfg := clientv3.Config{
		Endpoints:            opts.Endpoints,
		DialTimeout:          opts.DialTimeout,
		DialKeepAliveTime:    2 * time.Second,
		DialKeepAliveTimeout: 2 * time.Second,
		Username:             opts.Username,
		Password:             opts.Password,
		Logger:               zap.NewNop(),
		AutoSyncInterval:     0,
		PermitWithoutStream:  true,
	}
	if opts.CAFile != "" || opts.CertFile != "" {
		tc, err := tlsConfig(opts)
		if err != nil {
			return nil, err
		}
		cfg.TLS = tc
	}
	c, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}
	s := &Store{c: c, timeout: opts.RequestTimeout, log: opts.Logger}
	pctx, cancel := context.WithTimeout(ctx, opts.DialTimeout)
	defer cancel()
	if _, err := c.Get(pctx, "cutover-ping", clientv3.WithCountOnly()); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("etcd %v does not answer: %w", opts.Endpoints, mapErr(err))
	}
	return s, nil
}

func tlsConfig(opts Options) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if opts.CAFile != "" {
		pem, err := os.ReadFile(opts.CAFile)
		if err != nil {
			return nil, fmt.Errorf("etcd CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("etcd CA %s: no certificate found", opts.CAFile)
		}
		tc.RootCAs = pool
	}
	if opts.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(opts.CertFile, opts.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("etcd client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func (s *Store) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.timeout)
}

// mapErr turns client errors into the coord sentinels.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, rpctypes.ErrLeaseNotFound) || errors.Is(err, rpctypes.ErrGRPCLeaseNotFound):
		return fmt.Errorf("%w: %v", coord.ErrLeaseNotFound, err)
	case errors.Is(err, rpctypes.ErrTooManyOps) || errors.Is(err, rpctypes.ErrGRPCTooManyOps):
		return fmt.Errorf("%w: %v", coord.ErrTooManyOps, err)
	case errors.Is(err, rpctypes.ErrCompacted) || errors.Is(err, rpctypes.ErrGRPCCompacted):
		return fmt.Errorf("%w: %v", coord.ErrCompacted, err)
	case errors.Is(err, context.Canceled):
		return err
	}
	if st, ok := status.FromError(err); ok {
		switch st.Code() {
		case codes.NotFound:
			if st.Message() == rpctypes.ErrGRPCLeaseNotFound.Error() {
				return fmt.Errorf("%w: %v", coord.ErrLeaseNotFound, err)
			}
		case codes.Unavailable, codes.DeadlineExceeded:
			return fmt.Errorf("%w: %v", coord.ErrUnavailable, err)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %v", coord.ErrUnavailable, err)
	}
	return err
}

func toKV(kv *mvccpb.KeyValue) coord.KV {
	return coord.KV{
		Key: string(kv.Key), Value: kv.Value, CreateRevision: kv.CreateRevision,
		ModRevision: kv.ModRevision, Version: kv.Version, Lease: coord.LeaseID(kv.Lease),
	}
}

// Get implements coord.Store.
func (s *Store) Get(ctx context.Context, key string) (coord.KV, bool, int64, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.c.Get(ctx, key)
	if err != nil {
		return coord.KV{}, false, 0, mapErr(err)
	}
	if len(resp.Kvs) == 0 {
		return coord.KV{}, false, resp.Header.Revision, nil
	}
	return toKV(resp.Kvs[0]), true, resp.Header.Revision, nil
}

// List implements coord.Store.
func (s *Store) List(ctx context.Context, prefix string) ([]coord.KV, int64, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.c.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend))
	if err != nil {
		return nil, 0, mapErr(err)
	}
	out := make([]coord.KV, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out = append(out, toKV(kv))
	}
	return out, resp.Header.Revision, nil
}

func toCmp(c coord.Cmp) clientv3.Cmp {
	var op string
	switch c.Op {
	case coord.Equal:
		op = "="
	case coord.NotEqual:
		op = "!="
	case coord.Less:
		op = "<"
	case coord.Greater:
		op = ">"
	}
	switch c.Target {
	case coord.CmpModRevision:
		return clientv3.Compare(clientv3.ModRevision(c.Key), op, c.Rev)
	case coord.CmpCreateRevision:
		return clientv3.Compare(clientv3.CreateRevision(c.Key), op, c.Rev)
	default:
		return clientv3.Compare(clientv3.Value(c.Key), op, string(c.Value))
	}
}

func toOp(o coord.Op) clientv3.Op {
	switch o.Kind {
	case coord.OpDelete:
		return clientv3.OpDelete(o.Key)
	case coord.OpDeletePrefix:
		return clientv3.OpDelete(o.Key, clientv3.WithPrefix())
	default:
		if o.Lease != 0 {
			return clientv3.OpPut(o.Key, string(o.Value), clientv3.WithLease(clientv3.LeaseID(o.Lease)))
		}
		return clientv3.OpPut(o.Key, string(o.Value))
	}
}

// Txn implements coord.Store.
func (s *Store) Txn(ctx context.Context, t coord.Txn) (coord.TxnResult, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	cmps := make([]clientv3.Cmp, len(t.If))
	for i, c := range t.If {
		cmps[i] = toCmp(c)
	}
	then := make([]clientv3.Op, len(t.Then))
	for i, o := range t.Then {
		then[i] = toOp(o)
	}
	els := make([]clientv3.Op, len(t.Else))
	for i, o := range t.Else {
		els[i] = toOp(o)
	}
	resp, err := s.c.Txn(ctx).If(cmps...).Then(then...).Else(els...).Commit()
	if err != nil {
		return coord.TxnResult{}, mapErr(err)
	}
	return coord.TxnResult{Succeeded: resp.Succeeded, Revision: resp.Header.Revision}, nil
}

// Watch implements coord.Store. It requires a leader, so a watch on a
// member cut off from the rest of the cluster ends with ErrUnavailable
// instead of going silent.
func (s *Store) Watch(ctx context.Context, prefix string, fromRev int64) <-chan coord.WatchResponse {
	out := make(chan coord.WatchResponse, 16)
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	opts := []clientv3.OpOption{clientv3.WithPrefix()}
	if fromRev <= 0 {
		// "From now on" is the revision after the current one, so every
		// write after Watch returns is delivered.
		gctx, gcancel := s.ctx(ctx)
		if resp, err := s.c.Get(gctx, "cutover-rev", clientv3.WithCountOnly()); err == nil {
			fromRev = resp.Header.Revision + 1
		}
		gcancel()
	}
	if fromRev > 0 {
		opts = append(opts, clientv3.WithRev(fromRev))
	}
	wch := s.c.Watch(wctx, prefix, opts...)
	go func() {
		defer close(out)
		defer cancel()
		send := func(r coord.WatchResponse) bool {
			select {
			case out <- r:
				return true
			case <-ctx.Done():
				return false
			}
		}
		for resp := range wch {
			if resp.CompactRevision != 0 {
				send(coord.WatchResponse{Err: fmt.Errorf("%w: watch from %d, compacted at %d", coord.ErrCompacted, fromRev, resp.CompactRevision)})
				return
			}
			if err := resp.Err(); err != nil {
				send(coord.WatchResponse{Err: mapErr(err)})
				return
			}
			if resp.IsProgressNotify() && len(resp.Events) == 0 {
				continue
			}
			// One response per revision (one transaction), as the local
			// backend delivers them.
			var r *coord.WatchResponse
			for _, ev := range resp.Events {
				e := coord.Event{Type: coord.EventPut, KV: toKV(ev.Kv)}
				if ev.Type == clientv3.EventTypeDelete {
					e.Type = coord.EventDelete
					e.KV.Value = nil
				}
				if r != nil && r.Revision != e.KV.ModRevision {
					if !send(*r) {
						return
					}
					r = nil
				}
				if r == nil {
					r = &coord.WatchResponse{Revision: e.KV.ModRevision}
				}
				r.Events = append(r.Events, e)
			}
			if r != nil && !send(*r) {
				return
			}
		}
		if ctx.Err() != nil {
			send(coord.WatchResponse{Err: ctx.Err()})
			return
		}
		send(coord.WatchResponse{Err: fmt.Errorf("%w: watch closed", coord.ErrUnavailable)})
	}()
	return out
}

// Grant implements coord.Store. etcd rounds the TTL up to whole seconds.
func (s *Store) Grant(ctx context.Context, ttl time.Duration) (coord.LeaseID, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	secs := int64((ttl + time.Second - 1) / time.Second)
	resp, err := s.c.Grant(ctx, secs)
	if err != nil {
		return 0, mapErr(err)
	}
	return coord.LeaseID(resp.ID), nil
}

// KeepAliveOnce implements coord.Store.
func (s *Store) KeepAliveOnce(ctx context.Context, id coord.LeaseID) (time.Duration, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.c.KeepAliveOnce(ctx, clientv3.LeaseID(id))
	if err != nil {
		return 0, mapErr(err)
	}
	if resp.TTL <= 0 {
		return 0, coord.ErrLeaseNotFound
	}
	return time.Duration(resp.TTL) * time.Second, nil
}

// Revoke implements coord.Store.
func (s *Store) Revoke(ctx context.Context, id coord.LeaseID) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	_, err := s.c.Revoke(ctx, clientv3.LeaseID(id))
	if err = mapErr(err); errors.Is(err, coord.ErrLeaseNotFound) {
		return nil
	}
	return err
}

// Compact discards revisions before rev (for tests of compaction).
func (s *Store) Compact(ctx context.Context, rev int64) error {
	_, err := s.c.Compact(ctx, rev)
	return mapErr(err)
}

// Close implements coord.Store.
func (s *Store) Close() error { return s.c.Close() }
