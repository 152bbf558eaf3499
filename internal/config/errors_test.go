package config

import (
	"errors"
	"testing"
)

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "c.yaml", Line: 3, Path: "services.web.replicas", Msg: "must be at least 1", Fix: "use 1 or more"},
			"c.yaml:3: services.web.replicas: must be at least 1; use 1 or more"},
		{Error{File: "c.yaml", Path: "listen", Msg: "no listener"}, "c.yaml: listen: no listener"},
		{Error{Path: "services.web", Msg: "bad", Fix: "fix it"}, "services.web: bad; fix it"},
		{Error{Line: 2, Msg: "invalid YAML"}, "line 2: invalid YAML"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestErrorsJoinAndMatch(t *testing.T) {
	errs := Errors{{Line: 9, Msg: "b"}, {Line: 2, Msg: "a"}, {Line: 9, Msg: "c"}}
	errs.sortByLine()
	if got, want := errs.Error(), "line 2: a\nline 9: b\nline 9: c"; got != want {
		t.Errorf("Errors = %q, want %q", got, want)
	}
	if !errors.Is(errs, ErrInvalid) {
		t.Error("Errors does not match ErrInvalid")
	}
	if Errors(nil).orNil() != nil {
		t.Error("empty Errors should be a nil error")
	}
}
