package config

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/template"
)

// TemplateData is what the templated fields (process command, args, dir and
// env values; docker image, command and env values; static address) can use.
type TemplateData struct {
	// Version is the app version being started, e.g. "1.4.2".
	Version string
	// Port is the host port the instance must listen on.
	Port int
	// Service is the service name.
	Service string
	// Instance is the instance id chosen by the controller.
	Instance string
}

// Render expands the Go text/template text with data. A reference to an
// unknown field, or a malformed template, is an error.
func Render(text string, data TemplateData) (string, error) {
	t, err := template.New("field").Option("missingkey=error").Parse(text)
	if err != nil {
		return "", fmt.Errorf("bad template: %s", cleanTemplateError(err))
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("bad template: %s", cleanTemplateError(err))
	}
	return b.String(), nil
}

// sampleData is used to check templates at load time.
var sampleData = TemplateData{Version: "1.0.0", Port: 8080, Service: "web", Instance: "web-1.0.0-1"}

// checkTemplate reports why text is not a usable template, or "".
func checkTemplate(text string) string {
	t, err := template.New("field").Option("missingkey=error").Parse(text)
	if err == nil {
		err = t.Execute(io.Discard, sampleData)
	}
	if err != nil {
		return cleanTemplateError(err)
	}
	return ""
}

var (
	tmplPrefix  = regexp.MustCompile(`^template: field:\d+(:\d+)?: (executing "field" at <[^>]*>: )?`)
	tmplNoField = regexp.MustCompile(`can't evaluate field (\w+) in type config\.TemplateData`)
)

// cleanTemplateError strips text/template's location prefix, which names
// an internal template rather than anything the user wrote.
func cleanTemplateError(err error) string {
	msg := tmplPrefix.ReplaceAllString(err.Error(), "")
	if m := tmplNoField.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("unknown field .%s", m[1])
	}
	return msg
}
