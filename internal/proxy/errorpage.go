package proxy

import (
	"net/http"
	"strconv"
	"strings"
)

// errorPage is a prebuilt response body for one proxy-generated status.
type errorPage struct {
	text, json       []byte
	textLen, jsonLen []string
}

func newErrorPage(status int, msg string) *errorPage {
	text := strconv.Itoa(status) + " " + http.StatusText(status) + ": " + msg + "\n"
	json := `{"error":` + strconv.Quote(msg) + `,"status":` + strconv.Itoa(status) + "}\n"
	return &errorPage{
		text:    []byte(text),
		json:    []byte(json),
		textLen: []string{strconv.Itoa(len(text))},
		jsonLen: []string{strconv.Itoa(len(json))},
	}
}

// Proxy-generated responses.
var (
	pageNotFound    = newErrorPage(http.StatusNotFound, "no service for this host and path")
	pageTooLarge    = newErrorPage(http.StatusRequestEntityTooLarge, "request body too large")
	pageBadGateway  = newErrorPage(http.StatusBadGateway, "upstream unreachable")
	pageUnavailable = newErrorPage(http.StatusServiceUnavailable, "no upstream available")
	pageTimeout     = newErrorPage(http.StatusGatewayTimeout, "upstream timed out")
	pageDrained     = newErrorPage(http.StatusGatewayTimeout, "upstream drained before responding")
	pageUpgrade     = newErrorPage(http.StatusBadGateway, "upstream refused the protocol upgrade")
	pageBadBody     = newErrorPage(http.StatusBadRequest, "request body could not be read")
	pageBodyTimeout = newErrorPage(http.StatusRequestTimeout, "request body arrived too slowly")
	pageBadPath     = newErrorPage(http.StatusBadRequest, "request path cannot be normalised safely")

	textContentType = []string{"text/plain; charset=utf-8"}
	jsonContentType = []string{"application/json"}
	noSniff         = []string{"nosniff"}
	noStore         = []string{"no-store"}
	connClose       = []string{"close"}
)

// writeError writes a proxy-generated error: JSON when the client accepts
// application/json, else short text.
func writeError(w http.ResponseWriter, r *http.Request, status int, page *errorPage) {
	h := w.Header()
	body, n := page.text, page.textLen
	h["Content-Type"] = textContentType
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		body, n = page.json, page.jsonLen
		h["Content-Type"] = jsonContentType
	}
	h["Content-Length"] = n
	h["X-Content-Type-Options"] = noSniff
	h["Cache-Control"] = noStore
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
