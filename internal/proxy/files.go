package proxy

import (
	"errors"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
)

// FileRoute serves the files of a directory under a path prefix of a
// service, one directory per version: a user gets the files of the
// version that serves them (so a page of v2 never loads v1's scripts), and
// a file missing there is looked for in the Fallback directories (the
// previous version's, for pages loaded before a switch).
type FileRoute struct {
	// Prefix is the request path prefix, ending in "/" (before
	// StripPrefix): "/assets/" serves /assets/app.js from <root>/app.js.
	Prefix string
	// Roots maps a version to its directory.
	Roots map[string]string
	// Fallback lists directories tried, in order, when the version's own
	// has no such file.
	Fallback []string
	// Index is the file served for a directory ("": none, 404).
	Index string
	// SPA serves Prefix+Index for paths that name no file (a single-page
	// app's client-side routes).
	SPA bool
	// Cache sets Cache-Control by the first rule that matches.
	Cache []CacheRule
}

// CacheRule sets Cache-Control on files whose name (a pattern without
// "/") or path below the route's prefix (a pattern with "/") matches
// Match, as path.Match does.
type CacheRule struct {
	Match string
	Value string
}

// precompressed lists the sibling files served instead of a file when the
// client accepts their encoding, in order of preference.
var precompressed = []struct{ enc, ext string }{{"br", ".br"}, {"zstd", ".zst"}, {"gzip", ".gz"}}

// fileRoute returns the service's file route for path and its open
// directories, if any.
func (s *service) fileRoute(p string) (*FileRoute, *fileRoots) {
	for i := range s.spec.Files {
		fr := &s.spec.Files[i]
		if strings.HasPrefix(p, fr.Prefix) || p+"/" == fr.Prefix {
			return fr, &s.files[i]
		}
	}
	return nil, nil
}

// rootIdle is how long an open directory no routing table names stays open.
const rootIdle = 10 * time.Minute

// cachedRoot is a directory kept open for a file route, so that a request
// opens its file with one openat instead of opening the directory too.
type cachedRoot struct {
	dir  string
	root *os.Root // nil when the directory could not be opened
	used time.Time
}

// fileRoots are the open directories of one FileRoute.
type fileRoots struct {
	byVersion map[string]*cachedRoot
	fallback  []*cachedRoot
}

// compileFilesLocked opens (or finds open) the directories of spec's file
// routes, and closes those no table has named for rootIdle.
func (p *Proxy) compileFilesLocked(spec *ServiceSpec) []fileRoots {
	if len(spec.Files) == 0 {
		return nil
	}
	now := time.Now()
	for dir, cr := range p.roots {
		if now.Sub(cr.used) > rootIdle {
			if cr.root != nil {
				_ = cr.root.Close()
			}
			delete(p.roots, dir)
		}
	}
	get := func(dir string) *cachedRoot {
		if p.roots == nil {
			p.roots = map[string]*cachedRoot{}
		}
		cr := p.roots[dir]
		if cr == nil || cr.root == nil {
			cr = &cachedRoot{dir: dir}
			cr.root, _ = os.OpenRoot(dir) // a missing directory is opened per request, and serves 404
			p.roots[dir] = cr
		}
		cr.used = now
		return cr
	}
	out := make([]fileRoots, len(spec.Files))
	for i, fr := range spec.Files {
		out[i].byVersion = make(map[string]*cachedRoot, len(fr.Roots))
		for v, dir := range fr.Roots {
			out[i].byVersion[v] = get(dir)
		}
		for _, dir := range fr.Fallback {
			out[i].fallback = append(out[i].fallback, get(dir))
		}
	}
	return out
}

var errNoFile = errors.New("no such file")

var (
	pageNoFile    = newErrorPage(http.StatusNotFound, "no such file")
	pageNoMethod  = newErrorPage(http.StatusMethodNotAllowed, "files are read with GET or HEAD")
	pageFileError = newErrorPage(http.StatusInternalServerError, "the file could not be read")
)

// serveFile answers r from the file route: GET and HEAD only; dotfiles,
// paths out of the root and symlinks leaving it are 404.
func (p *Proxy) serveFile(w http.ResponseWriter, r *http.Request, ex *exchange, fr *FileRoute, dirs *fileRoots) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header()["Allow"] = []string{"GET, HEAD"}
		ex.status = http.StatusMethodNotAllowed
		writeError(w, r, ex.status, pageNoMethod)
		return
	}
	if ex.path+"/" == fr.Prefix {
		p.redirectSlash(w, r, ex)
		return
	}
	rel := strings.TrimPrefix(ex.path, fr.Prefix)
	for seg := range strings.SplitSeq(rel, "/") {
		if strings.HasPrefix(seg, ".") {
			ex.status = http.StatusNotFound
			writeError(w, r, ex.status, pageNoFile)
			return
		}
	}
	roots := make([]*cachedRoot, 0, 1+len(dirs.fallback))
	if ex.set != nil {
		if cr := dirs.byVersion[ex.set.version]; cr != nil {
			roots = append(roots, cr)
		}
	}
	roots = append(roots, dirs.fallback...)
	for _, root := range roots {
		switch err := p.tryFile(w, r, ex, fr, root, rel); {
		case err == nil:
			return
		case errors.Is(err, errIsDir):
			p.redirectSlash(w, r, ex)
			return
		case !errors.Is(err, errNoFile):
			p.log.Warn("static file", "service", ex.svc.name, "root", root.dir, "path", rel, "err", err)
			ex.status = http.StatusInternalServerError
			writeError(w, r, ex.status, pageFileError)
			return
		}
	}
	if fr.SPA && fr.Index != "" && len(roots) > 0 {
		if err := p.tryFile(w, r, ex, fr, roots[0], fr.Index); err == nil {
			return
		}
	}
	ex.status = http.StatusNotFound
	writeError(w, r, ex.status, pageNoFile)
}

var errIsDir = errors.New("a directory")

// redirectSlash answers a directory's path without its slash (nginx does
// the same).
func (p *Proxy) redirectSlash(w http.ResponseWriter, r *http.Request, ex *exchange) {
	to := r.URL.EscapedPath() + "/"
	if r.URL.RawQuery != "" {
		to += "?" + r.URL.RawQuery
	}
	redirect(w, r, ex, http.StatusMovedPermanently, to)
}

// tryFile serves rel from root: the file, the index of a directory, or a
// precompressed sibling the client accepts. It returns errNoFile when
// there is nothing to serve there, errIsDir for a directory named without
// its slash.
func (p *Proxy) tryFile(w http.ResponseWriter, r *http.Request, ex *exchange, fr *FileRoute, root *cachedRoot, rel string) error {
	name := rel
	if name == "" || strings.HasSuffix(name, "/") {
		if fr.Index == "" {
			return errNoFile
		}
		name += fr.Index
	}
	f, fi, err := openInRoot(root, name)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		f.Close()
		if fr.Index == "" {
			return errNoFile
		}
		return errIsDir
	}
	h := w.Header()
	ctype := mime.TypeByExtension(path.Ext(name))
	if enc, cf, cfi := p.sibling(r, root, name); cf != nil {
		f.Close()
		f, fi = cf, cfi
		h["Content-Encoding"] = []string{enc}
	}
	defer f.Close()
	if len(precompressedAvailable(r)) > 0 || h["Content-Encoding"] != nil {
		h["Vary"] = append(h["Vary"], "Accept-Encoding")
	}
	if ctype != "" {
		h["Content-Type"] = []string{ctype}
	}
	enc := ""
	if ce := h["Content-Encoding"]; ce != nil {
		enc = "-" + ce[0]
	}
	h["Etag"] = []string{etagOf(fi, enc)}
	for _, c := range fr.Cache {
		if cacheMatch(c.Match, name) {
			h["Cache-Control"] = []string{c.Value}
			break
		}
	}
	ex.status = http.StatusOK
	sw := &statusWriter{ResponseWriter: w, status: &ex.status}
	http.ServeContent(sw, r, name, fi.ModTime(), f)
	ex.bytes = sw.n
	return nil
}

// openInRoot opens name below root without leaving it (through "..",
// an absolute path or a symlink).
func openInRoot(root *cachedRoot, name string) (*os.File, fs.FileInfo, error) {
	var f *os.File
	var err error
	if root.root != nil {
		f, err = root.root.Open(name)
	}
	if root.root == nil || errors.Is(err, os.ErrClosed) {
		f, err = os.OpenInRoot(root.dir, name)
	}
	if err != nil {
		var pe *os.PathError
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || errors.As(err, &pe) {
			return nil, nil, errNoFile
		}
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() && !fi.IsDir() {
		f.Close()
		return nil, nil, errNoFile
	}
	return f, fi, nil
}

// sibling opens the best precompressed sibling of name the client
// accepts (nil when none).
func (p *Proxy) sibling(r *http.Request, root *cachedRoot, name string) (string, *os.File, fs.FileInfo) {
	for _, enc := range precompressedAvailable(r) {
		for _, pc := range precompressed {
			if pc.enc != enc {
				continue
			}
			f, fi, err := openInRoot(root, name+pc.ext)
			if err == nil && !fi.IsDir() {
				return enc, f, fi
			}
			if f != nil {
				f.Close()
			}
		}
	}
	return "", nil, nil
}

// precompressedAvailable lists the encodings of precompressed in the
// order they are preferred, keeping those r's Accept-Encoding allows. A
// Range request gets none: ranges are of the file itself.
func precompressedAvailable(r *http.Request) []string {
	ae := r.Header.Get("Accept-Encoding")
	if ae == "" || r.Header.Get("Range") != "" {
		return nil
	}
	var out []string
	for _, pc := range precompressed {
		if acceptsEncoding(ae, pc.enc) {
			out = append(out, pc.enc)
		}
	}
	return out
}

// acceptsEncoding reports whether an Accept-Encoding value allows enc
// (named, or "*", with a q-value above 0).
func acceptsEncoding(ae, enc string) bool {
	star := false
	for part := range strings.SplitSeq(ae, ",") {
		tok, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		tok = strings.TrimSpace(tok)
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				q = f
			}
		}
		switch {
		case strings.EqualFold(tok, enc):
			return q > 0
		case tok == "*":
			star = q > 0
		}
	}
	return star
}

func etagOf(fi fs.FileInfo, enc string) string {
	b := make([]byte, 0, 40)
	b = append(b, '"')
	b = strconv.AppendInt(b, fi.ModTime().UnixNano(), 16)
	b = append(b, '-')
	b = strconv.AppendInt(b, fi.Size(), 16)
	b = append(b, enc...)
	return string(append(b, '"'))
}

func cacheMatch(pattern, name string) bool {
	target := path.Base(name)
	if strings.Contains(pattern, "/") {
		target = name
	}
	ok, _ := path.Match(pattern, target)
	return ok
}

// statusWriter records the status and bytes http.ServeContent writes.
type statusWriter struct {
	http.ResponseWriter
	status *int
	n      int64
}

func (w *statusWriter) WriteHeader(code int) {
	*w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

// ReadFrom keeps the sendfile path of the connection's writer.
func (w *statusWriter) ReadFrom(src io.Reader) (int64, error) {
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err := rf.ReadFrom(src)
		w.n += n
		return n, err
	}
	return io.Copy(struct{ io.Writer }{w}, src)
}
