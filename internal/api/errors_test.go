package api_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/cutover-dev/cutover/internal/api"
	"github.com/cutover-dev/cutover/internal/api/apitest"
	"github.com/cutover-dev/cutover/internal/config"
	"github.com/cutover-dev/cutover/internal/deploy"
)

func TestErrorMapping(t *testing.T) {
	configErrs := config.Errors{
		{File: "cutover.yaml", Line: 4, Path: "services.web.ports", Msg: "no ports", Fix: "add ports: [8080, 8081]"},
		{File: "cutover.yaml", Line: 9, Path: "services.web.strategy", Msg: `unknown strategy "blue"`},
	}
	tests := []struct {
		name     string
		err      error
		status   int
		code     string
		sentinel error
	}{
		{"unknown service", fmt.Errorf("%w: %q", deploy.ErrUnknownService, "web"), 404, api.CodeUnknownService, deploy.ErrUnknownService},
		{"busy", fmt.Errorf("web: %w (deploy v2)", deploy.ErrBusy), 409, api.CodeBusy, deploy.ErrBusy},
		{"invalid", fmt.Errorf("%w: version has a space", deploy.ErrInvalid), 400, api.CodeInvalid, deploy.ErrInvalid},
		{"no operation", deploy.ErrNoOperation, 409, api.CodeNoOperation, deploy.ErrNoOperation},
		{"nothing to roll back", deploy.ErrNothingToRollBack, 409, api.CodeNothingToRollBack, deploy.ErrNothingToRollBack},
		{"invalid config", fmt.Errorf("reload: %w", configErrs), 400, api.CodeInvalidConfig, config.ErrInvalid},
		{"anything else", errors.New("disk full"), 500, api.CodeInternal, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := apitest.NewFake(services()...)
			ts := startServer(t, fake, nil)
			fake.FailWith("Promote", tt.err)
			fake.FailWith("Reload", tt.err)
			for name, call := range map[string]func() error{
				"promote": func() error { return ts.unix.Promote(t.Context(), "web") },
				"reload": func() error {
					_, err := ts.unix.Reload(t.Context(), deploy.ReloadOptions{})
					return err
				},
			} {
				err := call()
				ae, ok := errors.AsType[*api.Error](err)
				if !ok {
					t.Fatalf("%s: err = %v (%T), want *api.Error", name, err, err)
				}
				wantMsg := tt.err.Error()
				if tt.code == api.CodeInvalidConfig {
					wantMsg = "the config file has 2 problems; the running config is unchanged"
				}
				if ae.Status != tt.status || ae.Code != tt.code || ae.Message != wantMsg {
					t.Errorf("%s: got %d %s %q, want %d %s %q", name, ae.Status, ae.Code, ae.Message,
						tt.status, tt.code, wantMsg)
				}
				if tt.sentinel != nil && !errors.Is(err, tt.sentinel) {
					t.Errorf("%s: errors.Is(err, %v) = false", name, tt.sentinel)
				}
				if tt.code == api.CodeInvalidConfig && !reflect.DeepEqual(ae.Details,
					[]string{configErrs[0].Error(), configErrs[1].Error()}) {
					t.Errorf("%s: details = %q, want one per config error", name, ae.Details)
				}
			}
		})
	}
}
