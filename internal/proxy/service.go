package proxy

import (
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
)

// bucketCount is the number of user buckets; Weight percent of them go to the
// candidate set.
const bucketCount = 1_000_000

// stickyMaxAge is the lifetime of the sticky cookie in seconds (one year).
const stickyMaxAge = 365 * 24 * 3600

// service is the built form of a ServiceSpec inside one table.
type service struct {
	name string
	spec ServiceSpec
	// matchPrefix is spec.PathPrefix in the form request paths are
	// normalised to.
	matchPrefix string
	active      *targetSet
	candidate   *targetSet
	// threshold is the number of buckets (out of bucketCount) sent to the candidate.
	threshold uint64
	// files holds the open directories of spec.Files, index for index.
	files []fileRoots
}

// thresholdFor converts a weight percentage into a bucket threshold.
func thresholdFor(weight float64) uint64 {
	return uint64(math.Round(weight * bucketCount / 100))
}

// chooseSet returns the set that serves r: a forced version, else the user's
// bucket against the weight. It may set the sticky cookie on w.
func (s *service) chooseSet(w http.ResponseWriter, r *http.Request) *targetSet {
	cand := s.candidate
	if cand == nil {
		return s.active
	}
	if v := r.Header.Get(s.spec.ForceHeader); v != "" {
		if set := s.setByVersion(v); set != nil {
			return set
		}
	}
	var cookies []*http.Cookie
	if len(r.Header["Cookie"]) > 0 {
		cookies = r.Cookies()
		if v := cookieValue(cookies, s.spec.ForceCookie); v != "" {
			if set := s.setByVersion(v); set != nil {
				return set
			}
		}
	}
	if s.threshold == 0 {
		return s.active
	}
	if s.threshold >= bucketCount {
		return cand
	}
	if h := s.spec.StickyHeader; h != "" {
		if v := r.Header.Get(h); v != "" {
			return s.byBucket(v)
		}
	}
	if v := cookieValue(cookies, s.spec.StickyCookie); v != "" {
		return s.byBucket(v)
	}
	v := newBucketValue()
	http.SetCookie(w, &http.Cookie{
		Name:     s.spec.StickyCookie,
		Value:    v,
		Path:     "/",
		MaxAge:   stickyMaxAge,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
	return s.byBucket(v)
}

// setByVersion returns the set of the named version, or nil.
func (s *service) setByVersion(v string) *targetSet {
	switch {
	case v == s.active.version:
		return s.active
	case s.candidate != nil && v == s.candidate.version:
		return s.candidate
	}
	return nil
}

// byBucket maps a user key to a set. Raising the weight only moves users
// from the active set to the candidate, never back.
func (s *service) byBucket(key string) *targetSet {
	if bucketOf(key) < s.threshold {
		return s.candidate
	}
	return s.active
}

// bucketOf hashes key (FNV-1a, 64 bit) into [0, bucketCount).
func bucketOf(key string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	return h % bucketCount
}

// newBucketValue returns a random sticky cookie value.
func newBucketValue() string {
	return strconv.FormatUint(rand.Uint64(), 36)
}

func cookieValue(cookies []*http.Cookie, name string) string {
	for _, c := range cookies {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}
