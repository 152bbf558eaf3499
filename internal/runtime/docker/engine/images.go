package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ImageInfo is the subset of an image inspect cutover reads.
type ImageInfo struct {
	ID       string    `json:"Id"`
	RepoTags []string  `json:"RepoTags"`
	Created  time.Time `json:"Created"`
	Size     int64     `json:"Size"`
	Config   struct {
		Labels      map[string]string `json:"Labels"`
		Healthcheck *struct {
			Test []string `json:"Test"`
		} `json:"Healthcheck"`
	} `json:"Config"`
}

// ImageInspect returns an image by reference or id; the error matches
// ErrNotFound when the engine does not have it.
func (c *Client) ImageInspect(ctx context.Context, ref string) (ImageInfo, error) {
	var info ImageInfo
	resp, err := c.call(ctx, "image inspect", http.MethodGet, "/images/"+ref+"/json", nil, nil)
	if err != nil {
		return info, err
	}
	err = decode("image inspect", resp, &info)
	return info, err
}

// ImageSummary is one entry of an image list.
type ImageSummary struct {
	ID       string            `json:"Id"`
	RepoTags []string          `json:"RepoTags"`
	Created  int64             `json:"Created"` // unix seconds
	Labels   map[string]string `json:"Labels"`
}

// ImageListOptions filters ImageList.
type ImageListOptions struct {
	// Reference keeps images matching a reference pattern, e.g. "shop/api"
	// (every tag of that repository).
	Reference string
	// Labels keeps images carrying every "key" or "key=value" given.
	Labels []string
}

// ImageList lists tagged images.
func (c *Client) ImageList(ctx context.Context, opts ImageListOptions) ([]ImageSummary, error) {
	f := map[string][]string{}
	if opts.Reference != "" {
		f["reference"] = []string{opts.Reference}
	}
	if len(opts.Labels) > 0 {
		f["label"] = opts.Labels
	}
	q := url.Values{}
	if len(f) > 0 {
		s, err := filterQuery(f)
		if err != nil {
			return nil, fmt.Errorf("docker image list: %w", err)
		}
		q.Set("filters", s)
	}
	resp, err := c.call(ctx, "image list", http.MethodGet, "/images/json", q, nil)
	if err != nil {
		return nil, err
	}
	var out []ImageSummary
	err = decode("image list", resp, &out)
	return out, err
}

// ImageRemove removes an image reference. Removing a tag of an image that
// has other tags only untags it. Without force, an image used by a container
// is refused with an error matching ErrConflict.
func (c *Client) ImageRemove(ctx context.Context, ref string, force bool) error {
	q := url.Values{"force": {strconv.FormatBool(force)}}
	resp, err := c.call(ctx, "image remove", http.MethodDelete, "/images/"+ref, q, nil)
	if err != nil {
		return err
	}
	drain(resp)
	return nil
}

// ImagePull pulls ref ("repo:tag" or "repo@digest"; a missing tag means
// "latest") from its registry, anonymously, and waits for the pull to end.
func (c *Client) ImagePull(ctx context.Context, ref string) error {
	repo, tag := SplitReference(ref)
	q := url.Values{"fromImage": {repo}}
	if tag != "" {
		q.Set("tag", tag)
	}
	resp, err := c.call(ctx, "image pull", http.MethodPost, "/images/create", q, nil)
	if err != nil {
		return err
	}
	defer drain(resp)
	_, err = readMessages("image pull", resp.Body)
	return err
}

// BuildOptions configures ImageBuild.
type BuildOptions struct {
	// Tags name the built image ("repo:tag").
	Tags []string
	// Labels are added to the image.
	Labels map[string]string
	// Dockerfile is the path of the Dockerfile inside the context (default "Dockerfile").
	Dockerfile string
}

// ImageBuild builds an image from a tar build context with the engine's
// classic builder and returns the new image id. The build output is read
// and discarded; a failing step is returned as an *Error holding the
// builder's message.
func (c *Client) ImageBuild(ctx context.Context, buildContext io.Reader, opts BuildOptions) (string, error) {
	q := url.Values{"rm": {"1"}, "forcerm": {"1"}}
	for _, t := range opts.Tags {
		q.Add("t", t)
	}
	if opts.Dockerfile != "" {
		q.Set("dockerfile", opts.Dockerfile)
	}
	if len(opts.Labels) > 0 {
		b, err := json.Marshal(opts.Labels)
		if err != nil {
			return "", fmt.Errorf("docker image build: %w", err)
		}
		q.Set("labels", string(b))
	}
	hdr := http.Header{"Content-Type": {"application/x-tar"}}
	resp, err := c.callRaw(ctx, "image build", http.MethodPost, "/build", q, buildContext, hdr)
	if err != nil {
		return "", err
	}
	defer drain(resp)
	return readMessages("image build", resp.Body)
}

// SplitReference splits an image reference into repository and tag (or
// digest, for "repo@sha256:..."). A port in the registry host is not taken
// for a tag: "localhost:5000/app" has no tag.
func SplitReference(ref string) (repo, tag string) {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		return ref[:i], ref[i+1:]
	}
	i := strings.LastIndexByte(ref, ':')
	if i < 0 || strings.Contains(ref[i+1:], "/") {
		return ref, ""
	}
	return ref[:i], ref[i+1:]
}

// ImageTag adds the reference target ("repo:tag") to the image source.
func (c *Client) ImageTag(ctx context.Context, source, target string) error {
	repo, tag := SplitReference(target)
	q := url.Values{"repo": {repo}}
	if tag != "" {
		q.Set("tag", tag)
	}
	resp, err := c.call(ctx, "image tag", http.MethodPost, "/images/"+source+"/tag", q, nil)
	if err != nil {
		return err
	}
	drain(resp)
	return nil
}
