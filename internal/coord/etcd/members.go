package etcd

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
)

// Member is one member of the etcd cluster.
type Member struct {
	ID uint64 `json:"id"`
	// Name is empty for a member that was added and has not started yet.
	Name       string   `json:"name"`
	PeerURLs   []string `json:"peer_urls"`
	ClientURLs []string `json:"client_urls,omitempty"`
	Learner    bool     `json:"learner,omitempty"`
}

// IDString is the member id as etcd prints it (hex).
func (m Member) IDString() string { return fmt.Sprintf("%x", m.ID) }

func toMembers(ms []*etcdserverpb.Member) []Member {
	out := make([]Member, 0, len(ms))
	for _, m := range ms {
		out = append(out, Member{ID: m.ID, Name: m.Name, PeerURLs: m.PeerURLs, ClientURLs: m.ClientURLs, Learner: m.IsLearner})
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name+a.IDString(), b.Name+b.IDString()) })
	return out
}

// Members lists the cluster's members.
func (s *Store) Members(ctx context.Context) ([]Member, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.c.MemberList(ctx)
	if err != nil {
		return nil, mapErr(err)
	}
	return toMembers(resp.Members), nil
}

// AddMember adds a voting member reachable at peerURL and returns it with
// the members after the change. The new member must then start with the
// full member list and initial cluster state "existing".
func (s *Store) AddMember(ctx context.Context, peerURL string) (Member, []Member, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.c.MemberAdd(ctx, []string{peerURL})
	if err != nil {
		return Member{}, nil, mapErr(err)
	}
	added := toMembers([]*etcdserverpb.Member{resp.Member})[0]
	return added, toMembers(resp.Members), nil
}

// RemoveMember removes the member with id from the cluster. A removed
// member stops; it can come back only as a new member with an empty data
// directory.
func (s *Store) RemoveMember(ctx context.Context, id uint64) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	_, err := s.c.MemberRemove(ctx, id)
	return mapErr(err)
}
