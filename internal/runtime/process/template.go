package process

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/cutover-dev/cutover/internal/runtime"
)

// templateData is what Command, Args, Dir and Env values may refer to.
type templateData struct {
	Version  string
	Port     int
	Service  string
	Instance string
}

// commandLine is a rendered process definition.
type commandLine struct {
	command string
	args    []string
	dir     string
	// env is the full environment of the process.
	env []string
}

// renderCommand renders spec.Service.Process and builds the environment:
// the parent's without its CUTOVER_* variables (which may hold cutover's
// admin token), then PORT and CUTOVER_VERSION, CUTOVER_SERVICE,
// CUTOVER_INSTANCE (and CUTOVER_OWNER when owner is set), then the
// configured variables (which win).
func renderCommand(spec runtime.StartSpec, owner string) (commandLine, error) {
	p := spec.Service.Process
	data := templateData{Version: spec.Version, Port: spec.Port, Service: spec.Service.Name, Instance: spec.InstanceID}
	field := "services." + spec.Service.Name + ".process."

	var cl commandLine
	var err error
	if cl.command, err = render(field+"command", p.Command, data); err != nil {
		return commandLine{}, err
	}
	if strings.TrimSpace(cl.command) == "" {
		return commandLine{}, fmt.Errorf("%w: %scommand is empty; set the program to run", ErrInvalidSpec, field)
	}
	for i, a := range p.Args {
		s, err := render(fmt.Sprintf("%sargs[%d]", field, i), a, data)
		if err != nil {
			return commandLine{}, err
		}
		cl.args = append(cl.args, s)
	}
	if cl.dir, err = render(field+"dir", p.Dir, data); err != nil {
		return commandLine{}, err
	}

	cl.env = append(inheritedEnv(),
		"PORT="+strconv.Itoa(spec.Port),
		"CUTOVER_VERSION="+spec.Version,
		"CUTOVER_SERVICE="+spec.Service.Name,
		"CUTOVER_INSTANCE="+spec.InstanceID,
	)
	if owner != "" {
		cl.env = append(cl.env, OwnerEnv+"="+owner)
	}
	keys := make([]string, 0, len(p.Env))
	for k := range p.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return commandLine{}, fmt.Errorf("%w: %senv: %q is not a valid variable name", ErrInvalidSpec, field, k)
		}
		v, err := render(field+"env."+k, p.Env[k], data)
		if err != nil {
			return commandLine{}, err
		}
		cl.env = append(cl.env, k+"="+v)
	}
	return cl, nil
}

// render executes text as a template named after its config field.
func render(field, text string, data templateData) (string, error) {
	if !strings.Contains(text, "{{") {
		return text, nil
	}
	t, err := template.New(field).Option("missingkey=error").Parse(text)
	if err != nil {
		return "", fmt.Errorf("%w: %s %q: %v", ErrInvalidSpec, field, text, err)
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("%w: %s %q: %v (available: .Version .Port .Service .Instance)", ErrInvalidSpec, field, text, err)
	}
	return b.String(), nil
}

// inheritedEnv returns cutover's environment without its CUTOVER_* variables.
func inheritedEnv() []string {
	env := os.Environ()
	return slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "CUTOVER_") })
}
